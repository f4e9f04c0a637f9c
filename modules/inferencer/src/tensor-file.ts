/**
 * Reads a tensor file straight into its slot of a batch buffer, off the main thread (the reads run
 * on libuv's thread pool, while the session worker runs the previous batch), and checks it against
 * what its message declares.
 *
 * No SHA-256 for the suite's own staging files: the transformer writes each tensor atomically
 * (temp file + rename) under a name derived from the source's content id and the preprocessing
 * signature, so a file found there is complete and is the one the message names. What can still go
 * wrong — a truncated or padded file, another dtype or shape — is caught by the exact size and the
 * `.npy` header. Hashing a 4.9 MB detector tensor cost about 15 ms of main-thread CPU per item.
 * A tensor outside `staging/` is not ours, and is hashed against the message's `sha256`.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { EdgeMLError, NPY_MAX_HEADER_BYTES, errorMessage, parseNpyHeader, type TensorMessage } from '@edgeml/shared';

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

async function readFully(handle: FileHandle, target: Uint8Array, position: number): Promise<number> {
  let filled = 0;
  while (filled < target.length) {
    const { bytesRead } = await handle.read(target, filled, target.length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}

export interface ReadTensorOptions {
  /** Hash the whole file and compare with the message (for files outside the suite's staging area). */
  readonly verifySha256: boolean;
}

/**
 * Reads the data of the `.npy` at `file` (absolute) into `target`, which must be exactly the data's size.
 * @throws EdgeMLError FILE_NOT_FOUND (gone: a duplicate consumed it), FILE_UNREADABLE, INPUT_MALFORMED
 *   (not a .npy, truncated or padded, SHA-256 differs), TENSOR_MISMATCH (dtype or shape differs from the message)
 */
export async function readTensorInto(file: string, tensor: TensorMessage['tensor'], target: Uint8Array, options: ReadTensorOptions): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'FILE_UNREADABLE';
    throw new EdgeMLError(code, `tensor file ${tensor.path} cannot be opened: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const { size } = await handle.stat();
    const prefix = Buffer.allocUnsafe(Math.min(size, NPY_MAX_HEADER_BYTES));
    const got = await readFully(handle, prefix, 0);
    const header = parseNpyHeader(prefix.subarray(0, got));
    if (header.dtype !== tensor.dtype || header.shape.join(',') !== tensor.shape.join(',')) {
      throw new EdgeMLError('TENSOR_MISMATCH', `tensor file holds ${header.dtype}[${header.shape.join(',')}], the message declares ${tensor.dtype}[${tensor.shape.join(',')}]`);
    }
    if (size !== header.dataOffset + header.dataBytes) {
      throw new EdgeMLError(
        'INPUT_MALFORMED',
        `tensor file ${tensor.path} is ${size} bytes; its ${header.dtype}[${header.shape.join(',')}] needs ${header.dataBytes} after a ${header.dataOffset}-byte header (truncated or padded file)`,
      );
    }
    if (target.byteLength !== header.dataBytes) throw new EdgeMLError('INTERNAL', `batch slot of ${target.byteLength} bytes for a tensor of ${header.dataBytes}`);
    const read = await readFully(handle, target, header.dataOffset);
    if (read !== header.dataBytes) throw new EdgeMLError('INPUT_MALFORMED', `tensor file ${tensor.path} ended after ${read} of ${header.dataBytes} data bytes (truncated while read)`);
    if (options.verifySha256) {
      const actual = createHash('sha256').update(prefix.subarray(0, header.dataOffset)).update(target).digest('hex');
      if (actual !== tensor.sha256) throw new EdgeMLError('INPUT_MALFORMED', `tensor file ${tensor.path} has SHA-256 ${actual}, the message says ${tensor.sha256} (truncated or replaced)`);
    }
    if (!IS_LITTLE_ENDIAN && tensor.dtype === 'float32') Buffer.from(target.buffer, target.byteOffset, target.byteLength).swap32();
  } catch (err: unknown) {
    if (err instanceof EdgeMLError) throw err;
    throw new EdgeMLError('FILE_UNREADABLE', `tensor file ${tensor.path} cannot be read: ${errorMessage(err)}`, { cause: err });
  } finally {
    await handle.close();
  }
}
