import type { ImageGeometry, PreprocessingSpec } from '@edgeml/shared';

/**
 * Resize planning: pure maths, no pixels. The image stage asks sharp for exactly `resizeWidth` ×
 * `resizeHeight` (fit 'fill'), then crops (`cover`) and the tensor stage pads, so the geometry
 * recorded on the tensor is the geometry actually applied, not sharp's own rounding.
 */
export interface ResizePlan {
  /** Size the (oriented) source is scaled to, before crop or padding. */
  readonly resizeWidth: number;
  readonly resizeHeight: number;
  /** Region of the resized image kept (`cover` crops; otherwise the whole resized image). */
  readonly extractLeft: number;
  readonly extractTop: number;
  readonly extractWidth: number;
  readonly extractHeight: number;
  /** Where the kept region sits in the output canvas; the rest is background. */
  readonly padLeft: number;
  readonly padTop: number;
  readonly outputWidth: number;
  readonly outputHeight: number;
}

/**
 * Plans the resize of a `sourceWidth` × `sourceHeight` image (after EXIF orientation) for `spec`.
 * - fill: stretch to width × height.
 * - contain: scale by min(W/w, H/h), centre, pad with the background (letterbox).
 * - cover: scale by max(W/w, H/h), centre-crop.
 * - padRight: scale to height H keeping the ratio, width min(W, ceil(H·w/h)), pad on the right
 *   (PaddleOCR's classifier; an image wider than the ratio allows is squeezed to W); with `widthStep`
 *   the canvas is that width rounded up to a multiple of the step (at most W).
 * @throws RangeError when a size is not a positive integer.
 */
export function planResize(sourceWidth: number, sourceHeight: number, spec: Pick<PreprocessingSpec, 'width' | 'height' | 'resize' | 'widthStep'>): ResizePlan {
  for (const [name, v] of [['sourceWidth', sourceWidth], ['sourceHeight', sourceHeight], ['width', spec.width], ['height', spec.height]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  const W = spec.width;
  const H = spec.height;
  const whole = (rw: number, rh: number, padLeft: number, padTop: number): ResizePlan => ({
    resizeWidth: rw,
    resizeHeight: rh,
    extractLeft: 0,
    extractTop: 0,
    extractWidth: rw,
    extractHeight: rh,
    padLeft,
    padTop,
    outputWidth: W,
    outputHeight: H,
  });
  switch (spec.resize) {
    case 'fill':
      return whole(W, H, 0, 0);
    case 'contain': {
      const s = Math.min(W / sourceWidth, H / sourceHeight);
      const rw = clamp(Math.round(sourceWidth * s), 1, W);
      const rh = clamp(Math.round(sourceHeight * s), 1, H);
      return whole(rw, rh, Math.floor((W - rw) / 2), Math.floor((H - rh) / 2));
    }
    case 'cover': {
      const s = Math.max(W / sourceWidth, H / sourceHeight);
      const rw = Math.max(W, Math.round(sourceWidth * s));
      const rh = Math.max(H, Math.round(sourceHeight * s));
      return {
        resizeWidth: rw,
        resizeHeight: rh,
        extractLeft: Math.floor((rw - W) / 2),
        extractTop: Math.floor((rh - H) / 2),
        extractWidth: W,
        extractHeight: H,
        padLeft: 0,
        padTop: 0,
        outputWidth: W,
        outputHeight: H,
      };
    }
    case 'padRight': {
      const rw = clamp(Math.ceil((H * sourceWidth) / sourceHeight), 1, W);
      // widthStep: the canvas is only as wide as the next multiple of the step (a short text line is not
      // padded to the longest line's width); without it, always W.
      const step = spec.widthStep;
      return step === undefined ? whole(rw, H, 0, 0) : { ...whole(rw, H, 0, 0), outputWidth: Math.min(W, Math.ceil(rw / step) * step) };
    }
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/**
 * The geometry a tensor carries: `tensor_x = source_x × scaleX + padLeft` (likewise y), where a
 * crop shows as a negative pad; `cropLeft/Top` are the first source pixels used (cover).
 */
export function geometryOf(plan: ResizePlan, sourceWidth: number, sourceHeight: number, exifOrientation: number): ImageGeometry {
  const scaleX = plan.resizeWidth / sourceWidth;
  const scaleY = plan.resizeHeight / sourceHeight;
  return {
    sourceWidth,
    sourceHeight,
    scaleX,
    scaleY,
    padLeft: plan.padLeft - plan.extractLeft,
    padTop: plan.padTop - plan.extractTop,
    cropLeft: plan.extractLeft / scaleX,
    cropTop: plan.extractTop / scaleY,
    exifOrientation,
  };
}

/** Maps a tensor coordinate back to source pixels (inverse of the geometry). */
export function tensorToSource(geometry: ImageGeometry, x: number, y: number): { x: number; y: number } {
  return { x: (x - geometry.padLeft) / geometry.scaleX, y: (y - geometry.padTop) / geometry.scaleY };
}

/**
 * Size of an image as displayed: EXIF orientations 5–8 swap width and height.
 */
export function orientedSize(width: number, height: number, exifOrientation: number): { width: number; height: number } {
  return exifOrientation >= 5 && exifOrientation <= 8 ? { width: height, height: width } : { width, height };
}

/** Size that fits inside maxWidth × maxHeight keeping the ratio, never enlarging. */
export function fitInside(width: number, height: number, maxWidth: number, maxHeight: number): { width: number; height: number } {
  const s = Math.min(1, maxWidth / width, maxHeight / height);
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}

/**
 * The size to decode a `width × height` source (after EXIF orientation) to, so that every output
 * (`targets`: the sizes the outputs resize to) is made from it by shrinking or copying, never by
 * enlarging a shrunk image: the source scaled by the largest factor any target needs, capped at 1
 * (the source size). A decoded raster of this size bounds memory by the outputs, not the source:
 * a 100 MP photo with 1024-pixel outputs is held as ~1 MP.
 */
export function workingSize(width: number, height: number, targets: readonly { width: number; height: number }[]): { width: number; height: number } {
  let factor = 0;
  let minWidth = 1;
  let minHeight = 1;
  for (const t of targets) {
    factor = Math.max(factor, t.width / width, t.height / height);
    minWidth = Math.max(minWidth, t.width);
    minHeight = Math.max(minHeight, t.height);
  }
  if (targets.length === 0 || factor >= 1) return { width, height };
  // Rounding must not leave the raster a pixel short of a target (that would enlarge it again).
  return { width: Math.min(width, Math.max(minWidth, Math.round(width * factor))), height: Math.min(height, Math.max(minHeight, Math.round(height * factor))) };
}
