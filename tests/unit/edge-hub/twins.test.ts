import assert from 'node:assert/strict';
import { applyMergePatch, mergePatchBetween, twinPatchProblems } from '@edgeml/edge-hub';

describe('edge-hub twin rules', () => {
  it('merges patches: objects recursively, null deletes, arrays replace', () => {
    const doc: Record<string, unknown> = { a: { b: 1, c: 2 }, list: [1, 2], gone: true };
    applyMergePatch(doc, { a: { c: null, d: 3 }, list: [9], gone: null });
    assert.deepEqual(doc, { a: { b: 1, d: 3 }, list: [9] });
  });

  it('computes the merge patch between two documents, which applied gives the second', () => {
    const from = { a: 1, gone: 'x', nested: { keep: 1, change: 2, drop: 3 }, list: [1], same: { s: 1 } };
    const to = { a: 1, nested: { keep: 1, change: 5, add: 4 }, list: [1, 2], fresh: true, same: { s: 1 } };
    const patch = mergePatchBetween(from, to);
    assert.deepEqual(patch, { gone: null, nested: { change: 5, drop: null, add: 4 }, list: [1, 2], fresh: true });
    const doc = structuredClone(from) as Record<string, unknown>;
    applyMergePatch(doc, patch);
    assert.deepEqual(doc, to);
  });

  it('refuses reported patches as edgeHub ReportedPropertiesValidator does, listing every problem', () => {
    const problems = twinPatchProblems({ 'a.b': 1, $x: 1, 'h#': 1, 'sp ace': 1, ok: { s: 'x'.repeat(4097), n: 2 ** 53, arr: [1, null] } });
    assert.equal(problems.length, 7, problems.join('\n'));
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 11; i++) deep = { n: deep };
    assert.ok(twinPatchProblems(deep).some((p) => p.includes('nesting')));
    assert.ok(twinPatchProblems({ big: 'x'.repeat(4000), b2: 'x'.repeat(4000), b3: 'x'.repeat(4000), b4: 'x'.repeat(4000), b5: 'x'.repeat(4000), b6: 'x'.repeat(4000), b7: 'x'.repeat(4000), b8: 'x'.repeat(4000), b9: 'x'.repeat(1000) }).some((p) => p.includes('32768')));
    assert.deepEqual(twinPatchProblems([1]), ['patch must be a JSON object']);
    assert.deepEqual(twinPatchProblems({ status: { ok: true, count: 3, list: ['a'] } }), []);
    assert.deepEqual(twinPatchProblems({ $version: 4, a: 1 }, { allowVersion: true }), []);
  });
});
