/**
 * Store-and-forward group commits with a real SQLite store: an acknowledged delivery's delete needs no
 * commit of its own (it rides the next commit that persists new messages, or is committed alone later),
 * and while it waits the message is neither counted, nor listed, nor loaded again.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ForwardQueue, openHubStore, type HubStore, type NewMessage, type StoredMessage } from '@edgeml/edge-hub';

function row(n: number): NewMessage {
  return {
    endpoint: 'b/in',
    priority: 0,
    enqueuedAtMs: 1_000,
    expiresAtMs: undefined,
    sizeBytes: 10,
    systemProperties: { messageId: `m${n}` },
    properties: { n: String(n) },
    routeName: 'r',
    fromModule: 'a',
    fromOutput: 'out',
    body: Buffer.from(`body-${n}`),
  };
}

function enqueued(queue: ForwardQueue, rows: NewMessage[]): Promise<readonly StoredMessage[]> {
  return new Promise((resolve, reject) => queue.enqueue(rows, (err, stored) => (err === undefined ? resolve(stored) : reject(err))));
}

const onDisk = (store: HubStore): number => store.queues().reduce((s, q) => s + q.length, 0);

describe('edge-hub store-and-forward commits', () => {
  let dir: string;
  let store: HubStore;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-fq-'));
    store = openHubStore(dir);
  });

  afterEach(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('an acknowledged delivery waits for a commit, uncounted, and its delete rides the next insert commit', async () => {
    const queue = new ForwardQueue(store, undefined, () => undefined);
    const [first] = await enqueued(queue, [row(1)]);
    assert.ok(first !== undefined);
    assert.equal(onDisk(store), 1);

    queue.remove(first);
    // No commit of its own in this turn: still on disk, but no longer counted, listed or loaded.
    assert.equal(onDisk(store), 1);
    assert.deepEqual(queue.queues(), []);
    assert.equal(queue.bytes, 0);
    assert.ok(queue.isRemoving(first.seq));
    assert.deepEqual(queue.load('b/in', 2_000, undefined, 10), []);

    const [second] = await enqueued(queue, [row(2)]);
    assert.ok(second !== undefined);
    assert.deepEqual(
      store.load('b/in', 2_000, undefined, 10).map((m) => m.seq),
      [second.seq],
      'the delete was committed with the insert',
    );
    assert.deepEqual(queue.queues(), [{ endpoint: 'b/in', priority: 0, length: 1, bytes: 10 }]);
    queue.close();
  });

  it('queues() subtracts only the acknowledged messages of each queue', async () => {
    const queue = new ForwardQueue(store, undefined, () => undefined);
    const stored = await enqueued(queue, [row(1), row(2), { ...row(3), priority: 5 }]);
    queue.remove(stored[0]!);
    assert.deepEqual(queue.queues(), [
      { endpoint: 'b/in', priority: 0, length: 1, bytes: 10 },
      { endpoint: 'b/in', priority: 5, length: 1, bytes: 10 },
    ]);
    queue.remove(stored[2]!);
    assert.deepEqual(queue.queues(), [{ endpoint: 'b/in', priority: 0, length: 1, bytes: 10 }]);
    queue.close();
  });

  it('close() commits the deletes still waiting, so a restart does not deliver them again', async () => {
    const queue = new ForwardQueue(store, undefined, () => undefined);
    const stored = await enqueued(queue, [row(1), row(2)]);
    queue.remove(stored[0]!);
    queue.close();
    store.close();
    store = openHubStore(dir);
    assert.deepEqual(
      store.load('b/in', 2_000, undefined, 10).map((m) => m.systemProperties['messageId']),
      ['m2'],
    );
  });

  it('a delete with no insert after it is committed on its own', async () => {
    const queue = new ForwardQueue(store, undefined, () => undefined);
    const [only] = await enqueued(queue, [row(1)]);
    queue.remove(only!);
    // Not a timing assertion: wait (bounded by mocha's timeout) until the delete reaches the disk.
    while (onDisk(store) > 0) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(queue.queues(), []);
    queue.close();
  });
});
