import assert from 'node:assert/strict';
import { Candidates, EventFlood, FLOOD_EVENTS, FLOOD_QUIET_MS } from '@edgeml/watcher';

describe('watcher/candidates: when each path is looked at again (fake clock)', () => {
  const obs = (sizeBytes: number, mtimeMs = 1000) => ({ sizeBytes, mtimeMs });
  const stable = (v: unknown): boolean => (v as { stable: boolean }).stable;

  it('follows a file being written closely, then waits for the window from its last change', () => {
    const c = new Candidates({ windowMs: 1000, checks: 2 }, 100);
    c.observe('a', obs(0), 0);
    assert.equal(c.nextDueAt(), 100, 'first seen: looked at again soon');
    assert.deepEqual(c.takeDue(100), ['a']);
    c.observe('a', obs(500, 1090), 100); // filled meanwhile
    assert.equal(c.nextDueAt(), 200, 'changed: looked at again soon');
    c.observe('a', obs(500, 1090), 200);
    assert.equal(c.nextDueAt(), 1100, 'unchanged: the count is complete, the window closes 1000 ms after the last change');
    assert.deepEqual(c.takeDue(1099), []);
    assert.equal(stable(c.observe('a', obs(500, 1090), 1100)), true);
    assert.equal(c.nextDueAt(), undefined);
  });

  it('spreads the checks that are still missing over the window', () => {
    const c = new Candidates({ windowMs: 3000, checks: 4 }, 100);
    c.observe('b', obs(1), 0);
    assert.equal(c.nextDueAt(), 100);
    c.observe('b', obs(1), 100);
    assert.equal(c.nextDueAt(), 1100, 'window / (checks - 1) from this look');
    c.observe('b', obs(1), 1100);
    assert.equal(c.nextDueAt(), 3000, 'the check that completes the count: when the window closes');
    assert.equal(stable(c.observe('b', obs(1), 3000)), true);
  });

  it('a short window is not stretched by the fresh look (spacing below 100 ms)', () => {
    const c = new Candidates({ windowMs: 40, checks: 2 }, 100);
    c.observe('d', obs(1), 0);
    assert.equal(c.nextDueAt(), 40);
  });
});

describe('watcher/inventory-scan: an inventory follows a flood of filesystem events', () => {
  it('is due FLOOD_QUIET_MS after the last of at least FLOOD_EVENTS events, and not for fewer', () => {
    const f = new EventFlood();
    for (let i = 0; i < FLOOD_EVENTS - 1; i++) f.note(i);
    assert.equal(f.dueAt(), undefined, 'a few hundred events are not a flood');
    f.note(5_000);
    assert.equal(f.dueAt(), 5_000 + FLOOD_QUIET_MS);
    f.note(6_000);
    assert.equal(f.dueAt(), 6_000 + FLOOD_QUIET_MS, 'still flooding: it waits for the pause');
    f.reset();
    assert.equal(f.dueAt(), undefined);
  });
});
