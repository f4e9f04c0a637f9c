import assert from 'node:assert/strict';
import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import { removeRoot, sleepMs, startHarness, waitFor, type Harness } from './harness.js';

const exists = (p: string): Promise<boolean> => access(p).then(
  () => true,
  () => false,
);

const PARTS = ['artifact', 'result:cls'];
/** Short, so many completion timeouts pass in a second or two. */
const TIMEOUT_MS = 400;

describe('watcher on a real directory: leases (held parts)', function () {
  this.timeout(30_000);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    if (h !== undefined) await removeRoot(h.root);
    h = undefined;
  });

  const counts = (): Record<string, number> => h!.app.status()['counts'] as Record<string, number>;
  const metric = async (name: string): Promise<string> => {
    const text = await (await fetch(`http://127.0.0.1:${h!.running.ops.port}/metrics`)).text();
    return text.split('\n').find((l) => l.startsWith(name)) ?? '';
  };

  it('held parts are neither re-emitted nor spend attempts over many completion timeouts; uploaded then completes', async () => {
    h = await startHarness({ desired: { completionTimeoutMs: TIMEOUT_MS, maxAttempts: 1 } });
    await h.drop('offline.jpg', 'the uplink is down');
    await waitFor(() => h!.files().length === 1, 5_000, 'emission');
    const id = h.files()[0]!.id;
    // The holder renews every second with a 1.5 s lease, for 12 completion timeouts.
    for (let t = 0; t < 12 * TIMEOUT_MS; t += 1_000) {
      for (const part of PARTS) await h.ack(id, { part, expectedParts: PARTS, outcome: 'held', leaseMs: 1_500 });
      assert.equal(counts()['held'], 1);
      await sleepMs(1_000);
    }
    assert.equal(h.files().length, 1, 'never re-emitted while held');
    assert.deepEqual(await readdir(h.paths.failed), [], 'never dead-lettered (maxAttempts is 1)');
    assert.equal(counts()['inFlight'], 1);
    assert.match(await metric('edgeml_watcher_held_files'), / 1$/);
    for (const part of PARTS) await h.ack(id, { part, expectedParts: PARTS });
    assert.equal(counts()['completed'], 1);
    assert.equal(counts()['held'], 0);
    assert.match(await metric('edgeml_watcher_completions_total{result="held"'), / 10$/, '5 renewals of 2 parts');
  });

  it('a lease that runs out (the holder crashed) brings the source back at once for the parts nobody holds, without an attempt', async () => {
    h = await startHarness({ desired: { completionTimeoutMs: 5_000, maxAttempts: 1 } });
    await h.drop('holder-crashed.jpg', 'held, then nobody renews');
    await waitFor(() => h!.files().length === 1, 5_000, 'emission');
    const id = h.files()[0]!.id;
    await h.ack(id, { part: 'result:cls', expectedParts: PARTS });
    await h.ack(id, { part: 'artifact', expectedParts: PARTS, outcome: 'held', leaseMs: 1_000 });
    await waitFor(() => h!.files().length === 2, 5_000, 'the re-offer after the lease ran out (long before the 5 s timeout)');
    const again = h.files()[1]!;
    assert.equal(again.attempt, 1, 'a lease running out is not an attempt');
    assert.deepEqual(again.doneParts, ['result:cls'], 'only the part nobody holds is redone');
    assert.match(await metric('edgeml_watcher_lease_expiries_total'), / 1$/);
    await h.ack(id, { part: 'artifact', expectedParts: PARTS });
    assert.equal(counts()['completed'], 1);
    assert.ok(await exists(path.join(h.paths.inbox, 'holder-crashed.jpg')), 'kept (afterCompletion keep)');
  });

  it('keeps leases across a restart of the watcher', async () => {
    h = await startHarness({ desired: { completionTimeoutMs: TIMEOUT_MS, maxAttempts: 1 } });
    await h.drop('restart.jpg', 'held across a restart');
    await waitFor(() => h!.files().length === 1, 5_000, 'emission');
    const id = h.files()[0]!.id;
    for (const part of PARTS) await h.ack(id, { part, expectedParts: PARTS, outcome: 'held', leaseMs: 60_000 });
    const root = h.root;
    await h.stop();
    h = await startHarness({ root, desired: { completionTimeoutMs: TIMEOUT_MS, maxAttempts: 1 } });
    await sleepMs(6 * TIMEOUT_MS);
    assert.equal(h.files().length, 0, 'not re-emitted after the restart: the leases are durable');
    assert.equal(counts()['held'], 1);
    assert.deepEqual(await readdir(h.paths.failed), []);
    for (const part of PARTS) await h.ack(id, { part, expectedParts: PARTS });
    assert.equal(counts()['completed'], 1);
  });
});
