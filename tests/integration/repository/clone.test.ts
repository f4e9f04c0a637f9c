import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * The behavioural half of "the repository is self-contained": the committed HEAD, cloned into an empty folder
 * with nothing beside it, validates its deployment manifests, generates one, and runs the CLI. Before the
 * schemas were vendored this failed: `npm run validate` read them from a folder beside the repository.
 *
 * Not done here: `npm ci` (minutes of native builds on 2 cores). The clone gets a node_modules whose
 * third-party packages are links to this checkout's installed ones, and whose @edgeml/* workspace links point
 * into the clone, exactly as npm lays them out; so every repository file that runs is the clone's own.
 * What the clone holds is the last commit: uncommitted edits are not part of it.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const exec = promisify(execFile);

async function run(file: string, args: string[], cwd: string): Promise<{ code: number; out: string }> {
  try {
    const r = await exec(file, args, { cwd, env: { ...process.env, INIT_CWD: cwd }, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, out: `${r.stdout}${r.stderr}` };
  } catch (err: unknown) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** node_modules for the clone: third-party packages linked to the installed ones, workspace links into the clone. */
async function linkDependencies(clone: string): Promise<void> {
  const manifest = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { workspaces: string[] };
  const target = path.join(clone, 'node_modules');
  await mkdir(target);
  for (const entry of await readdir(path.join(repoRoot, 'node_modules'))) {
    if (entry === '@edgeml') continue;
    await symlink(path.join(repoRoot, 'node_modules', entry), path.join(target, entry));
  }
  await mkdir(path.join(target, '@edgeml'));
  for (const link of await readdir(path.join(repoRoot, 'node_modules', '@edgeml'))) {
    // npm's workspace links are relative (../../deployment/tools): the same text points into the clone.
    const relative = await readlink(path.join(repoRoot, 'node_modules', '@edgeml', link));
    assert.ok(!path.isAbsolute(relative), `workspace link ${link} is relative`);
    await symlink(relative, path.join(target, '@edgeml', link));
  }
  for (const ws of manifest.workspaces) {
    const nested = path.join(repoRoot, ws, 'node_modules');
    if (existsSync(nested)) await symlink(nested, path.join(clone, ws, 'node_modules'));
  }
}

describe('a clone of the repository with nothing beside it', function () {
  this.timeout(240_000);
  let parent: string;
  let clone: string;

  before(async function () {
    const head = await run('git', ['rev-parse', 'HEAD'], repoRoot);
    // Checkable reason: a source tarball has no history to clone (CI and every checkout have one).
    if (head.code !== 0) {
      console.log(`      skipped: \`git rev-parse HEAD\` failed here (exit ${head.code}): a source tarball has no history to clone`);
      this.skip();
    }
    parent = await mkdtemp(path.join(tmpdir(), 'edgeml-clone-'));
    clone = path.join(parent, 'edgeml');
    const cloned = await run('git', ['clone', '--quiet', '--no-checkout', repoRoot, clone], parent);
    assert.equal(cloned.code, 0, cloned.out);
    const checkout = await run('git', ['-C', clone, 'checkout', '--quiet', head.out.trim()], parent);
    assert.equal(checkout.code, 0, checkout.out);
    await linkDependencies(clone);
    assert.deepEqual(await readdir(parent), ['edgeml'], 'nothing beside the clone');
  });

  after(async () => {
    if (parent !== undefined) await rm(parent, { recursive: true, force: true });
  });

  it('npm run validate passes on the templates and layered deployments', async () => {
    const r = await run('npm', ['run', '--silent', 'validate'], clone);
    assert.equal(r.code, 0, r.out);
    for (const file of ['deployment.template.json', 'deployment.debug.template.json', 'deployment/layered/edgeml.layered.json']) {
      assert.match(r.out, new RegExp(`${file.replace(/\./g, '\\.')} \\([\\w -]+\\): valid`), r.out);
    }
  });

  it('npm run genconfig writes a manifest that npm run validate accepts against the official deployment schema', async () => {
    const template = await readFile(path.join(clone, '.env.template'), 'utf8');
    const env = template.replace(/^(EDGEML_STORAGE_CONNECTION_STRING)=$/m, '$1=DefaultEndpointsProtocol=https;AccountName=a;AccountKey=a2V5;EndpointSuffix=core.windows.net');
    await writeFile(path.join(clone, '.env'), env);
    const gen = await run('npm', ['run', '--silent', 'genconfig'], clone);
    assert.equal(gen.code, 0, gen.out);
    const manifest = path.join(clone, 'deployment', 'config', 'deployment.amd64.json');
    assert.ok(existsSync(manifest), gen.out);
    const r = await run('npm', ['run', '--silent', 'validate', '--', manifest], clone);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /deployment\.amd64\.json \(manifest\): valid/);
  });

  it('the edgeml bin runs from the sources when there is no build', async () => {
    assert.ok(!existsSync(path.join(clone, 'deployment', 'runtime', 'dist')), 'the clone has no build');
    const r = await run(process.execPath, [path.join(clone, 'deployment', 'runtime', 'bin', 'edgeml.js'), 'status'], clone);
    assert.equal(r.code, 3, r.out);
    assert.ok(r.out.includes(path.join(clone, '.edge')), `the default work folder is the clone's: ${r.out}`);
  });
});
