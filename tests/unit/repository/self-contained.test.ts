import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A user clones this repository alone: nothing in it may read or point at a file outside it. This scans every
 * tracked file for the ways that happened before (a schema folder read from the notes folder beside the repository, docs naming
 * `/work/shared/…`, a dev container mounting `../shared`, comments citing notes that lived beside the repo).
 * `tests/integration/repository/clone.test.ts` is the behavioural half: it runs the tools in a clone with
 * nothing beside it.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const self = path.relative(repoRoot, fileURLToPath(import.meta.url));

/** Files that record what a run printed (paths of the machine that ran it): output, not pointers. */
const RECORDED_OUTPUT = [/^bench\/results\//];

/** Folders that installs and builds create inside the repository (not tracked, yet inside it). */
const GENERATED = new Set(['node_modules', 'dist', '.edge', '.tmp']);

/** Traversal probes aimed at system files (hostile-input tests) are deliberate, not pointers. */
const SYSTEM_TARGET = /^(etc|proc|dev)\//;

/** Documents that only ever lived outside the repository; a mention is fine once a tracked file has the name. */
const OUTSIDE_DOCUMENTS = ['DESIGN.md', 'STYLE.md', 'USERS.md'];

function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f.length > 0);
}

export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly text: string;
  readonly why: string;
}

/** Every place in `text` (the content of `file`, repository-relative) that reads or points outside the repository. */
export function findEscapes(file: string, text: string, tracked: ReadonlySet<string>): Finding[] {
  const findings: Finding[] = [];
  const basenames = new Set([...tracked].map((f) => path.posix.basename(f)));
  const inRepo = (rel: string): boolean => {
    const clean = rel.replace(/\/+$/, '');
    if (GENERATED.has(clean.split('/')[0] ?? '')) return true;
    return tracked.has(clean) || [...tracked].some((f) => f.startsWith(`${clean}/`) || f.endsWith(`/${clean}`) || f.includes(`/${clean}/`));
  };
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const add = (why: string): void => void findings.push({ file, line: i + 1, text: line.trim().slice(0, 160), why });
    // The development machine's folders (the repository and its siblings live under /work there).
    if (/(^|[^\w.-])\/work\//.test(line)) add('absolute path of a development machine');
    if (/\$\{localWorkspaceFolder\}\/\.\./.test(line)) add('dev container path above the workspace');
    // Relative paths: escaping from the file's own folder and naming nothing inside the repository.
    for (const m of line.matchAll(/(?<![\w./-])((?:\.\.\/)+)([\w@.-]+(?:\/[\w@.-]+)*)/g)) {
      const [token, , rest] = m as unknown as [string, string, string];
      const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(file), token));
      if (!resolved.startsWith('../') || /^\.+$/.test(rest) || SYSTEM_TARGET.test(rest)) continue;
      if (!inRepo(rest)) add(`relative path ${token} leaves the repository`);
    }
    // path.join('..', 'x', 'y') in code: the literal segments after '..' must name something in the repository.
    if (/\.(ts|js|mjs|cjs)$/.test(file)) {
      for (const m of line.matchAll(/'\.\.'((?:\s*,\s*'[\w@.-]+')+)/g)) {
        const segments = [...(m[1] ?? '').matchAll(/'([\w@.-]+)'/g)].map((s) => s[1]!).filter((s) => s !== '..');
        if (segments.length > 0 && !inRepo(segments.join('/'))) add(`path built above a folder names ${segments.join('/')}, which is not in the repository`);
      }
    }
    for (const doc of OUTSIDE_DOCUMENTS) if (new RegExp(`(^|[^\\w-])${doc.replace('.', '\\.')}`).test(line) && !basenames.has(doc)) add(`names ${doc}, which is not in the repository`);
    if (/(^|[^\w-])shared\/reference\b/.test(line) && !inRepo('shared/reference')) add('names shared/reference, which is not in the repository');
  });
  return findings;
}

describe('the repository is self-contained', () => {
  it('detects each kind of escape (the scan is real)', () => {
    const tracked = new Set(['shared/src/a.ts', 'deployment/tools/schemas/x.json', 'docs/reference/edgehub-protocol.md', 'README.md']);
    const bad = [
      ['deployment/tools/src/schemas.ts', "export const DIR = path.join('..', 'shared', 'reference', 'iot-edge-deployment-schemas');"],
      // Built from pieces, so that this file does not itself contain the escapes it lists.
      ['docs/ENGINEERING.md', `Read \`/work/shared/${'DESIGN'}.md\` first.`],
      ['deployment/edge-hub/README.md', `Facts: \`../../${'../shared'}/reference/edgehub-protocol.md\``],
      ['.devcontainer/devcontainer.json', '"mounts": ["source=${localWorkspaceFolder}/../shared,target=/x"]'],
      ['modules/x/src/a.ts', ' * see USERS.md).'],
      ['README.md', 'the notes in shared/reference/'],
    ] as const;
    for (const [file, text] of bad) assert.ok(findEscapes(file, text, tracked).length > 0, `${file}: ${text}`);
    const good = [
      ['modules/x/tsconfig.json', '{ "path": "../../shared" }'],
      ['README.md', '`tsconfig.json` referencing `../../shared`'],
      ['deployment/tools/src/schemas.ts', "path.resolve(path.dirname(here), '..', 'schemas')"],
      ['deployment/edge-hub/README.md', '[notes](../../docs/reference/edgehub-protocol.md)'],
      ['docs/x.md', 'paths like `edge-hub/.../Hub.Service/x.cs` and devices/.../messages'],
      ['modules/x/module.json', '"contextPath": "../.."'],
      ['tests/faults/x.test.ts', "const escape = '../../../../etc/passwd';"],
      ['deployment/runtime/bin/edgeml.js', "path.join(packageDir, '..', '..', 'node_modules', name)"],
    ] as const;
    for (const [file, text] of good) assert.deepEqual(findEscapes(file, text, tracked), [], `${file}: ${text}`);
  });

  it('no tracked file reads or points outside the repository', () => {
    const files = trackedFiles();
    assert.ok(files.length > 100, 'git ls-files lists the repository');
    const tracked = new Set(files);
    const findings: Finding[] = [];
    for (const file of files) {
      if (file === self || RECORDED_OUTPUT.some((r) => r.test(file))) continue;
      let content: Buffer;
      try {
        content = readFileSync(path.join(repoRoot, file));
      } catch (err: unknown) {
        // A tracked file deleted in the working tree is not content; anything else is a real failure.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      if (content.includes(0)) continue; // binary (images, models)
      findings.push(...findEscapes(file, content.toString('utf8'), tracked));
    }
    assert.deepEqual(
      findings.map((f) => `${f.file}:${f.line}: ${f.why}: ${f.text}`),
      [],
    );
  });
});
