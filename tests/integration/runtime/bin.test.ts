import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { lstat, mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const run = promisify(execFile);

/** Runs a command and returns its exit code and output instead of throwing on a non-zero exit. */
async function exec(file: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(file, args, { cwd, env: { ...process.env, INIT_CWD: '' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err: unknown) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('the edgeml bin', () => {
  it('is a committed file, so npm links it at install time (npx edgeml works right after npm ci)', async () => {
    const manifest = JSON.parse(await readFile(path.join(repoRoot, 'deployment/runtime/package.json'), 'utf8')) as { bin: Record<string, string> };
    const target = path.join(repoRoot, 'deployment/runtime', manifest.bin['edgeml']!);
    const tracked = await run('git', ['ls-files', '--error-unmatch', path.relative(repoRoot, target)], { cwd: repoRoot }).then(
      () => true,
      () => false,
    );
    assert.ok(tracked, `${target} must be tracked by git, not produced by a build`);
    const link = path.join(repoRoot, 'node_modules/.bin/edgeml');
    assert.ok((await lstat(link)).isSymbolicLink(), 'npm linked node_modules/.bin/edgeml');
    assert.equal(await realpath(link), await realpath(target));
  });

  it('runs from any folder, prints its usage, and exits 3 when nothing runs in the work folder', async () => {
    const elsewhere = await mkdtemp(path.join(tmpdir(), 'edgeml-bin-'));
    try {
      const bin = path.join(repoRoot, 'node_modules/.bin/edgeml');
      const help = await exec(bin, ['--help'], elsewhere);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /Usage: npx edgeml/);
      const none = await exec(bin, ['status', '--workdir', 'here'], elsewhere);
      assert.equal(none.code, 3, none.stderr);
      assert.ok(none.stderr.includes(path.join(elsewhere, 'here')), `--workdir resolves against the caller's folder: ${none.stderr}`);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });
});
