/**
 * The file leader lease on a real directory, with a real second process as the leader that dies
 * (SIGKILL: no release), as a standby watcher sees it on the shared volume.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createFileLease, createLogger, sleep, type LeaderLease } from '@edgeml/shared';
import { repoRoot } from '../../helpers/suite.js';

const silent = createLogger({ name: 'lease', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const TIMING = { leaseDurationMs: 900, renewDeadlineMs: 600, retryPeriodMs: 100 };

describe('file leader lease (shared volume)', function () {
  this.timeout(30_000);
  let dir: string;
  const leases: LeaderLease[] = [];
  const lease = (identity: string): LeaderLease => {
    const l = createFileLease({ dir, identity, logger: silent, ...TIMING });
    leases.push(l);
    return l;
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-lease-'));
  });
  afterEach(async () => {
    await Promise.all(leases.splice(0).map((l) => l.release()));
    await rm(dir, { recursive: true, force: true });
  });

  it('lets one of two contenders lead; the other takes over at once when the leader releases', async () => {
    const a = lease('a');
    const b = lease('b');
    await a.acquire();
    let bHeld = false;
    const bAcquire = b.acquire().then(() => (bHeld = true));
    await sleep(TIMING.leaseDurationMs * 2);
    assert.equal(bHeld, false, 'a renewing leader is never displaced');
    assert.equal(a.isHeld(), true);
    const released = Date.now();
    await a.release();
    await bAcquire;
    assert.ok(Date.now() - released < TIMING.leaseDurationMs, 'a released lease is taken without waiting for it to expire');
  });

  it('hands over to the standby only after the dead leader\'s lease has gone unrenewed for the lease duration', async () => {
    // The leader is another process that takes the lease, says so, and is then killed -9.
    const script = `
      import { createFileLease, createLogger } from '@edgeml/shared';
      const l = createFileLease({ dir: ${JSON.stringify('DIR')}, identity: 'dead', logger: createLogger({ name: 'x', level: 'silent' }), leaseDurationMs: ${TIMING.leaseDurationMs}, renewDeadlineMs: ${TIMING.renewDeadlineMs}, retryPeriodMs: ${TIMING.retryPeriodMs} });
      await l.acquire();
      process.stdout.write('held\\n');
      setInterval(() => undefined, 1000);
    `.replace('"DIR"', JSON.stringify(dir));
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@edgeml/source', '--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
      child.once('exit', (code) => reject(new Error(`lease child exited ${code}`)));
    });
    const standby = lease('standby');
    let heldAt = 0;
    const acquiring = standby.acquire().then(() => (heldAt = Date.now()));
    await sleep(TIMING.leaseDurationMs * 1.5);
    assert.equal(heldAt, 0, 'no takeover while the leader renews');
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await acquiring;
    const waited = heldAt - killedAt;
    assert.ok(waited >= TIMING.leaseDurationMs - TIMING.retryPeriodMs, `took over after ${waited} ms, not before the lease expired`);
    assert.ok(waited < TIMING.leaseDurationMs * 3, `took over after ${waited} ms`);
    assert.ok((await readdir(dir)).includes('gen-2.json'), 'the takeover is a new generation');
  });

  it('tells a leader that was displaced (its lease taken over) to stop, before it renews again', async () => {
    const a = lease('a');
    await a.acquire();
    const lost = new Promise<string>((resolve) => a.onLost(resolve));
    // A contender that saw the record unchanged for the lease duration (a paused leader): generation 2.
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(dir, 'gen-2.json'), JSON.stringify({ holder: 'b', generation: 2, renewCount: 0, leaseDurationMs: 900, renewedAt: new Date().toISOString(), released: false }));
    assert.match(await lost, /taken over/);
    assert.equal(a.isHeld(), false);
  });
});
