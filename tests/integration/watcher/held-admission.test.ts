import assert from 'node:assert/strict';
import { completion, removeRoot, startHarness, waitFor, type Harness } from './harness.js';

describe('watcher on a real directory: held parts and maxInFlight', function () {
  this.timeout(30_000);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    if (h !== undefined) await removeRoot(h.root);
    h = undefined;
  });

  // What broke (#20): a source whose result line waited in the uploader's batch window (60 s) kept its
  // maxInFlight slot until the batch blob was committed, so intake stalled for up to a minute whenever
  // more than maxInFlight files arrived within one window (p99 23–50 s in the end-to-end benchmark).
  it('admits the next files as soon as the in-flight ones are uploaded or held downstream, and completes them on the final outcome', async () => {
    h = await startHarness({ desired: { maxInFlight: 2 } });
    for (let i = 0; i < 4; i++) await h.drop(`f${i}.jpg`, `image ${i}`);
    await waitFor(() => h!.files().length === 2, 10_000, 'two emissions (maxInFlight 2)');
    const expectedParts = ['artifact', 'result:cls'];
    const first = h.files().map((f) => f.id);
    for (const id of first) {
      await h.ack(id, { part: 'artifact', expectedParts });
      await h.edge.deliver('completed', { ...completion(id, { part: 'result:cls', expectedParts, outcome: 'held' }), leaseMs: 180_000 });
    }
    await waitFor(() => h!.files().length === 4, 10_000, 'the other two admitted while the first two are held');
    assert.equal((h.app.status()['items'] as { completed: number }).completed, 0, 'held is not final');
    for (const id of first) await h.ack(id, { part: 'result:cls', expectedParts });
    assert.equal((h.app.status()['items'] as { completed: number }).completed, 2);
  });
});
