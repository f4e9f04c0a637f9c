/**
 * NumPy `.npy` v1.0 encoding (the format numpy.load reads as is): magic, version 1.0, a
 * little-endian uint16 header length, a Python-dict header padded with spaces to a multiple of 64
 * bytes and ending in '\n', then the data in C order, little-endian.
 */
const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
const PREAMBLE_BYTES = 10;
const ALIGN = 64;
const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export type NpyDescr = '<f4' | '|u1';

export interface NpyHeader {
  readonly descr: NpyDescr;
  readonly fortranOrder: boolean;
  readonly shape: readonly number[];
  /** Offset of the first data byte. */
  readonly dataOffset: number;
}

/** The header dict numpy writes, e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 48, 192), }`. */
export function npyHeaderText(descr: NpyDescr, shape: readonly number[]): string {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  return `{'descr': '${descr}', 'fortran_order': False, 'shape': ${dims}, }`;
}

/**
 * Encodes a tensor as `.npy`. @throws RangeError when the element count does not match the shape
 * or the header would exceed the v1.0 limit (65 535 bytes).
 */
export function encodeNpy(data: Float32Array | Uint8Array, shape: readonly number[]): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`shape [${shape.join(', ')}] holds ${count} elements; data has ${data.length}`);
  const descr: NpyDescr = data instanceof Float32Array ? '<f4' : '|u1';
  const dict = npyHeaderText(descr, shape);
  const unpadded = PREAMBLE_BYTES + dict.length + 1;
  const headerLength = Math.ceil(unpadded / ALIGN) * ALIGN - PREAMBLE_BYTES;
  if (headerLength > 0xffff) throw new RangeError('npy header too long for format 1.0');
  const header = Buffer.alloc(PREAMBLE_BYTES + headerLength, 0x20);
  MAGIC.copy(header, 0);
  header[6] = 1;
  header[7] = 0;
  header.writeUInt16LE(headerLength, 8);
  header.write(dict, PREAMBLE_BYTES, 'latin1');
  header[header.length - 1] = 0x0a;
  let body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (!IS_LITTLE_ENDIAN && data instanceof Float32Array) body = Buffer.from(body).swap32();
  return Buffer.concat([header, body]);
}

/**
 * Parses a `.npy` header (v1.0 and v2.0, the subset this suite writes: `<f4`/`|u1`, C order).
 * @throws Error with the reason when the bytes are not such a header.
 */
export function parseNpyHeader(bytes: Uint8Array): NpyHeader {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < PREAMBLE_BYTES || !buf.subarray(0, 6).equals(MAGIC)) throw new Error('not an .npy file (bad magic)');
  const major = buf[6];
  const lengthBytes = major === 1 ? 2 : major === 2 ? 4 : 0;
  if (lengthBytes === 0) throw new Error(`unsupported .npy version ${major}.${buf[7]}`);
  const headerLength = lengthBytes === 2 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = 8 + lengthBytes;
  if (buf.length < start + headerLength) throw new Error('truncated .npy header');
  const text = buf.subarray(start, start + headerLength).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(text)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr !== '<f4' && descr !== '|u1') throw new Error(`unsupported descr ${String(descr)}`);
  if (fortran === undefined || shapeText === undefined) throw new Error('malformed .npy header');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number.parseInt(s, 10));
  if (shape.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`malformed shape (${shapeText})`);
  return { descr, fortranOrder: fortran === 'True', shape, dataOffset: start + headerLength };
}
