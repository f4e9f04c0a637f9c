import assert from 'node:assert/strict';
import { checkIntervalMs, StabilityTracker } from '@edgeml/watcher';

describe('watcher/stability (fake clock)', () => {
  const obs = (sizeBytes: number, mtimeMs = 1000) => ({ sizeBytes, mtimeMs });

  it('needs both the window and the number of checks', () => {
    const t = new StabilityTracker({ windowMs: 1000, checks: 3 });
    assert.equal((t.observe('a', obs(10), 0) as { stable: boolean }).stable, false);
    // Window passed but only two checks.
    assert.equal((t.observe('a', obs(10), 1500) as { stable: boolean }).stable, false);
    assert.equal((t.observe('a', obs(10), 1600) as { stable: boolean }).stable, true);
    // Many checks within the window are not enough.
    const u = new StabilityTracker({ windowMs: 1000, checks: 3 });
    for (const now of [0, 100, 200, 300, 900]) assert.equal((u.observe('b', obs(5), now) as { stable: boolean }).stable, false);
    assert.equal((u.observe('b', obs(5), 1000) as { stable: boolean }).stable, true);
  });

  it('restarts the window on any size or mtime change (a preallocated file whose bytes arrive)', () => {
    const t = new StabilityTracker({ windowMs: 1000, checks: 2 });
    t.observe('f', obs(100, 1), 0);
    const v1 = t.observe('f', obs(100, 2), 900); // same size, new mtime: Samba writing into a preallocated file
    assert.equal((v1 as { stable: boolean }).stable, false);
    assert.equal((t.observe('f', obs(100, 2), 1800) as { stable: boolean }).stable, false);
    const v = t.observe('f', obs(100, 2), 1900) as { stable: boolean; firstSeenAt: number; unchangedSinceAt: number };
    assert.equal(v.stable, true);
    assert.equal(v.firstSeenAt, 0, 'first sighting is kept across changes (detectedAt)');
    assert.equal(v.unchangedSinceAt, 900);
  });

  it('reset makes the next observation count as a change', () => {
    const t = new StabilityTracker({ windowMs: 100, checks: 2 });
    t.observe('x', obs(1), 0);
    assert.equal((t.observe('x', obs(1), 200) as { stable: boolean }).stable, true);
    t.reset('x');
    assert.equal((t.observe('x', obs(1), 300) as { stable: boolean }).stable, false);
    assert.equal((t.observe('x', obs(1), 400) as { stable: boolean }).stable, true);
  });

  it('is bounded: new keys beyond maxTracked are refused and counted', () => {
    const t = new StabilityTracker({ windowMs: 0, checks: 1 }, 2);
    t.observe('a', obs(1), 0);
    t.observe('b', obs(1), 0);
    assert.deepEqual(t.observe('c', obs(1), 0), { tracked: false });
    assert.equal(t.refused, 1);
    t.forget('a');
    assert.notDeepEqual(t.observe('c', obs(1), 0), { tracked: false });
    assert.equal(t.size, 2);
  });

  it('new options apply to tracked files', () => {
    const t = new StabilityTracker({ windowMs: 10_000, checks: 5 });
    t.observe('a', obs(1), 0);
    t.setOptions({ windowMs: 100, checks: 2 });
    assert.equal((t.observe('a', obs(1), 200) as { stable: boolean }).stable, true);
  });

  it('spreads the checks over the window', () => {
    assert.equal(checkIntervalMs({ windowMs: 2000, checks: 3 }), 1000);
    assert.equal(checkIntervalMs({ windowMs: 0, checks: 1 }), 50);
    assert.equal(checkIntervalMs({ windowMs: 3_600_000, checks: 2 }), 5000);
  });
});
