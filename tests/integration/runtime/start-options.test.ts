/**
 * `npm start -- --manifest FILE --env-file FILE`: the local runtime runs another manifest (here the debug
 * template) with variables from another file, and serves the hub's /metrics. Runs
 * through `npm start` from another folder (npm passes the caller's folder in INIT_CWD).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const start = path.join(repoRoot, 'deployment', 'runtime', 'dist', 'bin', 'start.js');

async function poll<T>(what: string, get: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await get().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('npm start -- --manifest FILE --env-file FILE', function () {
  this.timeout(180_000);
  let caller: string;
  before(async () => {
    caller = await mkdtemp(path.join(tmpdir(), 'edgeml-start-'));
  });
  after(async () => {
    await rm(caller, { recursive: true, force: true });
  });

  it('refuses a manifest that does not exist, naming it', async () => {
    const child = spawn(process.execPath, [start, '--manifest', 'nowhere.json', '--workdir', 'w'], { cwd: repoRoot, env: { ...process.env, INIT_CWD: caller }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 1);
    assert.ok(err.includes(path.join(caller, 'nowhere.json')), err);
  });

  it('runs the debug template with variables from --env-file, serves the hub metrics, and stops on SIGHUP with its modules', async () => {
    const modulePids: number[] = [];
    // A container SAS URL in the env file means "real storage": no Azurite is started (the uploader reports
    // the unreachable sink and keeps running), which shows the file was read.
    await writeFile(path.join(caller, 'debug.env'), 'EDGEML_STORAGE_CONTAINER_SAS_URL=http://127.0.0.1:9/devstoreaccount1/c?sv=2020-01-01&sig=x\n');
    const workDir = path.join(caller, 'work');
    const env: Record<string, string | undefined> = { ...process.env, EDGEML_STORAGE_CONNECTION_STRING: '' };
    delete env['EDGEML_STORAGE_CONTAINER_SAS_URL'];
    delete env['INIT_CWD'];
    // Through npm itself, from the caller's folder: the relative paths are the caller's, and `--env-file` must
    // reach the runtime (Node 20 reads `--env-file` anywhere on its command line unless `--` ends its options;
    // before the script put one there, this run died with "node: debug.env: not found").
    const child = spawn(
      'npm',
      ['--prefix', repoRoot, '--silent', 'start', '--', '--manifest', path.join(repoRoot, 'deployment.debug.template.json'), '--env-file', 'debug.env', '--workdir', 'work', '--no-demo', '--hub-port', '0'],
      { cwd: caller, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await poll('the runtime to start', async () => (/hub on localhost:\d+/.test(out) ? true : undefined));
      assert.ok(out.includes(`manifest ${path.join(repoRoot, 'deployment.debug.template.json')}`), out);
      const info = JSON.parse(await readFile(path.join(workDir, 'runtime.json'), 'utf8')) as { mode: string; hubMetricsPort: number; blobEndpoint: string | null };
      assert.equal(info.mode, 'suite');
      assert.equal(info.blobEndpoint, null, 'no Azurite: the env file named real storage');
      assert.ok(!existsSync(path.join(workDir, 'logs', 'azurite.log')));
      assert.match(out, new RegExp(`metrics http://127\\.0\\.0\\.1:${info.hubMetricsPort}/metrics`));
      // Every module connects to the hub; the hub says so on its /metrics (edgeHub's metric names).
      await poll('five modules connected (hub metrics)', async () => {
        const text = await (await fetch(`http://127.0.0.1:${info.hubMetricsPort}/metrics`)).text();
        return /^edgehub_connected_clients\{[^}]*\} 5$/m.test(text) ? true : undefined;
      });
      // The debug template sets EDGEML_LOG_LEVEL=debug for every module.
      await poll('a debug line in the watcher log', async () => ((await readFile(path.join(workDir, 'logs', 'watcher.log'), 'utf8')).includes('"level":"debug"') ? true : undefined));
      const status = JSON.parse(await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, [path.join(repoRoot, 'deployment', 'runtime', 'bin', 'edgeml.js'), 'status', '--workdir', workDir], (err, stdout) => (stdout !== '' ? resolve(stdout) : reject(err ?? new Error('no status'))));
      })) as { processes: Array<{ name: string; pid: number }> };
      modulePids.push(...status.processes.map((p) => p.pid));
      assert.equal(modulePids.length, 5);
    } finally {
      // The runtime's own process (npm and its shell stand between). SIGHUP, as when its terminal closes: it
      // used to kill the runtime at once and leave the module processes running.
      const pid = await readFile(path.join(workDir, 'runtime.json'), 'utf8').then((t) => (JSON.parse(t) as { pid: number }).pid, () => undefined);
      if (pid !== undefined) process.kill(pid, 'SIGHUP');
      else child.kill('SIGKILL');
    }
    assert.equal(await exited, 129, out.slice(-3000));
    assert.ok(!existsSync(path.join(workDir, 'runtime.json')), 'runtime.json is removed on stop');
    const alive = modulePids.filter((p) => {
      try {
        process.kill(p, 0);
        return true;
      } catch {
        return false; // ESRCH: that module process is gone, as it should be
      }
    });
    assert.deepEqual(alive, [], 'every module process stopped with the runtime');
  });
});
