import { createHash } from 'node:crypto';
import type { PreprocessingSpec } from '@edgeml/shared';
import { normalizeInto, type CanvasPlacement, type RgbPixels } from './tensor.js';

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** What it takes to build one tensor file (plain values: this crosses into a worker thread). */
export interface TensorFileJob {
  readonly pixels: RgbPixels;
  readonly placement: CanvasPlacement;
  readonly spec: PreprocessingSpec;
  /** The `.npy` header (encodeNpyHeader); its length is a multiple of 64. */
  readonly header: Uint8Array;
  /** A buffer of exactly the file's size to fill instead of allocating one (it is overwritten whole). */
  readonly reuse?: ArrayBuffer;
}

/** A whole `.npy` file in one buffer, and its SHA-256 (hex). */
export interface TensorFile {
  readonly buffer: ArrayBuffer;
  readonly sha256: string;
}

/** Bytes of the `.npy` file for `job`: header plus outputWidth × outputHeight × 3 samples. */
export function tensorFileBytes(header: Uint8Array, placement: CanvasPlacement, dtype: PreprocessingSpec['dtype']): number {
  return header.length + placement.outputWidth * placement.outputHeight * 3 * (dtype === 'float32' ? 4 : 1);
}

/**
 * Builds a `.npy` file in one buffer: the header, then the tensor normalised straight into the bytes
 * after it (the header's 64-byte padding keeps a Float32Array view aligned), so the file is written
 * with one call and never concatenated. Allocating a fresh multi-megabyte buffer costs more here
 * than the normalisation itself (page faults; measured ~7 ms vs ~1 ms for the 640×640 det tensor),
 * hence `reuse`.
 * @throws RangeError when the pixels do not fit the canvas, or the header is not 64-byte aligned
 */
export function buildTensorFile(job: TensorFileJob): TensorFile {
  const { header, placement, spec } = job;
  if (header.length % 64 !== 0) throw new RangeError(`npy header is ${header.length} bytes; a multiple of 64 expected`);
  const byteLength = tensorFileBytes(header, placement, spec.dtype);
  const buffer = job.reuse?.byteLength === byteLength ? job.reuse : new ArrayBuffer(byteLength);
  new Uint8Array(buffer, 0, header.length).set(header);
  const count = placement.outputWidth * placement.outputHeight * 3;
  const out = spec.dtype === 'float32' ? new Float32Array(buffer, header.length, count) : new Uint8Array(buffer, header.length, count);
  normalizeInto(out, job.pixels, placement, spec);
  // .npy says '<f4' (little-endian); a big-endian host swaps in place.
  if (!IS_LITTLE_ENDIAN && spec.dtype === 'float32') Buffer.from(buffer, header.length).swap32();
  return { buffer, sha256: createHash('sha256').update(new Uint8Array(buffer)).digest('hex') };
}
