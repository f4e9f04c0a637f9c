import assert from 'node:assert/strict';
import { doneParts, holdState, mergeAck, timeoutDecision, type AckSnapshot, type PartAck, type PartLease, type TimedItem } from '@edgeml/watcher';

const ack = (part: string, outcome: PartAck['outcome'] = 'uploaded', at = 1): PartAck => ({ part, outcome, module: 'uploader', at });
const empty: AckSnapshot = { expectedParts: [], acks: [] };

describe('watcher/item-state: acknowledgement merging', () => {
  it('completes when every expected part is uploaded, in any order', () => {
    const parts = ['artifact', 'result:cls', 'result:det'];
    let s: AckSnapshot = empty;
    const r1 = mergeAck(s, ack('result:det'), parts);
    assert.equal(r1.verdict, 'waiting');
    assert.deepEqual(r1.missing, ['artifact', 'result:cls']);
    s = r1;
    const r2 = mergeAck(s, ack('artifact'), parts);
    assert.equal(r2.verdict, 'waiting');
    const r3 = mergeAck(r2, ack('result:cls'), parts);
    assert.equal(r3.verdict, 'completed');
    assert.deepEqual(r3.missing, []);
  });

  it('expected parts are the union of what every producer said', () => {
    const r1 = mergeAck(empty, ack('artifact'), ['artifact']);
    assert.equal(r1.verdict, 'completed', 'on its own, artifact closes an "other" file');
    const r2 = mergeAck(mergeAck(empty, ack('artifact'), ['artifact', 'result:cls']), ack('result:cls'), ['result:cls']);
    assert.equal(r2.verdict, 'completed');
    const r3 = mergeAck(mergeAck(empty, ack('result:cls'), ['result:cls']), ack('artifact'), ['artifact', 'result:cls', 'result:det']);
    assert.equal(r3.verdict, 'waiting');
    assert.deepEqual(r3.missing, ['result:det']);
  });

  it('a part outside its own expectedParts still counts as expected', () => {
    const r = mergeAck(empty, ack('extra'), ['artifact']);
    assert.deepEqual([...r.expectedParts].sort(), ['artifact', 'extra']);
    assert.equal(r.verdict, 'waiting');
  });

  it('any dead-lettered part dead-letters the source at once', () => {
    const r = mergeAck(empty, ack('transform', 'deadLettered'), ['transform']);
    assert.equal(r.verdict, 'deadLettered');
    const r2 = mergeAck(mergeAck(empty, ack('artifact'), ['artifact', 'result:cls']), ack('result:cls', 'deadLettered'), ['artifact', 'result:cls']);
    assert.equal(r2.verdict, 'deadLettered');
  });

  it('duplicates change nothing; deadLettered overrides an earlier uploaded for the same part', () => {
    const s = mergeAck(empty, ack('artifact'), ['artifact', 'result:cls']);
    const d = mergeAck(s, ack('artifact', 'uploaded', 2), ['artifact', 'result:cls']);
    assert.equal(d.verdict, 'duplicate');
    assert.equal(d.changed, false);
    assert.equal(d.acks[0]!.at, 1, 'the first outcome stands');
    const o = mergeAck(s, ack('artifact', 'deadLettered', 3), ['artifact', 'result:cls']);
    assert.equal(o.verdict, 'deadLettered');
    assert.equal(o.changed, true);
    const back = mergeAck(o, ack('artifact', 'uploaded', 4), ['artifact']);
    assert.equal(back.acks[0]!.outcome, 'deadLettered', 'uploaded never overrides deadLettered');
  });
});

describe('watcher/item-state: completion timeouts and leases (fake clock)', () => {
  const opts = { completionTimeoutMs: 1000, maxAttempts: 3 };
  const item = (over: Partial<TimedItem> = {}): TimedItem => ({ attempts: 1, clockAt: 5000, retryAt: null, expectedParts: [], acks: [], leases: [], ...over });
  const lease = (part: string, expiresAt: number): PartLease => ({ part, module: 'uploader', expiresAt });

  it('waits until the timeout, re-emits while attempts remain, then dead-letters', () => {
    assert.deepEqual(timeoutDecision(item(), 5999, opts), { action: 'wait', dueAt: 6000 });
    assert.deepEqual(timeoutDecision(item(), 6000, opts), { action: 'reemit' });
    assert.deepEqual(timeoutDecision(item({ attempts: 2 }), 9000, opts), { action: 'reemit' });
    assert.deepEqual(timeoutDecision(item({ attempts: 3 }), 9000, opts), { action: 'deadLetter' });
    assert.deepEqual(timeoutDecision(item({ clockAt: 0 }), 10, { completionTimeoutMs: 1000, maxAttempts: 1 }), { action: 'wait', dueAt: 1000 });
    assert.deepEqual(timeoutDecision(item({ clockAt: 0 }), 1000, { completionTimeoutMs: 1000, maxAttempts: 1 }), { action: 'deadLetter' });
  });

  it('a deferred item waits for its retry time, then is offered again (no attempt)', () => {
    assert.deepEqual(timeoutDecision(item({ retryAt: 8000, attempts: 3 }), 7000, opts), { action: 'wait', dueAt: 8000 });
    assert.deepEqual(timeoutDecision(item({ retryAt: 8000, attempts: 3 }), 8000, opts), { action: 'retry' });
  });

  it('does not run while every missing part is held under a live lease, however long that lasts', () => {
    const held = item({ attempts: 3, expectedParts: ['artifact', 'result:cls'], acks: [ack('result:cls')], leases: [lease('artifact', 1_000_000)] });
    assert.deepEqual(holdState(held, 50_000), { held: true, heldParts: ['artifact'], nextExpiryAt: 1_000_000 });
    for (const now of [6_000, 60_000, 999_999]) assert.deepEqual(timeoutDecision(held, now, opts), { action: 'wait', dueAt: 1_000_000 }, `at ${now}`);
    assert.deepEqual(doneParts(held, 50_000), ['artifact', 'result:cls'], 'held parts are named done: only parts nobody holds are produced again');
  });

  it('a lease that runs out brings the source back at once (no attempt), whatever the attempts', () => {
    const lapsed = item({ attempts: 3, expectedParts: ['artifact', 'result:cls'], leases: [lease('artifact', 7000), lease('result:cls', 90_000)] });
    assert.deepEqual(timeoutDecision(lapsed, 7000, opts), { action: 'leaseExpired', parts: ['artifact'] });
    assert.deepEqual(doneParts(lapsed, 7000), ['result:cls'], 'the lapsed part is redone, the one still held is not');
  });

  it('with a part nobody holds the timer runs as usual (the held part is skipped when re-emitted)', () => {
    const partly = item({ expectedParts: ['artifact', 'result:cls'], leases: [lease('artifact', 90_000)] });
    assert.equal(holdState(partly, 5500).held, false);
    assert.deepEqual(timeoutDecision(partly, 5500, opts), { action: 'wait', dueAt: 6000 });
    assert.deepEqual(timeoutDecision(partly, 6000, opts), { action: 'reemit' });
    assert.deepEqual(doneParts(partly, 6000), ['artifact']);
  });
});
