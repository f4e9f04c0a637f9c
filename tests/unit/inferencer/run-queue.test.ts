/**
 * The session worker's runs (session/run-queue.ts): one after another in arrival order, every
 * request answered exactly once, and the answers of short runs held while enough runs wait behind
 * them, so that the threads exchange one message per several batches without the worker ever
 * waiting for the main thread; the batcher's depth per model follows the run time (lane-depth.ts).
 */
import assert from 'node:assert/strict';
import { EdgeMLError } from '@edgeml/shared';
import { BATCHES_QUEUED_PER_MODEL, BATCHES_QUEUED_SHORT_RUNS, HOLD_SHORT_RUN_MS, HOLD_WHILE_WAITING, LaneDepth, MAX_HELD_REPLIES, RunQueue, type WorkerReply } from '@edgeml/inferencer';

/** A run queue whose clock moves only when a run says how long it took, and the messages it posted. */
function harness() {
  let now = 0;
  const posted: WorkerReply[][] = [];
  const order: number[] = [];
  const queue = new RunQueue((replies) => posted.push(replies), () => now);
  /** A run that takes `ms` of the fake clock and answers its number. */
  const run = (n: number, ms: number) => async () => {
    order.push(n);
    await Promise.resolve();
    now += ms;
    return { inferMs: ms, postprocessMs: 0, items: [{ outputs: {}, label: String(n) }] };
  };
  const settled = () => new Promise((r) => setImmediate(r));
  const ids = () => posted.map((m) => m.map((r) => r.id));
  return { queue, posted, order, run, settled, ids };
}

describe('inferencer session worker run queue', () => {
  it('runs in arrival order and holds short runs while enough wait, so answers go several to a message', async () => {
    const h = harness();
    for (let i = 1; i <= 6; i++) h.queue.add(i, h.run(i, 1));
    await h.settled();
    assert.deepEqual(h.order, [1, 2, 3, 4, 5, 6]);
    // HOLD_WHILE_WAITING is 3: runs 1, 2 and 3 finish with 5, 4 and 3 waiting (held), run 4 with 2 waiting
    // (sent with them: two runs left to cover the main thread's round trip), then each as the queue empties.
    assert.equal(HOLD_WHILE_WAITING, 3);
    assert.deepEqual(h.ids(), [[1, 2, 3, 4], [5], [6]]);
    assert.equal(h.posted.flat().length, 6, 'every request answered exactly once');
  });

  it('answers a long run at once, whatever waits behind it', async () => {
    const h = harness();
    for (let i = 1; i <= 5; i++) h.queue.add(i, h.run(i, HOLD_SHORT_RUN_MS + 1));
    await h.settled();
    assert.deepEqual(h.ids(), [[1], [2], [3], [4], [5]]);
  });

  it('holds at most MAX_HELD_REPLIES answers', async () => {
    const h = harness();
    const n = MAX_HELD_REPLIES + HOLD_WHILE_WAITING + 2;
    for (let i = 1; i <= n; i++) h.queue.add(i, h.run(i, 0));
    await h.settled();
    assert.ok(h.posted.every((m) => m.length <= MAX_HELD_REPLIES), `messages of ${h.posted.map((m) => m.length).join(', ')} answers`);
    assert.equal(h.posted[0]!.length, MAX_HELD_REPLIES);
    assert.deepEqual(h.posted.flat().map((r) => r.id), Array.from({ length: n }, (_, i) => i + 1));
  });

  it('answers a failed run with its code and message, in its turn, and goes on', async () => {
    const h = harness();
    h.queue.add(1, h.run(1, 1));
    h.queue.add(2, () => Promise.reject(new EdgeMLError('TENSOR_MISMATCH', 'bad input')));
    h.queue.add(3, () => {
      throw Object.assign(new Error('session 9 is not open in this worker'), { code: 'INFERENCE_FAILED' });
    });
    h.queue.add(4, h.run(4, 1));
    await h.settled();
    const replies = h.posted.flat();
    assert.deepEqual(replies.map((r) => r.id), [1, 2, 3, 4]);
    assert.deepEqual(replies[1], { id: 2, ok: false, error: { code: 'TENSOR_MISMATCH', message: 'bad input' } });
    assert.deepEqual(replies[2], { id: 3, ok: false, error: { code: 'INFERENCE_FAILED', message: 'session 9 is not open in this worker' } });
    assert.equal(replies[3]!.ok, true);
  });

  it('sends an open or release answer at once, with the answers held so far', async () => {
    const h = harness();
    for (let i = 1; i <= 5; i++) h.queue.add(i, h.run(i, 1));
    h.queue.answer({ id: 99, ok: true, value: null });
    assert.deepEqual(h.ids(), [[99]], 'nothing held yet: the answer goes alone, before the runs');
    await h.settled();
    assert.deepEqual(h.posted.flat().map((r) => r.id).sort((a, b) => a - b), [1, 2, 3, 4, 5, 99]);
  });

  it('starts again when a request arrives after the queue emptied', async () => {
    const h = harness();
    h.queue.add(1, h.run(1, 1));
    await h.settled();
    h.queue.add(2, h.run(2, 1));
    await h.settled();
    assert.deepEqual(h.ids(), [[1], [2]]);
    assert.equal(h.queue.waiting, 0);
  });
});

describe('inferencer batches in flight per model', () => {
  it('queues more behind short runs than behind long ones or unseen models, one more per replica', () => {
    const depth = new LaneDepth();
    assert.equal(depth.maxInFlight('cls', 1), 1 + BATCHES_QUEUED_PER_MODEL, 'not run yet');
    depth.observe('cls', HOLD_SHORT_RUN_MS / 2);
    depth.observe('det', 120);
    assert.equal(depth.maxInFlight('cls', 1), 1 + BATCHES_QUEUED_SHORT_RUNS);
    assert.equal(depth.maxInFlight('cls', 2), 2 + BATCHES_QUEUED_SHORT_RUNS);
    assert.equal(depth.maxInFlight('det', 1), 1 + BATCHES_QUEUED_PER_MODEL);
    // The short-run depth keeps runs waiting behind the ones whose answers are held.
    assert.ok(BATCHES_QUEUED_SHORT_RUNS >= HOLD_WHILE_WAITING);
    depth.observe('cls', 50);
    assert.equal(depth.maxInFlight('cls', 1), 1 + BATCHES_QUEUED_PER_MODEL, 'follows the last run');
  });
});
