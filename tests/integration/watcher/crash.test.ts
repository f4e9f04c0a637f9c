import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ledger } from '@edgeml/watcher';
import { FAST, makeRoot, removeRoot, waitFor } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const fixture = path.join(here, 'fixtures', 'run-watcher.ts');
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

interface LogLine {
  t: 'sent' | 'acking' | 'acked' | 'ackFailed' | 'started';
  id?: string;
  attempt?: number;
}

async function readLog(file: string): Promise<LogLine[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  // A SIGKILL can cut the last line short.
  return text
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as LogLine];
      } catch {
        return [];
      }
    });
}

function startChild(root: string, log: string, ack: 'all' | 'some', output: string[]): ChildProcess {
  const desired = { ...FAST, completionTimeoutMs: 2_000, maxAttempts: 20, maxInFlight: 500, stabilityWindowMs: 200 };
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@edgeml/source', fixture, root, log, ack, JSON.stringify(desired)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  return child;
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));

describe('watcher kill -9 mid-run, then restart', function () {
  this.timeout(90_000);
  let root: string;
  const children: ChildProcess[] = [];
  const output: string[] = [];

  afterEach(async function () {
    for (const c of children.splice(0)) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await exited(c);
    }
    if (this.currentTest?.state === 'failed') console.log(output.join('').slice(-5_000));
    await removeRoot(root);
  });

  it('loses nothing and emits nothing completed again', async () => {
    root = await makeRoot();
    const inbox = path.join(root, 'share', 'inbox');
    const contents: string[] = [];
    await mkdir(path.join(inbox, 'before'), { recursive: true });
    for (let i = 0; i < 300; i++) {
      const c = `present at start ${i}`;
      contents.push(c);
      await writeFile(path.join(inbox, 'before', `f${i}.csv`), c);
    }
    const log1 = path.join(root, 'run1.log');
    const first = startChild(root, log1, 'some', output);
    children.push(first);
    // More files arrive while it runs.
    await waitFor(async () => (await readLog(log1)).some((l) => l.t === 'sent'), 30_000, 'first emissions');
    for (let i = 0; i < 100; i++) {
      const c = `dropped while running ${i}`;
      contents.push(c);
      await writeFile(path.join(inbox, `live-${i}.jpg`), c);
    }
    await waitFor(async () => (await readLog(log1)).filter((l) => l.t === 'acked').length >= 60, 30_000, '60 completions in run 1');
    first.kill('SIGKILL');
    await exited(first);
    const run1 = await readLog(log1);
    const completedInRun1 = new Set(run1.filter((l) => l.t === 'acked').map((l) => l.id!));
    // Delivered but cut by the kill before it was logged: committed or not, both are fine.
    const maybeCompletedInRun1 = new Set(run1.filter((l) => l.t === 'acking').map((l) => l.id!));
    assert.ok(completedInRun1.size < contents.length, 'killed mid-run');

    const log2 = path.join(root, 'run2.log');
    const second = startChild(root, log2, 'all', output);
    children.push(second);
    const expected = new Set(contents.map(sha));
    await waitFor(
      async () => {
        const acked = new Set((await readLog(log2)).filter((l) => l.t === 'acked').map((l) => l.id!));
        return [...expected].every((id) => acked.has(id) || maybeCompletedInRun1.has(id));
      },
      60_000,
      'every file completed across both runs',
    );
    second.kill('SIGTERM');
    await exited(second);

    const run2 = await readLog(log2);
    const reemitted = run2.filter((l) => l.t === 'sent' && completedInRun1.has(l.id!));
    assert.deepEqual(reemitted, [], 'nothing completed in run 1 is emitted again');
    const ledger = Ledger.open(path.join(root, 'state', 'watcher', 'ledger.sqlite'));
    try {
      const counts = ledger.counts();
      assert.equal(counts.completed, contents.length, `every file completed (counts ${JSON.stringify(counts)})`);
      for (const id of expected) assert.equal(ledger.getItem(id)?.state, 'completed');
    } finally {
      ledger.close();
    }
  });
});
