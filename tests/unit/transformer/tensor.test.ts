import assert from 'node:assert/strict';
import type { PreprocessingSpec } from '@edgeml/shared';
import { DEFAULT_PROFILES, normalizeValue, planResize, profileSpec, toTensor } from '@edgeml/transformer';

// 2×2 image, pixels (R,G,B): (10,20,30) (40,50,60) / (70,80,90) (100,110,120)
const PIXELS = { data: new Uint8Array([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]), width: 2, height: 2 };
const base: PreprocessingSpec = {
  width: 2,
  height: 2,
  resize: 'fill',
  colorOrder: 'RGB',
  layout: 'NCHW',
  dtype: 'float32',
  scale: 1 / 255,
  mean: [0.1, 0.2, 0.3],
  std: [0.5, 0.25, 0.125],
  background: [0, 0, 0],
};
const whole = { padLeft: 0, padTop: 0, outputWidth: 2, outputHeight: 2 };
const f32 = (v: number): number => Math.fround(v);

describe('transformer/tensor', () => {
  it('NCHW RGB: value = (p·scale − mean[c]) / std[c] at chosen indices', () => {
    const t = toTensor(PIXELS, whole, base);
    assert.deepEqual(t.shape, [1, 3, 2, 2]);
    // channel 0 (R) at (x=1, y=0) → index 1; channel 2 (B) at (x=0, y=1) → 2·4 + 2 = 10
    assert.equal(t.data[1], f32((40 / 255 - 0.1) / 0.5));
    assert.equal(t.data[4 + 3], f32((110 / 255 - 0.2) / 0.25));
    assert.equal(t.data[10], f32((90 / 255 - 0.3) / 0.125));
  });

  it('NCHW BGR: channel 0 is blue, normalised with mean[0]/std[0]', () => {
    const t = toTensor(PIXELS, whole, { ...base, colorOrder: 'BGR' });
    assert.equal(t.data[0], f32((30 / 255 - 0.1) / 0.5));
    assert.equal(t.data[2 * 4 + 0], f32((10 / 255 - 0.3) / 0.125));
    assert.equal(t.data[4 + 3], f32((110 / 255 - 0.2) / 0.25));
  });

  it('NHWC RGB and BGR interleave channels per pixel', () => {
    const rgb = toTensor(PIXELS, whole, { ...base, layout: 'NHWC' });
    assert.deepEqual(rgb.shape, [1, 2, 2, 3]);
    // pixel (x=1, y=1) starts at (1·2 + 1)·3 = 9
    assert.equal(rgb.data[9], f32((100 / 255 - 0.1) / 0.5));
    assert.equal(rgb.data[11], f32((120 / 255 - 0.3) / 0.125));
    const bgr = toTensor(PIXELS, whole, { ...base, layout: 'NHWC', colorOrder: 'BGR' });
    assert.equal(bgr.data[9], f32((120 / 255 - 0.1) / 0.5));
    assert.equal(bgr.data[11], f32((100 / 255 - 0.3) / 0.125));
  });

  it('uint8 keeps raw samples in the chosen order and layout', () => {
    const t = toTensor(PIXELS, whole, { ...base, dtype: 'uint8', colorOrder: 'BGR' });
    assert.ok(t.data instanceof Uint8Array);
    assert.deepEqual([...t.data.subarray(0, 4)], [30, 60, 90, 120]);
  });

  it('the cls pad (background 127.5) is exactly 0 after normalisation, as PaddleOCR pads', () => {
    const spec = profileSpec(DEFAULT_PROFILES.cls);
    const plan = planResize(100, 50, spec);
    const pixels = { data: new Uint8Array(plan.resizeWidth * plan.resizeHeight * 3).fill(255), width: plan.resizeWidth, height: plan.resizeHeight };
    const t = toTensor(pixels, plan, spec);
    assert.deepEqual(t.shape, [1, 3, 48, 192]);
    for (const c of [0, 1, 2]) {
      const row = 47;
      assert.equal(t.data[c * 48 * 192 + row * 192 + 95], 1, 'last image column: white → 1');
      assert.equal(t.data[c * 48 * 192 + row * 192 + 96], 0, 'first pad column → 0');
      assert.equal(t.data[c * 48 * 192 + row * 192 + 191], 0);
    }
  });

  it('letterbox padding holds the normalised background, the image sits at the pad offset', () => {
    const spec: PreprocessingSpec = { ...base, width: 4, height: 4, resize: 'contain', background: [255, 0, 0] };
    const t = toTensor(PIXELS, { padLeft: 1, padTop: 1, outputWidth: 4, outputHeight: 4 }, spec);
    assert.equal(t.data[0], f32(normalizeValue(255, 0, spec)));
    assert.equal(t.data[16], f32(normalizeValue(0, 1, spec)));
    assert.equal(t.data[1 * 4 + 1], f32(normalizeValue(10, 0, spec)));
  });

  it('refuses pixels that do not fit the canvas', () => {
    assert.throws(() => toTensor(PIXELS, { padLeft: 1, padTop: 0, outputWidth: 2, outputHeight: 2 }, base), RangeError);
  });
});
