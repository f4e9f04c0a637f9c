import assert from 'node:assert/strict';
import { Candidates, EARLY_HASH_MAX_BYTES, EventFlood, FLOOD_EVENTS, FLOOD_QUIET_MS } from '@edgeml/watcher';

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

  it("the event source's lstat of a new file is its first look: the window runs from the event, the intake's look confirms it", () => {
    const c = new Candidates({ windowMs: 1000, checks: 2 }, 100);
    c.seen('n', obs(5), 0);
    assert.deepEqual(c.takeDue(0), ['n'], 'hinted: the intake looks at it (and classifies it) at the next tick');
    const v = c.observe('n', obs(5), 40);
    assert.ok(!('tracked' in v) && !v.stable);
    assert.equal(v.unchangedSinceAt, 0, 'unchanged since the event');
    assert.equal(v.checks, 2);
    assert.equal(c.nextDueAt(), 1000, 'the last check when the window from the event closes');
    assert.equal(stable(c.observe('n', obs(5), 1000)), true);
  });

  it("an event's figures that differ from the last look restart the count; the same figures never advance it", () => {
    const c = new Candidates({ windowMs: 1000, checks: 2 }, 100);
    c.observe('t', obs(0), 0); // created empty
    c.seen('t', obs(9, 1400), 400); // chokidar's stat behind `change`: filled
    assert.deepEqual(c.takeDue(400), ['t'], 'hinted: the intake looks at it soon');
    const v = c.observe('t', obs(9, 1400), 600);
    assert.ok(!('tracked' in v) && !v.stable);
    assert.equal(v.unchangedSinceAt, 400, 'the window runs from the change event, not from the later look');
    assert.equal(v.checks, 2, 'the event was the first look at these figures, the intake confirmed them');
    c.seen('t', obs(9, 1400), 700);
    assert.deepEqual(c.takeDue(700), [], 'the same figures as the last look, whose next check is set: no look sooner');
    assert.equal(c.nextDueAt(), 1400);
    c.seen('t', obs(9, 1400), 1400);
    assert.deepEqual(c.takeDue(1399), []);
    assert.equal(stable(c.observe('t', obs(9, 1400), 1400)), true, 'the intake’s look completes the count');
  });

  it('an event alone never makes a file stable, and beyond the tracking bound it is only a hint', () => {
    const c = new Candidates({ windowMs: 1000, checks: 3 }, 1);
    c.seen('t', obs(5), 0);
    c.seen('t', obs(5), 1500);
    const v = c.observe('t', obs(5), 1600);
    assert.ok(!('tracked' in v) && !v.stable, 'three looks were needed: two events and one lstat are not enough');
    assert.equal(v.checks, 2, 'the second event with the same figures did not count as a look');
    c.seen('u', obs(1), 2100);
    assert.deepEqual(c.takeDue(2100).sort(), ['t', 'u'], "'t' due for its last check, 'u' hinted though not tracked");
    assert.equal(c.refused, 0, 'the event for an untracked path beyond the bound was not counted as refused');
    assert.equal(c.unstable, 1);
  });

  it('a short window is not stretched by the fresh look (spacing below 100 ms)', () => {
    const c = new Candidates({ windowMs: 40, checks: 2 }, 100);
    c.observe('d', obs(1), 0);
    assert.equal(c.nextDueAt(), 40);
  });
});

describe('watcher/candidates: a hash taken ahead of the last check (fake clock)', () => {
  const obs = (sizeBytes: number, mtimeMs = 1000) => ({ sizeBytes, mtimeMs });
  type Verdict = Parameters<Candidates['wantsEarlyHash']>[1];
  const look = (c: Candidates, rel: string, o: { sizeBytes: number; mtimeMs: number }, at: number): Verdict => {
    const v = c.observe(rel, o, at);
    assert.ok(!('tracked' in v));
    return v;
  };

  it('is wanted once the file was seen unchanged and the next check is the last, and used only at that size and mtime', () => {
    const c = new Candidates({ windowMs: 1000, checks: 2 }, 100);
    const first = look(c, 'a', obs(5), 0);
    assert.equal(c.wantsEarlyHash('a', first, obs(5)), false, 'first sight proves nothing: often a file just created');
    const second = look(c, 'a', obs(5), 100);
    assert.equal(c.wantsEarlyHash('a', second, obs(5)), true);
    c.earlyHashed('a', { sha256: 'h5', sizeBytes: 5, mtimeMs: 1000, startedAt: 100 });
    assert.equal(c.wantsEarlyHash('a', second, obs(5)), false, 'already hashed at this size and mtime');
    assert.equal(c.earlyHashFor('a', obs(5), 0), 'h5');
    assert.equal(c.earlyHashFor('a', obs(5, 1001), 0), undefined, 'another mtime: not this content');
    assert.equal(c.earlyHashFor('a', obs(6), 0), undefined, 'another size: not this content');
    assert.equal(c.earlyHashFor('a', obs(5), 101), undefined, 'read before the size and mtime were seen as they are: not proven unchanged since');
  });

  it('a file changed after its early hash is hashed again, and the old hash is never used for it', () => {
    const c = new Candidates({ windowMs: 1000, checks: 2 }, 100);
    look(c, 'b', obs(5), 0);
    look(c, 'b', obs(5), 100);
    c.earlyHashed('b', { sha256: 'old', sizeBytes: 5, mtimeMs: 1000, startedAt: 100 });
    const changed = look(c, 'b', obs(5, 1500), 600);
    assert.equal(changed.unchangedSinceAt, 600);
    assert.equal(c.earlyHashFor('b', obs(5, 1500), changed.unchangedSinceAt), undefined);
    const again = look(c, 'b', obs(5, 1500), 700);
    assert.equal(c.wantsEarlyHash('b', again, obs(5, 1500)), true, 'new mtime: hashed again');
    c.restart('b', 800);
    assert.equal(c.earlyHashFor('b', obs(5, 1500), 0), undefined, 'a restart (changed while read) drops the early hash');
  });

  it('a failed early read is not retried early (the read once stable counts), and big files are never read early', () => {
    const c = new Candidates({ windowMs: 1000, checks: 2 }, 100);
    look(c, 'c', obs(5), 0);
    const v = look(c, 'c', obs(5), 100);
    c.earlyHashFailed('c');
    assert.equal(c.wantsEarlyHash('c', v, obs(5)), false);
    assert.equal(c.earlyHashFor('c', obs(5), 0), undefined);
    const big = obs(EARLY_HASH_MAX_BYTES + 1);
    look(c, 'd', big, 0);
    assert.equal(c.wantsEarlyHash('d', look(c, 'd', big, 100), big), false);
    c.forget('c');
    look(c, 'c', obs(5), 200);
    assert.equal(c.wantsEarlyHash('c', look(c, 'c', obs(5), 300), obs(5)), true, 'forgotten and seen anew: early reads again');
  });

  it('with more checks, only the look before the last one asks for it; untracked paths keep nothing', () => {
    const c = new Candidates({ windowMs: 3000, checks: 4 }, 100);
    look(c, 'e', obs(1), 0);
    assert.equal(c.wantsEarlyHash('e', look(c, 'e', obs(1), 100), obs(1)), false, 'two more checks to go');
    assert.equal(c.wantsEarlyHash('e', look(c, 'e', obs(1), 1100), obs(1)), true, 'the next check completes the count');
    c.earlyHashed('z', { sha256: 'hz', sizeBytes: 1, mtimeMs: 1000, startedAt: 0 });
    assert.equal(c.earlyHashFor('z', obs(1), 0), undefined);
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
