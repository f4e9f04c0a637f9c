import assert from 'node:assert/strict';
import { HashSlots } from '@edgeml/watcher';

/** A read that ends when told to. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('watcher/hash-slots: stable reads and early reads share hashConcurrency', () => {
  it('never runs more reads than the limit, and gives a freed slot to a stable read before a queued early one', async () => {
    const slots = new HashSlots(2);
    const order: string[] = [];
    const gates = new Map<string, ReturnType<typeof gate>>();
    const read = (name: string) => async (): Promise<void> => {
      order.push(name);
      const g = gate();
      gates.set(name, g);
      await g.promise;
    };
    slots.early('e1', read('e1'));
    slots.early('e2', read('e2'));
    slots.early('e3', read('e3'));
    const stable = slots.run(read('s1'));
    await tick();
    assert.deepEqual(order, ['e1', 'e2'], 'two slots, both taken by early reads');
    assert.equal(slots.busy, 2);
    gates.get('e1')!.open();
    await tick();
    assert.deepEqual(order, ['e1', 'e2', 's1'], 'the stable read before the queued early read');
    assert.equal(slots.busy, 2);
    gates.get('s1')!.open();
    await stable;
    await tick();
    assert.deepEqual(order, ['e1', 'e2', 's1', 'e3']);
    gates.get('e2')!.open();
    gates.get('e3')!.open();
    await tick();
    await tick();
    assert.equal(slots.busy, 0);
  });

  it('settle drops a queued early read and waits for one under way; asking twice reads once', async () => {
    const slots = new HashSlots(1);
    const started: string[] = [];
    const g = gate();
    slots.early('a', async () => {
      started.push('a');
      await g.promise;
    });
    slots.early('a', () => Promise.resolve(void started.push('a again')));
    slots.early('b', () => Promise.resolve(void started.push('b')));
    assert.equal(slots.settle('b'), undefined, 'b was only queued: dropped, nothing to wait for');
    const running = slots.settle('a');
    assert.ok(running !== undefined, 'a is under way');
    let settled = false;
    void running.then(() => (settled = true));
    await tick();
    assert.equal(settled, false);
    g.open();
    await running;
    await tick();
    assert.deepEqual(started, ['a'], 'a read once, b never');
    assert.equal(slots.busy, 0);
  });
});
