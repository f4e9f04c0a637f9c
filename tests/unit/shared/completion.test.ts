import assert from 'node:assert/strict';
import { buildCompletion, completionOutput, parseMessage, SCHEMAS } from '@edgeml/shared';

const ref = { id: 'b'.repeat(64), part: 'artifact', expectedParts: ['artifact', 'result:cls'] };
const t0 = new Date('2026-12-03T10:00:00.000Z');
const t1 = new Date('2026-12-03T10:00:05.000Z');

describe('shared/contracts/completion', () => {
  it('builds every outcome as a valid edgeml.completion/v1', () => {
    const all = [
      buildCompletion('uploader', ref, 'uploaded', { blob: { sink: 'blob', name: 'a/b.png', md5: 'x' } }, t0),
      buildCompletion('uploader', ref, 'deadLettered', { code: 'INPUT_MALFORMED', reason: 'bad' }, t0),
      buildCompletion('uploader', ref, 'deferred', { code: 'QUOTA_EXCEEDED', reason: 'full', retryAfterMs: 30_000 }, t0),
      buildCompletion('uploader', ref, 'held', { code: 'SINK_UNREACHABLE', reason: 'queued', leaseMs: 60_000 }, t0),
    ];
    for (const c of all) assert.deepEqual(parseMessage(JSON.stringify(c), SCHEMAS.completion), c);
  });

  it('gives a repeated final outcome the same id and every lease renewal or deferral its own', () => {
    const up = (at: Date) => buildCompletion('uploader', ref, 'uploaded', { blob: { sink: 'blob', name: 'n', md5: 'm' } }, at).messageId;
    assert.equal(up(t0), up(t1));
    const held = (at: Date) => buildCompletion('uploader', ref, 'held', { leaseMs: 60_000 }, at).messageId;
    assert.notEqual(held(t0), held(t1));
    const deferred = (at: Date) => buildCompletion('uploader', ref, 'deferred', { retryAfterMs: 1000 }, at).messageId;
    assert.notEqual(deferred(t0), deferred(t1));
    assert.notEqual(up(t0), buildCompletion('inferencer', ref, 'uploaded', { blob: { sink: 'blob', name: 'n', md5: 'm' } }, t0).messageId);
  });

  it('refuses a held without leaseMs and a deferred without retryAfterMs, in the builder and in the schema', () => {
    assert.throws(() => buildCompletion('uploader', ref, 'held', {}, t0), RangeError);
    assert.throws(() => buildCompletion('uploader', ref, 'deferred', {}, t0), RangeError);
    const held = { ...buildCompletion('uploader', ref, 'held', { leaseMs: 5000 }, t0) } as Record<string, unknown>;
    delete held['leaseMs'];
    assert.throws(() => parseMessage(JSON.stringify(held), SCHEMAS.completion), /leaseMs/);
  });

  it('cuts the reason to the schema limit and puts the routing fields in the application properties', () => {
    const c = buildCompletion('transformer', ref, 'deadLettered', { code: 'INPUT_MALFORMED', reason: 'x'.repeat(10_000) }, t0);
    assert.equal(c.reason?.length, 4096);
    const out = completionOutput(c);
    assert.equal(out.messageId, c.messageId);
    assert.deepEqual(out.properties, { schema: SCHEMAS.completion, outcome: 'deadLettered', part: 'artifact', module: 'transformer', code: 'INPUT_MALFORMED' });
  });
});
