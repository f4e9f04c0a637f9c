/**
 * The tensor file format between the transformer and the inferencer: NumPy `.npy` (readable by
 * numpy.load as is). Written as format 1.0 — magic, version, a little-endian uint16 header length,
 * a Python-dict header padded with spaces to a multiple of 64 bytes and ending in '\n' — then the
 * data in C order, little-endian. Read: formats 1.0–3.0 with `<f4` or `|u1`, C order.
 */
import { EdgeMLError } from '../errors.js';

export interface NpyArray {
  readonly dtype: 'float32' | 'uint8';
  readonly shape: readonly number[];
  readonly data: Float32Array | Uint8Array;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function malformed(message: string): EdgeMLError {
  return new EdgeMLError('INPUT_MALFORMED', `tensor file: ${message}`);
}

/**
 * The `.npy` v1.0 header of a C-order array: magic, version, length and the padded dict. Its length
 * is a multiple of 64, so data written right after it is aligned for a Float32Array view; a writer
 * can place the data in the same buffer and write the file in one call (no concatenation); a reader
 * that knows what a message declares can compare a file's first bytes with it instead of parsing them.
 * @throws RangeError when the header would not fit format 1.0
 */
export function encodeNpyHeader(dtype: NpyArray['dtype'], shape: readonly number[]): Buffer {
  const descr = dtype === 'float32' ? '<f4' : '|u1';
  const shapeText = shape.length === 1 ? `(${String(shape[0])},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // The total header (magic + version + length + text + '\n') is padded to a multiple of 64.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  if (header.length > 0xffff) throw new RangeError('npy header too long for format 1.0');
  const out = Buffer.alloc(10 + header.length);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  return out;
}

/**
 * Encodes a C-order array as `.npy` v1.0.
 * @throws RangeError when the element count does not match the shape, or the dtype does not match the data
 */
export function encodeNpy(array: NpyArray): Buffer {
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (count !== array.data.length) throw new RangeError(`shape [${array.shape.join(', ')}] holds ${count} elements; data has ${array.data.length}`);
  if ((array.dtype === 'float32') !== array.data instanceof Float32Array) throw new RangeError(`dtype ${array.dtype} does not match the data (${array.data.constructor.name})`);
  let data = Buffer.from(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  if (!IS_LITTLE_ENDIAN && array.dtype === 'float32') data = Buffer.from(data).swap32();
  return Buffer.concat([encodeNpyHeader(array.dtype, array.shape), data]);
}

/** What a `.npy` header says: element type, shape, and where the data starts. */
export interface NpyHeader {
  readonly dtype: NpyArray['dtype'];
  readonly shape: readonly number[];
  /** Byte offset of the data (magic, version, length field and header text before it). */
  readonly dataOffset: number;
  /** Bytes of data the shape and dtype call for. */
  readonly dataBytes: number;
}

/** Bytes to read to be sure a header fits: format 1.0 lengths are uint16, and headers over 64 KiB are refused. */
export const NPY_MAX_HEADER_BYTES = 12 + 65_536;

/**
 * Parses the header at the start of a `.npy` file (`prefix` may hold just the header, or more).
 * @throws EdgeMLError INPUT_MALFORMED (bad magic, header, dtype or order)
 */
export function parseNpyHeader(prefix: Buffer): NpyHeader {
  const bytes = prefix;
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(MAGIC)) throw malformed('not a .npy file (bad magic)');
  const major = bytes[6];
  let headerLength: number;
  let offset: number;
  if (major === 1) {
    headerLength = bytes.readUInt16LE(8);
    offset = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw malformed('truncated header');
    headerLength = bytes.readUInt32LE(8);
    offset = 12;
  } else {
    throw malformed(`unsupported format version ${String(major)}`);
  }
  if (headerLength > 65_536 || offset + headerLength > bytes.length) throw malformed('truncated header');
  const header = bytes.subarray(offset, offset + headerLength).toString('latin1');
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw malformed(`unreadable header ${JSON.stringify(header.slice(0, 120))}`);
  if (fortran === 'True') throw malformed('Fortran order is not supported (C order expected)');
  let dtype: NpyArray['dtype'];
  if (descr === '<f4') dtype = 'float32';
  else if (descr === '|u1' || descr === '<u1') dtype = 'uint8';
  else throw malformed(`dtype ${descr} is not supported (expected <f4 or |u1)`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number(s));
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw malformed(`bad shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  return { dtype, shape, dataOffset: offset + headerLength, dataBytes: count * (dtype === 'float32' ? 4 : 1) };
}

/**
 * Decodes a `.npy` buffer.
 * @throws EdgeMLError INPUT_MALFORMED (bad magic, header, dtype, order, or a size that does not match the shape)
 */
export function decodeNpy(bytes: Buffer): NpyArray {
  const { dtype, shape, dataOffset, dataBytes: expected } = parseNpyHeader(bytes);
  const count = dtype === 'float32' ? expected / 4 : expected;
  const actual = bytes.length - dataOffset;
  if (actual !== expected) throw malformed(`data is ${actual} bytes; shape (${shape.join(', ')}) of ${dtype} needs ${expected} (truncated or padded file)`);
  const start = bytes.byteOffset + dataOffset;
  if (dtype === 'uint8') return { dtype, shape, data: new Uint8Array(bytes.buffer, start, count) };
  // A Float32Array view needs 4-byte alignment: a file read whole is (the header pads the data to
  // 64 bytes; measured, the view saves a 110 KB copy per cls tensor); a pooled Buffer slice may not be.
  if (start % 4 === 0 && IS_LITTLE_ENDIAN) return { dtype, shape, data: new Float32Array(bytes.buffer, start, count) };
  const copy = Buffer.from(bytes.subarray(dataOffset));
  if (!IS_LITTLE_ENDIAN) copy.swap32();
  return { dtype, shape, data: new Float32Array(copy.buffer, copy.byteOffset, count) };
}
