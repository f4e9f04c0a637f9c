/** The training fit (pure): robust centre and spread, the threshold, bad input. */
import assert from 'node:assert/strict';
import { fitAnomalyModel, quantile, scoreRow } from '../../../training/src/fit.js';

describe('training fit (standardised distance)', () => {
  it('the fit is robust: a few far rows do not move the centre or the spread much, and score above the threshold', () => {
    const rows = Array.from({ length: 200 }, (_, i) => [Math.sin(i), Math.cos(i)]);
    const clean = fitAnomalyModel(rows);
    const dirty = fitAnomalyModel([...rows, [40, 40], [50, -50]]);
    for (let c = 0; c < 2; c++) {
      assert.ok(Math.abs(dirty.center[c]! - clean.center[c]!) < 0.05);
      assert.ok(Math.abs(dirty.scale[c]! / clean.scale[c]! - 1) < 0.05);
    }
    assert.ok(scoreRow([40, 40], dirty.center, dirty.scale) > dirty.threshold);
    assert.ok(rows.every((r) => scoreRow(r, dirty.center, dirty.scale) < dirty.threshold));
    assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
    assert.throws(() => fitAnomalyModel([]), /no training rows/);
    // A constant column gets scale 1 instead of a division by zero.
    assert.deepEqual(fitAnomalyModel([[1, 5], [2, 5], [3, 5]]).scale[1], 1);
  });
});
