import assert from 'node:assert/strict';
import { orderQuad, quadSize, rectToQuad, rotate90ccw, scaleQuad, turnTensorFile180, warpQuad, type Raster } from '@edgeml/transformer';
import { decodeNpy, encodeNpy } from '@edgeml/shared';

/** A w×h one-channel raster whose pixel value is f(x, y). */
function raster(w: number, h: number, f: (x: number, y: number) => number, channels: 1 | 3 = 1): Raster {
  const data = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < channels; c++) data[(y * w + x) * channels + c] = f(x, y);
  return { data, width: w, height: h, channels };
}

describe('transformer/image crop (deskew a detected quadrilateral, turn vertical text)', () => {
  it('orders corners clockwise from the top-left, whatever order they come in', () => {
    const q = orderQuad([
      [10, 20],
      [0, 0],
      [10, 0],
      [0, 20],
    ]);
    assert.deepEqual(q, [
      [0, 0],
      [10, 0],
      [10, 20],
      [0, 20],
    ]);
    assert.throws(() => orderQuad([[0, 0]]), /four points/);
  });

  it('the deskewed size is the longer of opposite edges; the homography maps rectangle corners onto the quad', () => {
    const q = orderQuad([
      [2, 1],
      [42, 11],
      [40, 21],
      [0, 11],
    ]);
    const size = quadSize(q);
    assert.equal(size.width, Math.round(Math.hypot(40, 10)));
    assert.equal(size.height, Math.round(Math.hypot(2, 10)));
    const h = rectToQuad(size.width, size.height, q);
    const map = (x: number, y: number): [number, number] => {
      const d = h[6]! * x + h[7]! * y + 1;
      return [(h[0]! * x + h[1]! * y + h[2]!) / d, (h[3]! * x + h[4]! * y + h[5]!) / d];
    };
    for (const [i, [x, y]] of [[0, 0], [size.width, 0], [size.width, size.height], [0, size.height]].entries()) {
      const [u, v] = map(x!, y!);
      assert.ok(Math.abs(u - q[i]![0]) < 1e-6 && Math.abs(v - q[i]![1]) < 1e-6, `corner ${i}`);
    }
    assert.throws(() => rectToQuad(10, 10, [[0, 0], [1, 1], [2, 2], [3, 3]]), /degenerate/);
  });

  it('an axis-aligned quad cuts out exactly those pixels; a rotated one is straightened', () => {
    const src = raster(20, 10, (x, y) => x * 10 + y);
    const cut = warpQuad(src, orderQuad([[5, 2], [9, 2], [9, 6], [5, 6]]), { width: 4, height: 4 });
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) assert.equal(cut.data[y * 4 + x], (x + 5) * 10 + (y + 2));
    // A bright bar tilted by 45°: straightened, it fills the crop's middle row band.
    const tilted = raster(40, 40, (x, y) => (Math.abs(x - y) <= 3 ? 255 : 0));
    const bar = warpQuad(tilted, orderQuad([[4, 0], [40, 36], [36, 40], [0, 4]]), { width: 51, height: 6 });
    let inside = 0;
    for (let x = 5; x < 45; x++) inside += bar.data[3 * 51 + x]! > 200 ? 1 : 0;
    assert.ok(inside >= 38, `the bar runs along the straightened crop (${inside} of 40 bright)`);
  });

  it('turns 90° counter-clockwise as numpy.rot90 does, and scales quads', () => {
    const r = rotate90ccw(raster(3, 2, (x, y) => y * 3 + x + 1, 3));
    assert.equal(r.width, 2);
    assert.equal(r.height, 3);
    // numpy.rot90([[1,2,3],[4,5,6]]) = [[3,6],[2,5],[1,4]]
    assert.deepEqual([...r.data.filter((_, i) => i % 3 === 0)], [3, 6, 2, 5, 1, 4]);
    assert.deepEqual(scaleQuad([[2, 4], [6, 4], [6, 8], [2, 8]], 0.5, 0.25), [[1, 1], [3, 1], [3, 2], [1, 2]]);
  });

  it('turns a crop tensor 180° within its content width, padding left on the right (NCHW and NHWC, float32 and uint8)', () => {
    const w = 5;
    const cw = 3;
    const data = new Float32Array(3 * 2 * w);
    for (let c = 0; c < 3; c++) for (let y = 0; y < 2; y++) for (let x = 0; x < w; x++) data[c * 2 * w + y * w + x] = x < cw ? c * 100 + y * 10 + x : -1;
    const turned = decodeNpy(turnTensorFile180(encodeNpy({ dtype: 'float32', shape: [1, 3, 2, w], data }), cw).bytes);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 2; y++)
        for (let x = 0; x < w; x++) assert.equal(turned.data[c * 2 * w + y * w + x], x < cw ? c * 100 + (1 - y) * 10 + (cw - 1 - x) : -1, `c${c} y${y} x${x}`);
    const u8 = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0]); // [1, 1, 4, 3]: pixels 1-2-3 | 4-5-6 | 7-8-9 | pad
    assert.deepEqual([...decodeNpy(turnTensorFile180(encodeNpy({ dtype: 'uint8', shape: [1, 1, 4, 3], data: u8 }), 3).bytes).data], [7, 8, 9, 4, 5, 6, 1, 2, 3, 0, 0, 0]);
    const twice = turnTensorFile180(turnTensorFile180(encodeNpy({ dtype: 'float32', shape: [1, 3, 2, w], data }), cw).bytes, cw);
    assert.deepEqual(decodeNpy(twice.bytes).data, data, 'turning twice gives the original');
    assert.throws(() => turnTensorFile180(encodeNpy({ dtype: 'float32', shape: [1, 3, 2, w], data }), 9), /does not fit/);
    assert.throws(() => turnTensorFile180(Buffer.from('nope'), 1), /not a \.npy/);
  });
});
