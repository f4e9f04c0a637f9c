/** The `anomaly` post-processor (pure): scores per row, flagged table rows, spec checks. */
import assert from 'node:assert/strict';
import { anomalyPostprocessor, postprocessorProblems, scoreRows } from '@edgeml/inferencer';

const out = (values: number[]) => [{ name: 'scores', dtype: 'float32', data: Float32Array.from(values), dims: [1, values.length] }];

describe('anomaly post-processor', () => {
  it('scores every row, flags those above the threshold as table rows (highest first), label and score for routes', () => {
    const r = scoreRows(out([0.5, 4, 1, 7]), { kind: 'anomaly', threshold: 3 }, { labels: [], geometry: undefined, firstRow: 128 });
    assert.deepEqual(r.outputs, { label: 'anomaly', firstRow: 128, rows: 4, scores: [0.5, 4, 1, 7], flagged: [{ row: 131, score: 7 }, { row: 129, score: 4 }], flaggedCount: 2, maxScore: 7, threshold: 3 });
    assert.deepEqual([r.label, r.score], ['anomaly', 7]);
    const normal = scoreRows(out([0.5, 1]), { kind: 'anomaly', threshold: 3, maxFlagged: 0 }, { labels: [], geometry: undefined });
    assert.deepEqual([normal.label, (normal.outputs as { firstRow: number }).firstRow], ['normal', 0]);
    assert.equal((scoreRows(out([5, 6]), { kind: 'anomaly', threshold: 3, maxFlagged: 1 }, { labels: [], geometry: undefined }).outputs as { flagged: unknown[]; flaggedCount: number }).flaggedCount, 2);
  });

  it('a non-finite score fails the item; a spec without a finite threshold is refused', () => {
    assert.throws(() => scoreRows(out([1, Number.NaN]), { kind: 'anomaly', threshold: 3 }, { labels: [], geometry: undefined }), /non-finite score at row 1/);
    assert.deepEqual(postprocessorProblems({ kind: 'anomaly' }), ['/postprocessor/threshold: must be a finite number']);
    assert.deepEqual(anomalyPostprocessor.problems?.({ kind: 'anomaly', threshold: 1, maxFlagged: -1 }), ['/maxFlagged: an integer from 0 to 65536']);
  });
});
