import assert from 'node:assert/strict';
import { createAdmission, createBatcher, type BatcherClock } from '@edgeml/inferencer';

/** A clock whose timers fire only when the test advances time. */
function fakeClock(): BatcherClock & { advance(ms: number): Promise<void>; pending(): number } {
  let now = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimer(fn, ms) {
      const id = ++seq;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimer(h) {
      timers.delete(h as number);
    },
    async advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
        if (due === undefined) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
        await flush();
      }
      now = until;
      await flush();
    },
    pending: () => timers.size,
  };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

/** A runner that records batches and completes them when told to. */
function controlledRunner() {
  const batches: { key: string; items: number[]; done: () => void }[] = [];
  return {
    batches,
    run: (key: string, items: readonly number[]) =>
      new Promise<number[]>((resolve) => {
        batches.push({ key, items: [...items], done: () => resolve(items.map((x) => x * 10)) });
      }),
  };
}

describe('inferencer batcher', () => {
  it('dispatches a full batch at once, without waiting for the delay', async () => {
    const clock = fakeClock();
    const r = controlledRunner();
    const b = createBatcher<number, number>({ maxBatchSize: 4, maxQueueDelayMs: 1000, run: r.run, clock });
    const results = [1, 2, 3, 4].map((i) => b.push('k', i));
    await flush();
    assert.equal(r.batches.length, 1);
    assert.deepEqual(r.batches[0]!.items, [1, 2, 3, 4]);
    r.batches[0]!.done();
    const out = await Promise.all(results);
    assert.deepEqual(out.map((o) => o.result), [10, 20, 30, 40]);
    assert.ok(out.every((o) => o.batchSize === 4 && o.queueMs === 0));
  });

  it('dispatches a partial batch once the oldest item waited maxQueueDelayMs', async () => {
    const clock = fakeClock();
    const r = controlledRunner();
    const b = createBatcher<number, number>({ maxBatchSize: 8, maxQueueDelayMs: 10, run: r.run, clock });
    const p1 = b.push('k', 1);
    await clock.advance(4);
    const p2 = b.push('k', 2);
    await clock.advance(5);
    assert.equal(r.batches.length, 0, 'not before the delay');
    await clock.advance(1);
    assert.equal(r.batches.length, 1);
    assert.deepEqual(r.batches[0]!.items, [1, 2]);
    r.batches[0]!.done();
    const [a, c] = await Promise.all([p1, p2]);
    assert.equal(a.queueMs, 10);
    assert.equal(c.queueMs, 6);
  });

  it('groups by key (shape): different shapes never share a batch', async () => {
    const clock = fakeClock();
    const r = controlledRunner();
    // Both keys in one lane (one model): one batch of that lane runs at a time.
    const b = createBatcher<number, number>({ maxBatchSize: 8, maxQueueDelayMs: 5, run: r.run, clock, laneOf: () => 'model' });
    const all = [b.push('a', 1), b.push('b', 2), b.push('a', 3), b.push('b', 4)];
    await clock.advance(5);
    assert.equal(r.batches.length, 1, 'one batch runs at a time');
    r.batches[0]!.done();
    await flush();
    assert.equal(r.batches.length, 2);
    r.batches[1]!.done();
    await Promise.all(all);
    assert.deepEqual(r.batches.map((x) => [x.key, x.items]), [['a', [1, 3]], ['b', [2, 4]]]);
  });

  it('runs a fixed batch-dimension-1 group one item at a time', async () => {
    const clock = fakeClock();
    const sizes: number[] = [];
    const b = createBatcher<number, number>({
      maxBatchSize: 8,
      maxQueueDelayMs: 0,
      run: (_k, items) => {
        sizes.push(items.length);
        return Promise.resolve(items.map((x) => x));
      },
      clock,
    });
    await Promise.all([1, 2, 3, 4, 5].map((i) => b.push('fixed', i, { maxBatchSize: 1 })));
    assert.deepEqual(sizes, [1, 1, 1, 1, 1]);
  });

  it('grows batches under load: items arriving during a run go together into the next', async () => {
    const clock = fakeClock();
    const r = controlledRunner();
    const b = createBatcher<number, number>({ maxBatchSize: 16, maxQueueDelayMs: 0, run: r.run, clock });
    const first = b.push('k', 0);
    await flush();
    const rest = [1, 2, 3, 4, 5].map((i) => b.push('k', i));
    assert.equal(b.depth(), 5);
    r.batches[0]!.done();
    await flush();
    assert.deepEqual(r.batches[1]!.items, [1, 2, 3, 4, 5]);
    r.batches[1]!.done();
    await Promise.all([first, ...rest]);
    assert.equal(b.depth(), 0);
  });

  it('fails one item on an Error result, a whole batch on a throw, and keeps going', async () => {
    const clock = fakeClock();
    let call = 0;
    const b = createBatcher<number, number>({
      maxBatchSize: 2,
      maxQueueDelayMs: 1000,
      run: (_k, items) => {
        call++;
        if (call === 1) return Promise.resolve(items.map((x) => (x === 1 ? new Error('bad item') : x)));
        if (call === 2) return Promise.reject(new Error('bad batch'));
        return Promise.resolve(items.map((x) => x));
      },
      clock,
    });
    const [a, c] = [b.push('k', 1), b.push('k', 2)];
    await assert.rejects(a, /bad item/);
    assert.equal((await c).result, 2);
    const [d, e] = [b.push('k', 3), b.push('k', 4)];
    await assert.rejects(d, /bad batch/);
    await assert.rejects(e, /bad batch/);
    const [f, g] = [b.push('k', 5), b.push('k', 6)];
    assert.deepEqual([(await f).result, (await g).result], [5, 6]);
  });

  it('flush dispatches without the delay; close rejects what waits; idle resolves when drained', async () => {
    const clock = fakeClock();
    const r = controlledRunner();
    const b = createBatcher<number, number>({ maxBatchSize: 8, maxQueueDelayMs: 60_000, run: r.run, clock });
    const p = b.push('k', 1);
    await flush();
    assert.equal(r.batches.length, 0);
    b.flush();
    await flush();
    assert.equal(r.batches.length, 1);
    const idle = b.idle();
    r.batches[0]!.done();
    await p;
    await idle;
    const b2 = createBatcher<number, number>({ maxBatchSize: 8, maxQueueDelayMs: 60_000, run: r.run, clock });
    const waiting = b2.push('k', 1);
    b2.close();
    b2.close();
    await assert.rejects(waiting, (e: { code?: string }) => e.code === 'ABORTED');
    await assert.rejects(b2.push('k', 2), (e: { code?: string }) => e.code === 'ABORTED');
  });

  it('applies new limits on reconfigure', async () => {
    const clock = fakeClock();
    const r = controlledRunner();
    const b = createBatcher<number, number>({ maxBatchSize: 8, maxQueueDelayMs: 60_000, run: r.run, clock });
    const ps = [1, 2, 3].map((i) => b.push('k', i));
    await flush();
    b.reconfigure({ maxBatchSize: 2, maxQueueDelayMs: 0 });
    await flush();
    assert.deepEqual(r.batches[0]!.items, [1, 2]);
    r.batches[0]!.done();
    await flush();
    assert.deepEqual(r.batches[1]!.items, [3]);
    r.batches[1]!.done();
    await Promise.all(ps);
  });
});

describe('inferencer batcher: preferred sizes, lanes and prepared batches', () => {
  it('dispatches the largest preferred batch size it can form, without waiting for the delay', async () => {
    const clock = fakeClock();
    const r = controlledRunner();
    const b = createBatcher<number, number>({ maxBatchSize: 16, maxQueueDelayMs: 1000, run: r.run, clock });
    const opts = { maxBatchSize: 16, preferredBatchSizes: [4, 8] };
    const ps = [1, 2, 3].map((i) => b.push('k', i, opts));
    await flush();
    assert.equal(r.batches.length, 0, 'three items form no preferred size: they wait');
    ps.push(b.push('k', 4, opts));
    await flush();
    assert.deepEqual(r.batches[0]!.items, [1, 2, 3, 4], 'four is a preferred size: dispatched at once');
    const more = [5, 6, 7, 8, 9, 10, 11, 12, 13].map((i) => b.push('k', i, opts));
    r.batches[0]!.done();
    await flush();
    assert.deepEqual(r.batches[1]!.items, [5, 6, 7, 8, 9, 10, 11, 12], 'nine waiting: the largest preferred size (8) goes');
    r.batches[1]!.done();
    await flush();
    assert.equal(r.batches.length, 2, 'the one left waits for the delay');
    await clock.advance(1000);
    assert.deepEqual(r.batches[2]!.items, [13]);
    r.batches[2]!.done();
    await Promise.all([...ps, ...more]);
  });

  it('runs lanes independently and prepares the next batch of a lane while one runs', async () => {
    const clock = fakeClock();
    const r = controlledRunner();
    const b = createBatcher<number, number>({ maxBatchSize: 2, maxQueueDelayMs: 1000, run: r.run, clock, maxInFlightPerLane: 2, laneOf: (k) => k.split('|')[0]! });
    const ps = [1, 2, 3, 4, 5, 6].map((i) => b.push('cls|a', i));
    const other = b.push('det|a', 100);
    await clock.advance(1000);
    assert.deepEqual(r.batches.map((x) => x.items), [[1, 2], [3, 4], [100]], 'two batches of cls in flight, and det beside them');
    assert.equal(b.inFlight(), 3);
    assert.equal(b.depth(), 2);
    r.batches[0]!.done();
    await flush();
    assert.deepEqual(r.batches[3]!.items, [5, 6], 'a cls slot freed: the next batch is prepared');
    for (const x of r.batches.slice(1)) x.done();
    await Promise.all([...ps, other]);
    assert.equal(b.inFlight(), 0);
  });

  it('does not spin on a timer while its lane is full', async () => {
    const clock = fakeClock();
    const r = controlledRunner();
    const b = createBatcher<number, number>({ maxBatchSize: 8, maxQueueDelayMs: 5, run: r.run, clock });
    const first = b.push('k', 1);
    await clock.advance(5);
    assert.equal(r.batches.length, 1);
    const second = b.push('k', 2);
    await clock.advance(50);
    assert.equal(clock.pending(), 0, 'no timer armed while the only lane is busy');
    r.batches[0]!.done();
    await flush();
    assert.deepEqual(r.batches[1]!.items, [2], 'dispatched as soon as the lane has room (its delay had passed)');
    r.batches[1]!.done();
    await Promise.all([first, second]);
  });
});

describe('inferencer admission (the intake bound)', () => {
  it('admits within the item and byte bounds, refuses beyond them, releases once', () => {
    const a = createAdmission({ maxItems: 2, maxBytes: 100 });
    const r1 = a.tryAcquire(40)!;
    const r2 = a.tryAcquire(40)!;
    assert.equal(typeof r1, 'function');
    assert.equal(typeof r2, 'function');
    assert.equal(a.tryAcquire(10), undefined, 'items bound: two are held');
    r1();
    r1();
    assert.equal(a.items, 1, 'a release counts once');
    assert.equal(a.tryAcquire(70), undefined, 'bytes bound: 40 + 70 > 100');
    const r3 = a.tryAcquire(60)!;
    assert.equal(a.bytes, 100);
    r2();
    r3();
    assert.deepEqual([a.items, a.bytes], [0, 0]);
  });

  it('says when an item could never fit, and applies new bounds at once', () => {
    const a = createAdmission({ maxItems: 1, maxBytes: 100 });
    assert.equal(a.exceedsBound(101), true);
    assert.equal(a.exceedsBound(100), false);
    const held = a.tryAcquire(1)!;
    a.resize({ maxItems: 2, maxBytes: 100 });
    assert.ok(a.tryAcquire(1), 'room after the resize');
    held();
    assert.equal(a.maxItems, 2);
  });
});
