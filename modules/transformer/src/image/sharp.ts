import sharp from 'sharp';
import { EdgeMLError, errorMessage } from '@edgeml/shared';
import type { ResizePlan } from './geometry.js';
import type { RgbPixels } from './tensor.js';

/**
 * The only file that imports sharp: the image stages that touch pixels. A source is decoded once
 * ({@link decodeImage}) into a {@link Raster}, plain 8-bit pixels in memory; every output is made
 * from that raster ({@link resizeRaster} for tensors, {@link encodeRaster} for the artifact), so a
 * later stage (a crop of a detected text box) can start from the same raster. Errors leave as
 * EdgeMLError INPUT_MALFORMED / INPUT_TOO_COMPLEX with sharp's reason.
 */

/**
 * Process-wide sharp settings, applied at configure time.
 * - concurrency: libvips threads per operation. Items already run in parallel (maxConcurrentItems,
 *   each sharp call on a libuv worker), and our outputs are small (48×192, 640×640) so one image
 *   gains little from more threads; 1 thread per operation × 2 items keeps a 2-core device busy
 *   without oversubscribing it. Measured with bench/transformer.ts (16 × 1280×960 JPEG, cls + det
 *   + PNG artifact, this 2-core machine while shared): 2 items × 1 thread 2.5–3.2 images/s,
 *   1 item × 2 threads 2.1 images/s.
 * - cache(false): each source is seen once; libvips' operation cache (default 50 MB, 20 files)
 *   would only hold memory we want back, and hold file handles.
 */
export function configureSharp(options: { vipsThreads: number }): void {
  sharp.concurrency(options.vipsThreads);
  sharp.cache(false);
}

export interface ImageProbe {
  readonly format: string;
  /** Stored size (before EXIF orientation). */
  readonly width: number;
  readonly height: number;
  /** EXIF orientation, 1 when absent. */
  readonly orientation: number;
  readonly pages: number;
  readonly hasAlpha: boolean;
  /** Greyscale (8 or 16 bit): decoded to one grey band (plus alpha), not three equal ones. */
  readonly grey: boolean;
}

function inputOptions(limitInputPixels: number): sharp.SharpOptions {
  // failOn 'truncated': a cut-off file is refused; benign decoder warnings (extra bytes after
  // the end marker, which many cameras write) are not. pages 1: the first frame of animations.
  return { limitInputPixels, failOn: 'truncated', pages: 1, sequentialRead: true };
}

function wrap(err: unknown, what: string): EdgeMLError {
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message)) return new EdgeMLError('INPUT_TOO_COMPLEX', `${what}: ${message}`, { cause: err });
  return new EdgeMLError('INPUT_MALFORMED', `${what}: ${message.split('\n')[0] ?? message}`, { cause: err });
}

/**
 * Reads the header only: format, size, orientation. Refuses images over `limitInputPixels`
 * before any pixel is decoded (a PNG may claim 50 000 × 50 000 in a few hundred bytes).
 * @throws EdgeMLError INPUT_MALFORMED (not an image sharp reads), INPUT_TOO_COMPLEX (too many pixels)
 */
export async function probeImage(bytes: Buffer, limitInputPixels: number): Promise<ImageProbe> {
  let meta: sharp.Metadata;
  try {
    // metadata() reads the header only; the limit is checked below with the size in the reason
    // (sharp's own check would only say "exceeds pixel limit"). Decoding paths keep sharp's limit.
    meta = await sharp(bytes, { ...inputOptions(limitInputPixels), limitInputPixels: false }).metadata();
  } catch (err: unknown) {
    throw wrap(err, 'not a readable image');
  }
  const width = meta.width;
  const height = meta.height;
  if (meta.format === undefined || !(width > 0) || !(height > 0)) {
    throw new EdgeMLError('INPUT_MALFORMED', 'not a readable image: no format or size in the header');
  }
  if (width * height > limitInputPixels) {
    throw new EdgeMLError('INPUT_TOO_COMPLEX', `image is ${width}×${height} = ${width * height} pixels; the limit (image.limitInputPixels) is ${limitInputPixels}`);
  }
  return {
    format: meta.format,
    width,
    height,
    orientation: meta.orientation ?? 1,
    pages: meta.pages ?? 1,
    hasAlpha: meta.hasAlpha,
    grey: meta.space === 'b-w' || meta.space === 'grey16',
  };
}

/**
 * A decoded image: 8-bit pixels, interleaved, EXIF orientation applied. Channels: 1 grey, 2 grey +
 * alpha, 3 sRGB, 4 sRGB + alpha (alpha unpremultiplied).
 */
export interface Raster {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

/**
 * Decodes the source once: EXIF orientation applied, colour converted to sRGB (greyscale sources
 * stay one grey band), 8 bits per sample, alpha kept. With `size`, scaled to exactly that size while
 * decoding (JPEG and WebP shrink-on-load apply); without, at the source's own size.
 * @throws EdgeMLError INPUT_MALFORMED (corrupt, truncated), INPUT_TOO_COMPLEX (over the pixel limit)
 */
export async function decodeImage(bytes: Buffer, limitInputPixels: number, options: { grey: boolean; size?: { width: number; height: number } }): Promise<Raster> {
  try {
    let pipeline = sharp(bytes, inputOptions(limitInputPixels)).rotate();
    if (options.size !== undefined) pipeline = pipeline.resize(options.size.width, options.size.height, { fit: 'fill' });
    const { data, info } = await pipeline.toColourspace(options.grey ? 'b-w' : 'srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels < 1 || info.channels > 4) throw new Error(`decoder returned ${info.channels} channels`);
    return { data, width: info.width, height: info.height, channels: info.channels };
  } catch (err: unknown) {
    throw wrap(err, 'image could not be decoded');
  }
}

/** sharp input options for a raster this module decoded (its size was checked at decode). */
function rasterInput(raster: Raster): sharp.SharpOptions {
  return { raw: { width: raster.width, height: raster.height, channels: raster.channels }, limitInputPixels: false };
}

/**
 * A tensor profile's pixels: alpha flattened onto `background`, converted to sRGB, resized to
 * exactly `plan.resizeWidth × plan.resizeHeight`, then cropped to the plan's extract region.
 * Returns 8-bit interleaved RGB.
 * @throws EdgeMLError INTERNAL when libvips fails on a raster it produced (a bug, not the input)
 */
export async function resizeRaster(raster: Raster, plan: ResizePlan, background: readonly [number, number, number]): Promise<RgbPixels> {
  try {
    let pipeline = sharp(raster.data, rasterInput(raster))
      .flatten({ background: { r: background[0], g: background[1], b: background[2] } })
      .toColourspace('srgb')
      .resize(plan.resizeWidth, plan.resizeHeight, { fit: 'fill' });
    if (plan.extractWidth !== plan.resizeWidth || plan.extractHeight !== plan.resizeHeight) {
      pipeline = pipeline.extract({ left: plan.extractLeft, top: plan.extractTop, width: plan.extractWidth, height: plan.extractHeight });
    }
    const { data, info } = await pipeline.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== plan.extractWidth || info.height !== plan.extractHeight) {
      throw new Error(`resize returned ${info.width}×${info.height}×${info.channels}; ${plan.extractWidth}×${plan.extractHeight}×3 expected`);
    }
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (err: unknown) {
    throw new EdgeMLError('INTERNAL', `resizing a decoded image failed: ${errorMessage(err)}`, { cause: err });
  }
}

export interface EncodedImage {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly format: 'png' | 'jpeg';
}

/**
 * The image artifact for retraining: the raster resized to `width × height` (no resampling when it
 * already has that size), metadata stripped (EXIF, GPS), encoded as PNG (alpha kept) or JPEG (alpha
 * flattened onto white); greyscale stays greyscale. Encoding is deterministic, so redoing it
 * rewrites the same bytes.
 * @throws EdgeMLError INTERNAL when libvips fails on a raster it produced (a bug, not the input)
 */
export async function encodeRaster(raster: Raster, options: { format: 'png' | 'jpeg'; width: number; height: number; jpegQuality: number }): Promise<EncodedImage> {
  try {
    let pipeline = sharp(raster.data, rasterInput(raster));
    if (options.width !== raster.width || options.height !== raster.height) pipeline = pipeline.resize(options.width, options.height, { fit: 'fill' });
    if (raster.channels <= 2) pipeline = pipeline.toColourspace('b-w');
    const encoded =
      options.format === 'png'
        ? pipeline.png({ compressionLevel: 6 })
        : pipeline.flatten({ background: '#ffffff' }).jpeg({ quality: options.jpegQuality, chromaSubsampling: '4:2:0' });
    const { data, info } = await encoded.toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, format: options.format };
  } catch (err: unknown) {
    throw new EdgeMLError('INTERNAL', `encoding the image artifact failed: ${errorMessage(err)}`, { cause: err });
  }
}

/** Encodes raw RGB pixels (tests and benchmarks build images with known pixels through this). */
export async function encodeRgb(pixels: RgbPixels, format: 'png' | 'jpeg', extra: { orientation?: number } = {}): Promise<Buffer> {
  let s = sharp(Buffer.from(pixels.data.buffer, pixels.data.byteOffset, pixels.data.byteLength), {
    raw: { width: pixels.width, height: pixels.height, channels: 3 },
  });
  if (extra.orientation !== undefined) s = s.withMetadata({ orientation: extra.orientation });
  return format === 'png' ? s.png().toBuffer() : s.jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer();
}
