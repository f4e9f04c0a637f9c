/**
 * DB (Differentiable Binarization) post-processing for PaddleOCR's text detector: probability map
 * → binary map → regions → minimum-area rectangles → score filter → unclip → source pixels.
 *
 * Differences from PaddleOCR's OpenCV implementation, chosen to stay dependency-free:
 * regions are 8-connected components (OpenCV traces their outer contours: same regions for text);
 * a region's score is the mean probability over its own pixels (PaddleOCR's `fast` mode averages
 * over the rectangle's bounding box); rectangles are fitted to pixel corners, not pixel centres,
 * so they are one pixel larger before unclipping.
 */
import { EdgeMLError, type ImageGeometry } from '@edgeml/shared';
import type { ItemTensor, PostprocessContext, PostprocessResult, Postprocessor } from './types.js';

export interface PaddleDetSpec {
  readonly kind: 'paddle-det';
  /** Probability above which a pixel is text (`thresh`). Default 0.3. */
  readonly threshold?: number;
  /** Mean probability a region needs to be kept (`box_thresh`). Default 0.6. */
  readonly boxThreshold?: number;
  /** How far a region is grown back (`unclip_ratio`). Default 1.5. */
  readonly unclipRatio?: number;
  /** Regions examined, largest first (`max_candidates`). Default 1000. */
  readonly maxCandidates?: number;
  /** Boxes with a shorter side (tensor pixels) are dropped. Default 3. */
  readonly minSizePx?: number;
  /** Boxes reported at most (keeps the message under edgeHub's 256 KiB). Default 500. */
  readonly maxBoxes?: number;
}

export type Point = readonly [number, number];

export interface DetectedBox {
  /** Corners clockwise from the top-left one, in source pixels (tensor pixels when no geometry). */
  readonly points: readonly Point[];
  /** Axis-aligned bounds of `points`. */
  readonly bbox: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
  readonly score: number;
}

/** Convex hull (Andrew's monotone chain), counter-clockwise in image coordinates' math sense. */
export function convexHull(points: readonly Point[]): Point[] {
  const pts = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (pts.length <= 2) return pts;
  const cross = (o: Point, a: Point, b: Point): number => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Point[] = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

export interface RotatedRect {
  readonly cx: number;
  readonly cy: number;
  /** Side along `angle`, and the side across it. */
  readonly width: number;
  readonly height: number;
  /** Radians. */
  readonly angle: number;
}

/** Minimum-area enclosing rectangle of a convex hull (one candidate per hull edge). */
export function minAreaRect(hull: readonly Point[]): RotatedRect {
  if (hull.length === 0) return { cx: 0, cy: 0, width: 0, height: 0, angle: 0 };
  let best: RotatedRect | undefined;
  let bestArea = Number.POSITIVE_INFINITY;
  const n = hull.length;
  for (let i = 0; i < Math.max(1, n); i++) {
    const a = hull[i]!;
    const b = hull[(i + 1) % n]!;
    let angle = Math.atan2(b[1] - a[1], b[0] - a[0]);
    if (n === 1) angle = 0;
    const ux = Math.cos(angle);
    const uy = Math.sin(angle);
    let minU = Infinity;
    let maxU = -Infinity;
    let minV = Infinity;
    let maxV = -Infinity;
    for (const p of hull) {
      const u = p[0] * ux + p[1] * uy;
      const v = -p[0] * uy + p[1] * ux;
      minU = Math.min(minU, u);
      maxU = Math.max(maxU, u);
      minV = Math.min(minV, v);
      maxV = Math.max(maxV, v);
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < bestArea - 1e-9) {
      bestArea = area;
      const cu = (minU + maxU) / 2;
      const cv = (minV + maxV) / 2;
      best = { cx: cu * ux - cv * uy, cy: cu * uy + cv * ux, width: maxU - minU, height: maxV - minV, angle };
    }
  }
  return best!;
}

/** The four corners of a rotated rectangle, clockwise (y down) from the one nearest the top-left. */
export function rectCorners(r: RotatedRect): Point[] {
  const ux = Math.cos(r.angle);
  const uy = Math.sin(r.angle);
  const hw = r.width / 2;
  const hh = r.height / 2;
  const corners: Point[] = [
    [r.cx - ux * hw + uy * hh, r.cy - uy * hw - ux * hh],
    [r.cx + ux * hw + uy * hh, r.cy + uy * hw - ux * hh],
    [r.cx + ux * hw - uy * hh, r.cy + uy * hw + ux * hh],
    [r.cx - ux * hw - uy * hh, r.cy - uy * hw + ux * hh],
  ];
  // Clockwise on screen (y down) = increasing angle around the centre.
  corners.sort((p, q) => Math.atan2(p[1] - r.cy, p[0] - r.cx) - Math.atan2(q[1] - r.cy, q[0] - r.cx));
  let start = 0;
  for (let i = 1; i < 4; i++) if (corners[i]![0] + corners[i]![1] < corners[start]![0] + corners[start]![1]) start = i;
  return [...corners.slice(start), ...corners.slice(0, start)];
}

/** Grows a rectangle by PaddleOCR's unclip distance `area × ratio / perimeter` on every side. */
export function unclip(r: RotatedRect, ratio: number): RotatedRect {
  const perimeter = 2 * (r.width + r.height);
  if (perimeter === 0) return r;
  const d = (r.width * r.height * ratio) / perimeter;
  return { ...r, width: r.width + 2 * d, height: r.height + 2 * d };
}

/** Tensor pixel → source pixel through the transformer's recorded geometry, clamped to the image. */
export function toSource(p: Point, g: ImageGeometry): Point {
  const x = (p[0] - g.padLeft) / g.scaleX + g.cropLeft;
  const y = (p[1] - g.padTop) / g.scaleY + g.cropTop;
  return [Math.min(Math.max(x, 0), g.sourceWidth), Math.min(Math.max(y, 0), g.sourceHeight)];
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

/**
 * Boxes from one probability map (`map` is H×W, row-major). Pure.
 */
export function dbBoxes(map: ArrayLike<number>, height: number, width: number, spec: PaddleDetSpec, geometry: ImageGeometry | undefined): DetectedBox[] {
  const threshold = spec.threshold ?? 0.3;
  const boxThreshold = spec.boxThreshold ?? 0.6;
  const unclipRatio = spec.unclipRatio ?? 1.5;
  const maxCandidates = spec.maxCandidates ?? 1000;
  const minSize = spec.minSizePx ?? 3;
  const maxBoxes = spec.maxBoxes ?? 500;

  const labels = new Int32Array(width * height);
  const stack = new Int32Array(width * height);
  interface Region {
    pixels: number;
    sum: number;
    // Per row: leftmost and rightmost pixel, enough for the convex hull.
    rows: Map<number, [number, number]>;
  }
  const regions: Region[] = [];
  for (let start = 0; start < width * height; start++) {
    if (labels[start] !== 0 || !((map[start] ?? 0) > threshold)) continue;
    const region: Region = { pixels: 0, sum: 0, rows: new Map() };
    regions.push(region);
    const id = regions.length;
    let top = 0;
    stack[top++] = start;
    labels[start] = id;
    while (top > 0) {
      const idx = stack[--top]!;
      const x = idx % width;
      const y = (idx - x) / width;
      region.pixels++;
      region.sum += map[idx] ?? 0;
      const row = region.rows.get(y);
      if (row === undefined) region.rows.set(y, [x, x]);
      else {
        if (x < row[0]) row[0] = x;
        if (x > row[1]) row[1] = x;
      }
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if ((dx === 0 && dy === 0) || nx < 0 || nx >= width) continue;
          const n = ny * width + nx;
          if (labels[n] === 0 && (map[n] ?? 0) > threshold) {
            labels[n] = id;
            stack[top++] = n;
          }
        }
      }
    }
  }

  const boxes: DetectedBox[] = [];
  const candidates = regions.sort((a, b) => b.pixels - a.pixels).slice(0, maxCandidates);
  for (const region of candidates) {
    const score = region.sum / region.pixels;
    if (score < boxThreshold) continue;
    const corners: Point[] = [];
    for (const [y, [x0, x1]] of region.rows) corners.push([x0, y], [x0, y + 1], [x1 + 1, y], [x1 + 1, y + 1]);
    const rect = minAreaRect(convexHull(corners));
    if (Math.min(rect.width, rect.height) < minSize) continue;
    const grown = unclip(rect, unclipRatio);
    if (Math.min(grown.width, grown.height) < minSize + 2) continue;
    const pts = rectCorners(grown).map((p) => (geometry === undefined ? p : toSource(p, geometry)));
    const xs = pts.map((p) => p[0]);
    const ys = pts.map((p) => p[1]);
    const x = Math.min(...xs);
    const y = Math.min(...ys);
    const w = Math.max(...xs) - x;
    const h = Math.max(...ys) - y;
    if (w <= 0 || h <= 0) continue; // entirely in the letterbox padding
    boxes.push({
      points: pts.map((p) => [round1(p[0]), round1(p[1])] as const),
      bbox: { x: round1(x), y: round1(y), width: round1(w), height: round1(h) },
      score: Math.round(score * 1e4) / 1e4,
    });
  }
  boxes.sort((a, b) => a.bbox.y - b.bbox.y || a.bbox.x - b.bbox.x);
  return boxes.slice(0, maxBoxes);
}

/** The detector's post-processor: output `[1,1,H,W]` → `{ boxes, boxCount, coordinates }`. */
export function paddleDet(outputs: readonly ItemTensor[], spec: PaddleDetSpec, ctx: PostprocessContext): PostprocessResult {
  const t = outputs[0];
  if (t === undefined || t.data instanceof BigInt64Array) throw new EdgeMLError('INFERENCE_FAILED', 'detector produced no float probability map');
  const h = t.dims[t.dims.length - 2];
  const w = t.dims[t.dims.length - 1];
  if (h === undefined || w === undefined || h * w !== t.data.length) {
    throw new EdgeMLError('INFERENCE_FAILED', `detector output of shape [${t.dims.join(',')}] is not one probability map`);
  }
  const boxes = dbBoxes(t.data, h, w, spec, ctx.geometry);
  return {
    outputs: { boxes, boxCount: boxes.length, coordinates: ctx.geometry === undefined ? 'tensor' : 'source', mapSize: { width: w, height: h } },
  };
}

export const paddleDetPostprocessor: Postprocessor<PaddleDetSpec> = { kind: 'paddle-det', run: paddleDet };
