import assert from 'node:assert/strict';
import { ActivityWindow } from '@edgeml/shared';

describe('stage activity over the last minute (ActivityWindow)', () => {
  const clock = (start = 1_000_000): { now: () => number; advance: (ms: number) => void } => {
    let t = start;
    return { now: () => t, advance: (ms) => (t += ms) };
  };

  it('reports items/s and nearest-rank p50/p99 of the items finished within the window', () => {
    const c = clock();
    const w = new ActivityWindow({ now: c.now, windowMs: 60_000 });
    assert.deepEqual(w.summary(), { windowMs: 60_000, items: 0, perSecond: 0, p50Ms: null, p99Ms: null });
    c.advance(60_000);
    for (let i = 1; i <= 100; i++) w.record(i * 10); // 10 … 1000 ms
    const s = w.summary();
    assert.equal(s.items, 100);
    assert.equal(s.perSecond, 1.67); // 100 items in the last 60 s
    assert.equal(s.p50Ms, 500);
    assert.equal(s.p99Ms, 990);
  });

  it('forgets items older than the window and rates a young stage over its age (at least 1 s)', () => {
    const c = clock();
    const w = new ActivityWindow({ now: c.now, windowMs: 10_000 });
    c.advance(2_000);
    w.record(5);
    w.record(7);
    assert.equal(w.summary().perSecond, 1, '2 items in the 2 s since start');
    c.advance(10_500);
    w.record(100);
    const s = w.summary();
    assert.deepEqual([s.items, s.p50Ms, s.p99Ms], [1, 100, 100], 'the two items recorded 10.5 s ago are outside the 10 s window');
  });

  it('times an item from start() to its finish, and counts bad durations as 0', () => {
    const c = clock();
    const w = new ActivityWindow({ now: c.now });
    const finished = w.start();
    c.advance(250);
    finished();
    w.record(-5);
    w.record(Number.NaN);
    const s = w.summary();
    assert.deepEqual([s.items, s.p50Ms, s.p99Ms], [3, 0, 250]);
  });

  it('keeps at most maxSamples, overwriting the oldest', () => {
    const c = clock();
    const w = new ActivityWindow({ now: c.now, maxSamples: 3 });
    for (const ms of [1, 2, 3, 4, 5]) w.record(ms);
    const s = w.summary();
    assert.deepEqual([s.items, s.p50Ms, s.p99Ms], [3, 4, 5]);
  });
});
