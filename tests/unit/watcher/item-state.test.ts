import assert from 'node:assert/strict';
import { mergeAck, timeoutDecision, type AckSnapshot, type PartAck } from '@edgeml/watcher';

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

describe('watcher/item-state: completion timeouts (fake clock)', () => {
  const opts = { completionTimeoutMs: 1000, maxAttempts: 3 };
  it('waits until the timeout, re-emits while attempts remain, then dead-letters', () => {
    assert.deepEqual(timeoutDecision({ attempts: 1, lastEmittedAt: 5000 }, 5999, opts), { action: 'wait', dueAt: 6000 });
    assert.deepEqual(timeoutDecision({ attempts: 1, lastEmittedAt: 5000 }, 6000, opts), { action: 'reemit' });
    assert.deepEqual(timeoutDecision({ attempts: 2, lastEmittedAt: 5000 }, 9000, opts), { action: 'reemit' });
    assert.deepEqual(timeoutDecision({ attempts: 3, lastEmittedAt: 5000 }, 9000, opts), { action: 'deadLetter' });
    assert.deepEqual(timeoutDecision({ attempts: 1, lastEmittedAt: 0 }, 10, { completionTimeoutMs: 1000, maxAttempts: 1 }), { action: 'wait', dueAt: 1000 });
    assert.deepEqual(timeoutDecision({ attempts: 1, lastEmittedAt: 0 }, 1000, { completionTimeoutMs: 1000, maxAttempts: 1 }), { action: 'deadLetter' });
  });
});
