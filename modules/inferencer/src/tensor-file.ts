/**
 * Reads a tensor file straight into its slot of a batch buffer and checks it against what its
 * message declares. It runs in the session worker, right before the batch's run, with synchronous
 * calls: measured on the 2-core development VM, the same reads done asynchronously from the main
 * thread (open, read, close on libuv's thread pool) cost about 0.4 ms of CPU per tensor across
 * threads, while a local read of a 110 KB classifier tensor takes tens of microseconds and a 4.9 MB
 * detector tensor about a millisecond, next to runs of about 1 ms and 100+ ms.
 *
 * No SHA-256 for the suite's own staging files: the transformer writes each tensor atomically
 * (temp file + rename) under a name derived from the source's content id and the preprocessing
 * signature, so a file found there is complete and is the one the message names. What can still go
 * wrong — a truncated or padded file, another dtype or shape — is caught by the exact size and the
 * `.npy` header. Hashing a 4.9 MB detector tensor cost about 15 ms of CPU per item.
 * A tensor outside `staging/` is not ours, and is hashed against the message's `sha256`.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, readvSync } from 'node:fs';
import { EdgeMLError, NPY_MAX_HEADER_BYTES, encodeNpyHeader, errorMessage, parseNpyHeader, type TensorMessage } from '@edgeml/shared';

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** What a tensor file must be: the message's `tensor` (path for messages, dtype and shape, sha256). */
export type TensorRef = Pick<TensorMessage['tensor'], 'path' | 'dtype' | 'shape' | 'sha256'>;

export interface ReadTensorOptions {
  /** Hash the whole file and compare with the message (for files outside the suite's staging area). */
  readonly verifySha256: boolean;
}

/**
 * The header the suite's encoder writes for each dtype and shape seen, so that a batch's reads do not
 * build the same one per item (a few shapes per model; bounded all the same).
 */
const expectedHeaders = new Map<string, Buffer>();
const MAX_CACHED_HEADERS = 64;

function expectedHeader(dtype: TensorRef['dtype'], shape: readonly number[]): Buffer {
  const key = `${dtype}:${shape.join(',')}`;
  let header = expectedHeaders.get(key);
  if (header === undefined) {
    header = encodeNpyHeader(dtype, shape);
    if (expectedHeaders.size >= MAX_CACHED_HEADERS) expectedHeaders.clear();
    expectedHeaders.set(key, header);
  }
  return header;
}

/** Where each read puts a file's header and the byte after its data (reads are synchronous: one of each serves every read). */
let headBuffer = Buffer.allocUnsafe(128);
const extraByte = Buffer.allocUnsafe(1);

function readFully(fd: number, target: Uint8Array, position: number): number {
  let filled = 0;
  while (filled < target.length) {
    const n = readSync(fd, target, filled, target.length - filled, position + filled);
    if (n === 0) break;
    filled += n;
  }
  return filled;
}

/**
 * Reads the data of the `.npy` at `file` (absolute, resolved) into `target`, which must be exactly
 * the data's size.
 *
 * One positional read in the common case: the header the message implies (the one the suite's encoder
 * writes), the data straight into `target`, and one byte more to notice a padded file. Anything else (a
 * header written differently, a short file) takes a second look that says exactly what is wrong.
 * @throws EdgeMLError FILE_NOT_FOUND (gone: a duplicate consumed it), FILE_UNREADABLE, FILE_NOT_REGULAR,
 *   INPUT_MALFORMED (not a .npy, truncated or padded, SHA-256 differs), TENSOR_MISMATCH (dtype or shape differs from the message)
 */
export function readTensorInto(file: string, tensor: TensorRef, target: Uint8Array, options: ReadTensorOptions): void {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted under the data root must not block in open().
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'FILE_UNREADABLE';
    throw new EdgeMLError(code, `tensor file ${tensor.path} cannot be opened: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const expected = expectedHeader(tensor.dtype, tensor.shape);
    if (headBuffer.length < expected.length) headBuffer = Buffer.allocUnsafe(expected.length);
    const head = headBuffer.subarray(0, expected.length);
    const bytesRead = readvSync(fd, [head, target, extraByte], 0);
    let header: Buffer = head;
    if (bytesRead !== expected.length + target.byteLength || !head.equals(expected)) {
      // A copy: the shared head buffer is read into again by the next file.
      header = slowCheck(fd, tensor, target, Buffer.from(head.subarray(0, Math.min(bytesRead, head.length))));
    }
    if (options.verifySha256) {
      const actual = createHash('sha256').update(header).update(target).digest('hex');
      if (actual !== tensor.sha256) throw new EdgeMLError('INPUT_MALFORMED', `tensor file ${tensor.path} has SHA-256 ${actual}, the message says ${tensor.sha256} (truncated or replaced)`);
    }
    if (!IS_LITTLE_ENDIAN && tensor.dtype === 'float32') Buffer.from(target.buffer, target.byteOffset, target.byteLength).swap32();
  } catch (err: unknown) {
    if (err instanceof EdgeMLError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    // A directory (EISDIR), a FIFO or socket (ESPIPE: no positional reads), a device that refuses (EINVAL, EAGAIN).
    if (code === 'EISDIR' || code === 'ESPIPE' || code === 'EAGAIN' || code === 'EINVAL') throw new EdgeMLError('FILE_NOT_REGULAR', `tensor path ${tensor.path} is not a regular file`, { cause: err });
    throw new EdgeMLError('FILE_UNREADABLE', `tensor file ${tensor.path} cannot be read: ${errorMessage(err)}`, { cause: err });
  } finally {
    closeSync(fd);
  }
}

/**
 * The file is not exactly what the message implies: parse its header and say why, or (a valid header
 * written another way, e.g. by numpy itself) read the data again from where it really starts.
 * Returns the file's header bytes.
 */
function slowCheck(fd: number, tensor: TensorRef, target: Uint8Array, start: Buffer): Buffer {
  const st = fstatSync(fd);
  if (!st.isFile()) throw new EdgeMLError('FILE_NOT_REGULAR', `tensor path ${tensor.path} is not a regular file`);
  let prefix = start;
  if (prefix.length < Math.min(st.size, NPY_MAX_HEADER_BYTES)) {
    prefix = Buffer.allocUnsafe(Math.min(st.size, NPY_MAX_HEADER_BYTES));
    prefix = prefix.subarray(0, readFully(fd, prefix, 0));
  }
  const header = parseNpyHeader(prefix);
  if (header.dtype !== tensor.dtype || header.shape.join(',') !== tensor.shape.join(',')) {
    throw new EdgeMLError('TENSOR_MISMATCH', `tensor file holds ${header.dtype}[${header.shape.join(',')}], the message declares ${tensor.dtype}[${tensor.shape.join(',')}]`);
  }
  if (st.size !== header.dataOffset + header.dataBytes) {
    throw new EdgeMLError(
      'INPUT_MALFORMED',
      `tensor file ${tensor.path} is ${st.size} bytes; its ${header.dtype}[${header.shape.join(',')}] needs ${header.dataBytes} after a ${header.dataOffset}-byte header (truncated or padded file)`,
    );
  }
  if (target.byteLength !== header.dataBytes) throw new EdgeMLError('INTERNAL', `batch slot of ${target.byteLength} bytes for a tensor of ${header.dataBytes}`);
  const read = readFully(fd, target, header.dataOffset);
  if (read !== header.dataBytes) throw new EdgeMLError('INPUT_MALFORMED', `tensor file ${tensor.path} ended after ${read} of ${header.dataBytes} data bytes (truncated while read)`);
  return prefix.subarray(0, header.dataOffset);
}
