import assert from 'node:assert/strict';
import { Registry } from '@edgeml/shared';
import { WorkSlots, createTransformerMetrics, type SlotLimits } from '@edgeml/transformer';

describe('transformer/slots (bounded concurrency, bounded wait queue)', () => {
  const make = (limits: { -readonly [K in keyof SlotLimits]: SlotLimits[K] }) => {
    const metrics = createTransformerMetrics(new Registry());
    return { slots: new WorkSlots(() => limits, { inFlight: metrics.inFlight, queued: metrics.queued }), limits };
  };

  it('runs maxConcurrentItems at once, queues the rest in order, and is full when the queue is', async () => {
    const { slots } = make({ maxConcurrentItems: 2, maxQueuedItems: 2 });
    assert.equal(await slots.acquire(), true);
    assert.equal(await slots.acquire(), true);
    assert.equal(slots.isFull(), false);
    const order: string[] = [];
    const third = slots.acquire().then((go) => order.push(`third:${go}`));
    const fourth = slots.acquire().then((go) => order.push(`fourth:${go}`));
    assert.deepEqual([slots.active, slots.queued, slots.isFull()], [2, 2, true]);
    slots.release();
    await third;
    assert.deepEqual(order, ['third:true']);
    slots.release();
    await fourth;
    assert.deepEqual(order, ['third:true', 'fourth:true']);
    assert.deepEqual([slots.active, slots.queued], [2, 0]);
  });

  it('a larger maxConcurrentItems admits waiting items at once', async () => {
    const { slots, limits } = make({ maxConcurrentItems: 1, maxQueuedItems: 5 });
    await slots.acquire();
    const waiting = [slots.acquire(), slots.acquire()];
    limits.maxConcurrentItems = 3;
    slots.admitWaiting();
    assert.deepEqual(await Promise.all(waiting), [true, true]);
    assert.equal(slots.active, 3);
  });

  it('cancelWaiting sends queued items away (false); idle resolves when the last running item ends', async () => {
    const { slots } = make({ maxConcurrentItems: 1, maxQueuedItems: 5 });
    await slots.acquire();
    const waiting = slots.acquire();
    let idle = false;
    const idlePromise = slots.idle().then(() => (idle = true));
    slots.cancelWaiting();
    assert.equal(await waiting, false);
    await Promise.resolve();
    assert.equal(idle, false, 'one item still runs');
    slots.release();
    await idlePromise;
    assert.equal(idle, true);
    await slots.idle();
  });
});
