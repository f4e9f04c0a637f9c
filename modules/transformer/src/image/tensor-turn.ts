import { createHash } from 'node:crypto';
import { EdgeMLError, parseNpyHeader } from '@edgeml/shared';

/**
 * A crop's tensor file turned 180° without going back to its pixels: within the crop's own width
 * (`contentWidth`, the right padding stays on the right), each channel's rows are reversed and each
 * row's samples too. Normalisation is per sample, so this equals normalising the turned crop
 * (PaddleOCR turns the crop image, then resizes it; resizing commutes with a 180° turn). Pure.
 * @throws EdgeMLError INPUT_MALFORMED when the file is not a `[1, 3, H, W]` / `[1, H, W, 3]` `.npy`
 *   of the size its header says, or `contentWidth` does not fit
 */
export function turnTensorFile180(file: Buffer, contentWidth: number): { bytes: Buffer; sha256: string } {
  const { shape, dtype, dataOffset, dataBytes } = parseNpyHeader(file);
  if (file.length !== dataOffset + dataBytes) throw new EdgeMLError('INPUT_MALFORMED', `the crop's tensor file holds ${file.length} bytes, its header says ${dataOffset + dataBytes}`);
  const nchw = shape.length === 4 && shape[0] === 1 && shape[1] === 3;
  const nhwc = shape.length === 4 && shape[0] === 1 && shape[3] === 3;
  if (!nchw && !nhwc) throw new EdgeMLError('INPUT_MALFORMED', `the crop's tensor has shape [${shape.join(',')}]; one NCHW or NHWC image is expected`);
  const H = nchw ? shape[2]! : shape[1]!;
  const W = nchw ? shape[3]! : shape[2]!;
  if (!Number.isInteger(contentWidth) || contentWidth < 1 || contentWidth > W) throw new EdgeMLError('INPUT_MALFORMED', `content width ${contentWidth} does not fit a tensor ${W} wide`);
  // Samples move whole (32-bit units for float32), so the file's byte order does not matter; the slices
  // are copies, aligned whatever the file buffer's offset.
  const region = file.buffer.slice(file.byteOffset + dataOffset, file.byteOffset + dataOffset + dataBytes);
  const src = dtype === 'float32' ? new Uint32Array(region) : new Uint8Array(region);
  const dst = src.slice();
  for (let y = 0; y < H; y++) {
    const y2 = H - 1 - y;
    for (let x = 0; x < contentWidth; x++) {
      const x2 = contentWidth - 1 - x;
      if (nchw) for (let c = 0; c < 3; c++) dst[c * H * W + y2 * W + x2] = src[c * H * W + y * W + x]!;
      else for (let c = 0; c < 3; c++) dst[(y2 * W + x2) * 3 + c] = src[(y * W + x) * 3 + c]!;
    }
  }
  const out = Buffer.concat([file.subarray(0, dataOffset), Buffer.from(dst.buffer, dst.byteOffset, dst.byteLength)]);
  return { bytes: out, sha256: createHash('sha256').update(out).digest('hex') };
}
