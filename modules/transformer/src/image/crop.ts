/**
 * Crops of detected regions, pure (plain rasters in, rasters out): a quadrilateral is cut out and
 * deskewed to an upright rectangle by a perspective warp, as PaddleOCR's `get_rotate_crop_image`
 * does (width = the longer of the top and bottom edges, height = the longer of the sides), and a
 * crop much taller than wide is turned 90° counter-clockwise (vertical text). The pixels are sampled
 * bilinearly at pixel centres, edges replicated; the caller decodes the source at a size where the
 * crops are about as tall as the model's input, so sampling never has to shrink much.
 */
import type { Raster } from './sharp.js';

export type Point = readonly [number, number];
export type Quad = readonly [Point, Point, Point, Point];

/**
 * The four points clockwise (y down) from the top-left one: sorted by x, the two leftmost give the
 * top-left and bottom-left (by y), the two rightmost the top-right and bottom-right, as PaddleOCR's
 * `order_points_clockwise`.
 * @throws RangeError when there are not four finite points
 */
export function orderQuad(points: readonly (readonly number[])[]): Quad {
  if (points.length !== 4 || !points.every((p) => p.length === 2 && Number.isFinite(p[0]) && Number.isFinite(p[1]))) {
    throw new RangeError('a region needs four points of two finite coordinates');
  }
  const pts = points.map((p) => [p[0]!, p[1]!] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const [l1, l2, r1, r2] = pts as [Point, Point, Point, Point];
  const [topLeft, bottomLeft] = l1[1] <= l2[1] ? [l1, l2] : [l2, l1];
  const [topRight, bottomRight] = r1[1] <= r2[1] ? [r1, r2] : [r2, r1];
  return [topLeft, topRight, bottomRight, bottomLeft];
}

const distance = (a: Point, b: Point): number => Math.hypot(a[0] - b[0], a[1] - b[1]);

/** Size of the deskewed crop: the longer of the opposite edges, at least one pixel each way. */
export function quadSize(q: Quad): { width: number; height: number } {
  return {
    width: Math.max(1, Math.round(Math.max(distance(q[0], q[1]), distance(q[2], q[3])))),
    height: Math.max(1, Math.round(Math.max(distance(q[0], q[3]), distance(q[1], q[2])))),
  };
}

/**
 * The homography that maps the corners of a `width × height` rectangle, (0,0) (w,0) (w,h) (0,h),
 * onto the quad's corners: 8 unknowns from 4 point pairs, solved by Gaussian elimination with
 * partial pivoting. Returns [h0..h7] with h8 = 1: x' = (h0 x + h1 y + h2) / (h6 x + h7 y + 1), …
 * @throws RangeError when the quad is degenerate (three points on a line)
 */
export function rectToQuad(width: number, height: number, q: Quad): number[] {
  const rect: Point[] = [
    [0, 0],
    [width, 0],
    [width, height],
    [0, height],
  ];
  const a: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = rect[i]!;
    const [u, v] = q[i]!;
    a.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
    a.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  }
  for (let c = 0; c < 8; c++) {
    let pivot = c;
    for (let r = c + 1; r < 8; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[pivot]![c]!)) pivot = r;
    if (Math.abs(a[pivot]![c]!) < 1e-12) throw new RangeError('the region is degenerate (its corners are on one line)');
    [a[c], a[pivot]] = [a[pivot]!, a[c]!];
    const row = a[c]!;
    for (let r = 0; r < 8; r++) {
      if (r === c) continue;
      const f = a[r]![c]! / row[c]!;
      if (f === 0) continue;
      const target = a[r]!;
      for (let k = c; k < 9; k++) target[k] = target[k]! - f * row[k]!;
    }
  }
  return a.map((row, i) => row[8]! / row[i]!);
}

/**
 * Cuts the quad out of `raster` into an upright `width × height` raster with the same channels:
 * each output pixel centre is mapped through the homography and sampled bilinearly; samples outside
 * the image take the nearest edge pixel.
 */
export function warpQuad(raster: Raster, q: Quad, size: { width: number; height: number }): Raster {
  const { width: W, height: H } = size;
  const h = rectToQuad(W, H, q);
  const C = raster.channels;
  const out = Buffer.allocUnsafe(W * H * C);
  const maxX = raster.width - 1;
  const maxY = raster.height - 1;
  const src = raster.data;
  for (let y = 0; y < H; y++) {
    const cy = y + 0.5;
    for (let x = 0; x < W; x++) {
      const cx = x + 0.5;
      const d = h[6]! * cx + h[7]! * cy + 1;
      // Source position in pixel-index space (pixel i covers [i, i+1), its centre is i + 0.5).
      const u = Math.min(Math.max((h[0]! * cx + h[1]! * cy + h[2]!) / d - 0.5, 0), maxX);
      const v = Math.min(Math.max((h[3]! * cx + h[4]! * cy + h[5]!) / d - 0.5, 0), maxY);
      const x0 = Math.floor(u);
      const y0 = Math.floor(v);
      const x1 = Math.min(x0 + 1, maxX);
      const y1 = Math.min(y0 + 1, maxY);
      const fx = u - x0;
      const fy = v - y0;
      const i00 = (y0 * raster.width + x0) * C;
      const i10 = (y0 * raster.width + x1) * C;
      const i01 = (y1 * raster.width + x0) * C;
      const i11 = (y1 * raster.width + x1) * C;
      const o = (y * W + x) * C;
      for (let c = 0; c < C; c++) {
        const top = src[i00 + c]! + (src[i10 + c]! - src[i00 + c]!) * fx;
        const bottom = src[i01 + c]! + (src[i11 + c]! - src[i01 + c]!) * fx;
        out[o + c] = Math.round(top + (bottom - top) * fy);
      }
    }
  }
  return { data: out, width: W, height: H, channels: raster.channels };
}

/** The raster turned 90° counter-clockwise (numpy's `rot90`): the top row becomes the left column, read bottom up. */
export function rotate90ccw(raster: Raster): Raster {
  const { width: w, height: h, channels: C, data } = raster;
  const out = Buffer.allocUnsafe(data.length);
  // Output is h wide and w tall; output (x', y') = input (w - 1 - y', x').
  for (let y2 = 0; y2 < w; y2++) {
    for (let x2 = 0; x2 < h; x2++) {
      const i = (x2 * w + (w - 1 - y2)) * C;
      const o = (y2 * h + x2) * C;
      for (let c = 0; c < C; c++) out[o + c] = data[i + c]!;
    }
  }
  return { data: out, width: h, height: w, channels: C };
}

/** The points of a region scaled from source pixels to a raster decoded `scaleX`/`scaleY` times smaller or larger. */
export function scaleQuad(q: Quad, scaleX: number, scaleY: number): Quad {
  return q.map((p) => [p[0] * scaleX, p[1] * scaleY] as const) as unknown as Quad;
}
