import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { PreprocessingSpec } from '@edgeml/shared';
import { DEFAULT_PROFILES, buildTensorFile, decodeNpy, encodeNpy, encodeNpyHeader, planResize, profileSpec, tensorShape, toTensor, type RgbPixels } from '@edgeml/transformer';

function pixels(width: number, height: number, seed: number): RgbPixels {
  const data = new Uint8Array(width * height * 3);
  let x = seed;
  for (let i = 0; i < data.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  return { data, width, height };
}

const uint8Nhwc: PreprocessingSpec = { width: 5, height: 4, resize: 'contain', colorOrder: 'RGB', layout: 'NHWC', dtype: 'uint8', scale: 1, mean: [0, 0, 0], std: [1, 1, 1], background: [10, 20, 30.6] };

describe('transformer/tensor-file (a whole .npy in one buffer)', () => {
  const cases: [string, PreprocessingSpec, number, number][] = [
    ['cls (padRight, BGR, NCHW, float32)', profileSpec(DEFAULT_PROFILES.cls), 100, 50],
    ['det (contain, BGR, NCHW, float32)', profileSpec(DEFAULT_PROFILES.det), 200, 90],
    ['contain, RGB, NHWC, uint8', uint8Nhwc, 7, 3],
  ];
  for (const [name, spec, w, h] of cases) {
    it(`${name}: the same bytes as encodeNpy(toTensor(…)), with its SHA-256`, () => {
      const plan = planResize(w, h, spec);
      const px = pixels(plan.resizeWidth, plan.resizeHeight, w);
      const reference = toTensor(px, plan, spec);
      const expected = encodeNpy({ dtype: spec.dtype, shape: reference.shape, data: reference.data });
      const header = encodeNpyHeader(spec.dtype, tensorShape(spec));
      const file = buildTensorFile({ pixels: px, placement: plan, spec, header });
      assert.ok(Buffer.from(file.buffer).equals(expected));
      assert.equal(file.sha256, createHash('sha256').update(expected).digest('hex'));
      assert.deepEqual(decodeNpy(Buffer.from(file.buffer)).shape, [...reference.shape]);
    });
  }

  it('a reused buffer full of old bytes yields exactly the fresh result (the background is rewritten too)', () => {
    const spec = profileSpec(DEFAULT_PROFILES.det);
    const header = encodeNpyHeader(spec.dtype, tensorShape(spec));
    const plan = planResize(300, 100, spec);
    const px = pixels(plan.resizeWidth, plan.resizeHeight, 3);
    const fresh = buildTensorFile({ pixels: px, placement: plan, spec, header });
    const dirty = new ArrayBuffer(fresh.buffer.byteLength);
    new Uint8Array(dirty).fill(0xab);
    const reused = buildTensorFile({ pixels: px, placement: plan, spec, header, reuse: dirty });
    assert.equal(reused.buffer, dirty, 'the given buffer is filled, not a new one');
    assert.equal(reused.sha256, fresh.sha256);
    // A buffer of another size is not used.
    const other = new ArrayBuffer(64);
    assert.notEqual(buildTensorFile({ pixels: px, placement: plan, spec, header, reuse: other }).buffer, other);
  });

  it('refuses a header that would misalign the float32 data, and pixels that do not fit', () => {
    const spec = profileSpec(DEFAULT_PROFILES.cls);
    const plan = planResize(100, 50, spec);
    const px = pixels(plan.resizeWidth, plan.resizeHeight, 1);
    assert.throws(() => buildTensorFile({ pixels: px, placement: plan, spec, header: new Uint8Array(70) }), /multiple of 64/);
    const header = encodeNpyHeader(spec.dtype, tensorShape(spec));
    assert.throws(() => buildTensorFile({ pixels: pixels(500, 48, 1), placement: plan, spec, header }), RangeError);
  });
});
