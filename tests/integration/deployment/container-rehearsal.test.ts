import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { argumentList, copiesWholeStage, copyInstructions, envOf, npmCiCommand, parseStages, splitFlags, workdirAt, type Stage } from '@edgeml/deploy-tools';
import { REPO_ROOT, SUITE_MODULES } from '../../unit/deployment/paths.js';

const run = promisify(execFile);

/**
 * Container-build rehearsal, without a container engine: for each module, read the runtime stage of
 * Dockerfile.amd64, copy into an empty folder exactly what that stage COPYs (from the build context, from
 * the build stage's output, which is the host's `tsc -b` output at the same paths, and from a dependencies
 * stage it copies wholesale, rehearsed the same way), run the production `npm ci …` there, then start the
 * stage's CMD with `--self-check` (imports every dependency, loads native
 * addons, validates the default config, exits). A file the stage forgets to copy, or a dependency the
 * production install leaves out, fails here as it would in the image.
 *
 * Differences from a real build, and why:
 * - `--prefer-offline` is added: the lock has no `resolved` URLs (omit-lockfile-registry-resolved), so npm
 *   needs each package's registry document and the local cache does not hold them all; with
 *   `--offline` npm fails with ENOTCACHED. Tarballs come from the cache, the rest from the npm registry.
 * - The inferencer's GPU stage asks for onnxruntime-node's CUDA provider binaries (the CUDA 13 build, under the
 *   install flag named cuda12), which come from NuGet, not reachable here: ONNXRUNTIME_NODE_INSTALL=skip (which
 *   the install script reads before the flag) skips only that download; the bundled CPU binaries are installed
 *   and loaded as in the image. The stage's `ldd` check of the provider library is not rehearsed (no library).
 * - Native addons without a reachable prebuilt binary (better-sqlite3: its prebuilds are on GitHub) compile
 *   from source, as in an image without network access to GitHub, but with CFLAGS/CXXFLAGS=-O0 (appended
 *   after the package's -O3, so they win): the same sources and files, about half the compile time.
 * - A COPY from a stage that is an unmodified base image (the CUDA image's `node` stage: node + npm) is the
 *   host's node and npm here.
 */

interface Rehearsal {
  readonly dir: string;
  readonly copied: readonly string[];
  readonly install: string;
  readonly installMs: number;
}

async function buildDist(): Promise<void> {
  const tsc = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsc');
  await run(tsc, ['-b', ...SUITE_MODULES.map((m) => `modules/${m}`)], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 }).catch((err: { stdout?: string; message: string }) => {
    throw new Error(`tsc -b of the modules failed, so no image could be built:\n${err.stdout ?? err.message}`);
  });
}

function mapDestination(stage: Stage, line: number, destination: string, root: string): string {
  const workdir = workdirAt(stage, line);
  const absolute = destination.startsWith('/') ? destination : path.posix.join(workdir, destination);
  const rel = path.posix.relative(workdir, absolute);
  assert.ok(!rel.startsWith('..'), `COPY destination ${destination} (line ${line}) is outside WORKDIR ${workdir}`);
  return path.join(root, rel) + (destination.endsWith('/') ? path.sep : '');
}

/**
 * Puts into `dir` what `stage` gets: files COPYd from the build context, the build stage's output (the host's
 * `tsc -b` output at the same paths), and a dependencies stage copied wholesale (`COPY --from=deps /app ./`),
 * which is materialised the same way, in the same folder; then runs the stage's own `npm ci`, if it has one.
 */
async function materialise(name: string, stage: Stage, stages: readonly Stage[], dir: string, copied: string[], installs: string[]): Promise<void> {
  for (const copy of copyInstructions(stage)) {
    const fromStage = copy.from === undefined ? undefined : stages.find((s) => s.name === copy.from!.toLowerCase());
    if (fromStage !== undefined && fromStage.instructions.length === 1) continue; // an unmodified base image: the host's node/npm
    if (fromStage !== undefined && copiesWholeStage(fromStage, copy)) {
      assert.equal(mapDestination(stage, copy.line, copy.destination, dir).replace(/[/\\]+$/, ''), dir, `${name}: line ${copy.line} must copy the stage into WORKDIR`);
      await materialise(name, fromStage, stages, dir, copied, installs);
      continue;
    }
    for (const source of copy.sources) {
      let hostPath: string;
      if (fromStage === undefined) hostPath = path.join(REPO_ROOT, source);
      else {
        // The build stage works in the same layout as the repository: /app/<p> there is <repo>/<p> here.
        const rel = path.posix.relative(workdirAt(fromStage, Number.MAX_SAFE_INTEGER), source);
        assert.ok(!rel.startsWith('..'), `COPY --from=${copy.from} ${source} is outside that stage's WORKDIR`);
        hostPath = path.join(REPO_ROOT, rel);
      }
      assert.ok(existsSync(hostPath), `${name}: line ${copy.line} copies ${source}, which does not exist (${hostPath})`);
      const target = mapDestination(stage, copy.line, copy.destination, dir);
      const into = target.endsWith(path.sep) || copy.sources.length > 1 ? path.join(target, path.basename(source)) : target;
      await mkdir(path.dirname(into), { recursive: true });
      await cp(hostPath, into, { recursive: true, filter: (src) => !src.split(path.sep).includes('node_modules') });
      copied.push(path.relative(dir, into));
    }
  }
  const install = npmCiCommand(stage);
  if (install === undefined || stage.name === 'build') return;
  const [npm, ...args] = argumentList(install);
  assert.equal(npm, 'npm');
  const env: Record<string, string | undefined> = { ...process.env, ...envOf(stage) };
  if (args.includes('--onnxruntime-node-install=cuda12')) env['ONNXRUNTIME_NODE_INSTALL'] = 'skip';
  env['CFLAGS'] = '-O0';
  env['CXXFLAGS'] = '-O0';
  await run('npm', [...args, '--prefer-offline'], { cwd: dir, env, maxBuffer: 16 * 1024 * 1024 }).catch((err: { stderr?: string; message: string }) => {
    throw new Error(`${name}: \`${install}\` failed in the rehearsal folder:\n${err.stderr ?? err.message}`);
  });
  installs.push(install);
}

async function rehearse(name: string): Promise<Rehearsal> {
  const dockerfile = path.join(REPO_ROOT, 'modules', name, 'Dockerfile.amd64');
  const stages = parseStages(await readFile(dockerfile, 'utf8'));
  const runtime = stages[stages.length - 1];
  assert.ok(runtime !== undefined, `${dockerfile} has stages`);
  const dir = await mkdtemp(path.join(tmpdir(), `edgeml-rehearsal-${name}-`));
  const copied: string[] = [];
  const installs: string[] = [];
  const started = Date.now();
  await materialise(name, runtime, stages, dir, copied, installs);
  assert.equal(installs.length, 1, `${name}: exactly one production npm ci reaches the image (found: ${installs.join(' | ') || 'none'})`);
  return { dir, copied, install: installs[0]!, installMs: Date.now() - started };
}

describe('container-build rehearsal (runtime stage of each Dockerfile.amd64)', function () {
  // Two native builds (better-sqlite3 for the watcher and the uploader) dominate: about 30 s of CPU each, run
  // side by side; the whole suite takes 2 to 3 minutes on an idle 2-core machine, much longer on a busy one.
  this.timeout(600_000);
  const rehearsals = new Map<string, Promise<Rehearsal>>();
  let built: Promise<void>;

  before(function () {
    built = buildDist();
    built.catch(() => undefined);
    // Two at a time (the machine has two cores), the long native builds first.
    const order = ['watcher', 'uploader', 'aggregator', 'transformer', 'inferencer'].filter((m) => (SUITE_MODULES as readonly string[]).includes(m));
    const slots: Promise<unknown>[] = [built.catch(() => undefined), built.catch(() => undefined)];
    order.forEach((name, i) => {
      const slot = i % 2;
      const p = slots[slot]!.then(async () => {
        await built;
        return rehearse(name);
      });
      p.catch(() => undefined);
      slots[slot] = p.catch(() => undefined);
      rehearsals.set(name, p);
    });
  });

  after(async () => {
    for (const p of rehearsals.values()) {
      const r = await p.catch(() => undefined);
      if (r !== undefined) await rm(r.dir, { recursive: true, force: true });
    }
  });

  for (const name of SUITE_MODULES) {
    it(`${name}: the image's files + its production install start with --self-check`, async () => {
      const main = path.join(REPO_ROOT, 'modules', name, 'src', 'main.ts');
      assert.ok(existsSync(main), `modules/${name}/src/main.ts does not exist yet: the image has no entry point`);
      const r = await rehearsals.get(name)!;
      assert.ok(r.copied.includes(path.join('modules', name, 'dist')), `the runtime stage copies modules/${name}/dist`);
      assert.ok((await stat(path.join(r.dir, 'modules', name, 'dist', 'main.js'))).isFile(), `modules/${name}/dist/main.js is in the image`);
      assert.ok(!existsSync(path.join(r.dir, 'modules', name, 'src')), 'sources do not ship');
      assert.ok(existsSync(path.join(r.dir, 'node_modules', '@edgeml', 'shared')), 'the shared workspace is linked');
      const dockerfile = parseStages(await readFile(path.join(REPO_ROOT, 'modules', name, 'Dockerfile.amd64'), 'utf8'));
      const cmd = dockerfile[dockerfile.length - 1]!.instructions.filter((i) => i.keyword === 'CMD').at(-1);
      assert.ok(cmd !== undefined);
      const [node, ...cmdArgs] = argumentList(splitFlags(cmd.args).rest);
      assert.equal(node, 'node');
      const data = path.join(r.dir, 'data');
      await mkdir(data, { recursive: true });
      const result = await run(process.execPath, [...cmdArgs, '--self-check'], {
        cwd: r.dir,
        env: { PATH: process.env['PATH'], NODE_ENV: 'production', EDGEML_DATA_ROOT: data, EDGEML_LOG_LEVEL: 'info' },
        timeout: 120_000,
        maxBuffer: 16 * 1024 * 1024,
      }).catch((err: { code?: number; stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`${name}: node ${cmdArgs.join(' ')} --self-check failed (exit ${String(err.code)}):\n${err.stdout ?? ''}${err.stderr ?? err.message}`);
      });
      assert.match(result.stdout + result.stderr, /self-check passed/i, 'the module reports its self-check');
    });
  }
});
