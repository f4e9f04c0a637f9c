import assert from 'node:assert/strict';
import type { ImageGeometry } from '@edgeml/shared';
import { classify, convexHull, dbBoxes, looksLikeProbabilities, minAreaRect, paddleCls, postprocess, rawSummary, rectCorners, softmax, toSource, unclip } from '@edgeml/inferencer';

const t = (data: number[], dims: number[], name = 'out') => ({ name, dtype: 'float32', data: Float32Array.from(data), dims });

describe('inferencer post-processors', () => {
  describe('classification', () => {
    it('applies softmax to logits, not to probabilities', () => {
      assert.equal(looksLikeProbabilities([0.2, 0.8]), true);
      assert.equal(looksLikeProbabilities([2, -1]), false);
      assert.equal(looksLikeProbabilities([0.2, 0.2]), false);
      const p = softmax([1000, 1000]);
      assert.deepEqual([...p], [0.5, 0.5]);
      const fromLogits = classify([t([2, 0, -1], [1, 3])], { kind: 'classification' }, { labels: ['a', 'b', 'c'], geometry: undefined });
      assert.equal(fromLogits.label, 'a');
      assert.ok(Math.abs(fromLogits.score! - Math.exp(2) / (Math.exp(2) + 1 + Math.exp(-1))) < 1e-9);
      const fromProbs = classify([t([0.1, 0.7, 0.2], [1, 3])], { kind: 'classification' }, { labels: ['a', 'b', 'c'], geometry: undefined });
      assert.ok(Math.abs(fromProbs.score! - 0.7) < 1e-6);
    });

    it('returns top-k with labels, names unlabelled classes by index, and applies the threshold', () => {
      const r = classify([t([0.1, 0.5, 0.15, 0.25], [1, 4])], { kind: 'classification', topK: 3 }, { labels: ['cat', 'dog'], geometry: undefined });
      const top = (r.outputs as { top: { label: string; score: number }[] }).top;
      assert.deepEqual(top.map((x) => x.label), ['dog', '3', '2']);
      const low = classify([t([0.4, 0.35, 0.25], [1, 3])], { kind: 'classification', threshold: 0.5, unknownLabel: 'unsure' }, { labels: [], geometry: undefined });
      assert.equal(low.label, 'unsure');
      assert.ok(Math.abs(low.score! - 0.4) < 1e-6);
    });

    it('paddle-cls: labels 0/180, rotate180 only above the rotate threshold', () => {
      const ctx = { labels: ['0', '180'], geometry: undefined };
      assert.equal((paddleCls([t([0.05, 0.95], [1, 2])], { kind: 'paddle-cls' }, ctx).outputs as { rotate180: boolean }).rotate180, true);
      const unsure = paddleCls([t([0.2, 0.8], [1, 2])], { kind: 'paddle-cls' }, ctx);
      assert.equal(unsure.label, '180');
      assert.equal((unsure.outputs as { rotate180: boolean }).rotate180, false);
    });
  });

  it('raw: shape, dtype, statistics and the first N values', () => {
    const r = rawSummary([t([1, 2, 3, 4], [1, 4])], { kind: 'raw', firstN: 2 });
    const [s] = (r.outputs as { tensors: { shape: number[]; min: number; max: number; mean: number; std: number; first: number[] }[] }).tensors;
    assert.deepEqual(s!.shape, [1, 4]);
    assert.equal(s!.min, 1);
    assert.equal(s!.max, 4);
    assert.equal(s!.mean, 2.5);
    assert.ok(Math.abs(s!.std - Math.sqrt(1.25)) < 1e-9);
    assert.deepEqual(s!.first, [1, 2]);
    assert.equal('first' in (rawSummary([t([1], [1])], { kind: 'raw' }).outputs as { tensors: object[] }).tensors[0]!, false);
  });

  describe('paddle-det (DB)', () => {
    it('fits minimum-area rectangles, also to rotated point sets', () => {
      const hull = convexHull([[0, 0], [10, 0], [10, 4], [0, 4], [5, 2]]);
      assert.equal(hull.length, 4);
      const r = minAreaRect(hull);
      assert.ok(Math.abs(r.width * r.height - 40) < 1e-6);
      const a = Math.PI / 6;
      const rot = hull.map(([x, y]) => [x * Math.cos(a) - y * Math.sin(a), x * Math.sin(a) + y * Math.cos(a)] as const);
      const rr = minAreaRect(convexHull(rot));
      assert.ok(Math.abs(rr.width * rr.height - 40) < 1e-6);
      const corners = rectCorners({ cx: 5, cy: 2, width: 10, height: 4, angle: 0 });
      assert.deepEqual(corners.map(([x, y]) => [Math.round(x), Math.round(y)]), [[0, 0], [10, 0], [10, 4], [0, 4]]);
      const grown = unclip({ cx: 0, cy: 0, width: 10, height: 4, angle: 0 }, 1.5);
      const d = (10 * 4 * 1.5) / 28;
      assert.ok(Math.abs(grown.width - (10 + 2 * d)) < 1e-9 && Math.abs(grown.height - (4 + 2 * d)) < 1e-9);
    });

    it('turns a probability map into boxes mapped back to source pixels through the geometry', () => {
      // 64×64 map, a 30×8 text block at (10,30) and a faint block that fails the box threshold.
      const W = 64;
      const H = 64;
      const map = new Float32Array(W * H);
      for (let y = 30; y < 38; y++) for (let x = 10; x < 40; x++) map[y * W + x] = 0.9;
      for (let y = 45; y < 51; y++) for (let x = 10; x < 40; x++) map[y * W + x] = 0.4;
      // Source 128×64 letterboxed into 64×64: scale 0.5, padTop 16.
      const g: ImageGeometry = { sourceWidth: 128, sourceHeight: 64, scaleX: 0.5, scaleY: 0.5, padLeft: 0, padTop: 16, cropLeft: 0, cropTop: 0, exifOrientation: 1 };
      const boxes = dbBoxes(map, H, W, { kind: 'paddle-det' }, g);
      assert.equal(boxes.length, 1);
      const b = boxes[0]!;
      const d = (30 * 8 * 1.5) / (2 * 38);
      // Tensor rect [10,40]×[30,38] grown by d, then (x/0.5, (y−16)/0.5).
      assert.ok(Math.abs(b.bbox.x - (10 - d) * 2) < 0.2, JSON.stringify(b));
      assert.ok(Math.abs(b.bbox.y - (30 - d - 16) * 2) < 0.2, JSON.stringify(b));
      assert.ok(Math.abs(b.bbox.width - (30 + 2 * d) * 2) < 0.3, JSON.stringify(b));
      assert.ok(Math.abs(b.score - 0.9) < 1e-4);
      assert.equal(b.points.length, 4);
      assert.deepEqual(toSource([0, 0], g), [0, 0], 'clamped to the image');
      const inTensor = postprocess({ kind: 'paddle-det' }, [t([...map], [1, 1, H, W])], { labels: [], geometry: undefined });
      assert.equal((inTensor.outputs as { coordinates: string }).coordinates, 'tensor');
    });

    it('drops regions smaller than minSizePx and caps the number of boxes', () => {
      const W = 40;
      const map = new Float32Array(W * W);
      map[5 * W + 5] = 1;
      for (let k = 0; k < 5; k++) for (let y = k * 8; y < k * 8 + 5; y++) for (let x = 2; x < 30; x++) map[y * W + x] = 0.95;
      const boxes = dbBoxes(map, W, W, { kind: 'paddle-det', maxBoxes: 3 }, undefined);
      assert.equal(boxes.length, 3);
    });

    it('refuses an output that is not one probability map', () => {
      assert.throws(() => postprocess({ kind: 'paddle-det' }, [t([1, 2, 3], [3])], { labels: [], geometry: undefined }), (e: { code?: string }) => e.code === 'INFERENCE_FAILED');
    });
  });
});
