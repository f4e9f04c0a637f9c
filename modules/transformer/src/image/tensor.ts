import type { PreprocessingSpec } from '@edgeml/shared';
import type { ResizePlan } from './geometry.js';

/** Interleaved 8-bit RGB pixels (HWC), as the image stage produces them. */
export interface RgbPixels {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

export interface Tensor {
  readonly data: Float32Array | Uint8Array;
  readonly shape: readonly number[];
  readonly dtype: PreprocessingSpec['dtype'];
  readonly layout: PreprocessingSpec['layout'];
}

/**
 * Normalised value of one 0–255 sample for output channel `c`:
 * `(pixel × scale − mean[c]) / std[c]`. mean/std are indexed by *output* channel (after the
 * colour order is applied), as PaddleOCR applies them to OpenCV's BGR arrays.
 */
export function normalizeValue(pixel: number, c: number, spec: Pick<PreprocessingSpec, 'scale' | 'mean' | 'std'>): number {
  return (pixel * spec.scale - spec.mean[c as 0 | 1 | 2]) / spec.std[c as 0 | 1 | 2];
}

/** Where the pixels land on the output canvas (a {@link ResizePlan} has these). */
export type CanvasPlacement = Pick<ResizePlan, 'padLeft' | 'padTop' | 'outputWidth' | 'outputHeight'>;

/** Shape of a profile's tensor: NCHW [1, 3, H, W]; NHWC [1, H, W, 3]. */
export function tensorShape(spec: Pick<PreprocessingSpec, 'width' | 'height' | 'layout'>): number[] {
  return spec.layout === 'NCHW' ? [1, 3, spec.height, spec.width] : [1, spec.height, spec.width, 3];
}

/**
 * Places the resized pixels on the output canvas at (padLeft, padTop), fills the rest with the
 * background, applies colour order, normalisation and layout. The background is normalised like
 * any pixel but never rounded to 8 bits first, so PaddleOCR's 127.5 pad becomes exactly 0.
 * float32: normalised values; uint8: the raw (reordered) 0–255 samples, background rounded.
 * Shape: NCHW [1, 3, H, W]; NHWC [1, H, W, 3].
 * @throws RangeError when the pixels do not fit the canvas.
 */
export function toTensor(pixels: RgbPixels, plan: CanvasPlacement, spec: PreprocessingSpec): Tensor {
  const elements = plan.outputWidth * plan.outputHeight * 3;
  const out = spec.dtype === 'float32' ? new Float32Array(elements) : new Uint8Array(elements);
  normalizeInto(out, pixels, plan, spec);
  return { data: out, shape: tensorShape({ layout: spec.layout, width: plan.outputWidth, height: plan.outputHeight }), dtype: spec.dtype, layout: spec.layout };
}

/**
 * {@link toTensor} into a caller's array (a reused buffer: every element is written, the image
 * region and the background alike). `out` must be a Float32Array for float32, a Uint8Array for
 * uint8, of outputWidth × outputHeight × 3 elements.
 * @throws RangeError when the pixels do not fit the canvas, or `out` has the wrong type or length.
 */
export function normalizeInto(out: Float32Array | Uint8Array, pixels: RgbPixels, plan: CanvasPlacement, spec: PreprocessingSpec): void {
  const W = plan.outputWidth;
  const H = plan.outputHeight;
  const { width: w, height: h, data: src } = pixels;
  if (src.length !== w * h * 3) throw new RangeError(`pixel buffer holds ${src.length} bytes; ${w}×${h}×3 expected`);
  if (plan.padLeft < 0 || plan.padTop < 0 || plan.padLeft + w > W || plan.padTop + h > H) {
    throw new RangeError(`a ${w}×${h} image at (${plan.padLeft}, ${plan.padTop}) does not fit a ${W}×${H} canvas`);
  }
  if (out.length !== W * H * 3 || (spec.dtype === 'float32') !== out instanceof Float32Array) {
    throw new RangeError(`output holds ${out.length} ${out.constructor.name} elements; ${W * H * 3} ${spec.dtype} expected`);
  }
  // Output channel c reads source channel order[c].
  const order = spec.colorOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  const plane = W * H;
  const nchw = spec.layout === 'NCHW';
  // Per-channel lookup tables: 256 entries each, so the inner loop is one read and one write.
  const lut: Float32Array[] = [];
  const bg: number[] = [];
  for (let c = 0; c < 3; c++) {
    const sc = order[c]!;
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = spec.dtype === 'float32' ? normalizeValue(v, c, spec) : v;
    lut.push(table);
    const b = spec.background[sc as 0 | 1 | 2];
    bg.push(spec.dtype === 'float32' ? normalizeValue(b, c, spec) : Math.round(b));
  }
  // Background first (cheap fill), then the image region.
  if (w !== W || h !== H) {
    if (nchw) for (let c = 0; c < 3; c++) out.fill(bg[c]!, c * plane, (c + 1) * plane);
    else for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = bg[c]!;
  }
  const [l0, l1, l2] = lut as [Float32Array, Float32Array, Float32Array];
  const [o0, o1, o2] = order as [number, number, number];
  for (let y = 0; y < h; y++) {
    const ty = y + plan.padTop;
    let s = y * w * 3;
    if (nchw) {
      let p = ty * W + plan.padLeft;
      for (let x = 0; x < w; x++, s += 3, p++) {
        out[p] = l0[src[s + o0]!]!;
        out[p + plane] = l1[src[s + o1]!]!;
        out[p + 2 * plane] = l2[src[s + o2]!]!;
      }
    } else {
      let p = (ty * W + plan.padLeft) * 3;
      for (let x = 0; x < w; x++, s += 3, p += 3) {
        out[p] = l0[src[s + o0]!]!;
        out[p + 1] = l1[src[s + o1]!]!;
        out[p + 2] = l2[src[s + o2]!]!;
      }
    }
  }
}
