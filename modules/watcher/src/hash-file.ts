/**
 * Content identity of a stable inbox file: SHA-256 of its bytes, and the size and mtime of the
 * very inode that was read, taken after reading (so a file written to while it was read is seen
 * as changed). Fewer system calls than hashing then `lstat`ing the path: open, read (one read
 * reaches EOF for a file of the expected size), fstat, close.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { EdgeMLError } from '@edgeml/shared';

/** Largest read; bigger files are streamed through the hash in pieces of this size. */
const CHUNK_BYTES = 1024 * 1024;

export interface HashedFile {
  readonly sha256: string;
  readonly sizeBytes: number;
  /** The inode's mtime after the read; absent when the hasher does not know it (the caller then stats the path). */
  readonly mtimeMs?: number;
  /** The inode's size after the read (equal to `sizeBytes` unless the file grew or shrank meanwhile). */
  readonly sizeAfterBytes?: number;
}

/** Streams a file through SHA-256 (a test seam may replace it). */
export type HashFile = (absPath: string, signal?: AbortSignal, expectedSizeBytes?: number) => Promise<HashedFile>;

/** The default {@link HashFile}. @throws the fs error (ENOENT, EACCES, EIO…) or EdgeMLError ABORTED */
export const hashInboxFile: HashFile = async (absPath, signal, expectedSizeBytes) => {
  const handle = await open(absPath, 'r');
  try {
    // One byte more than expected, so a single read both takes the whole file and proves EOF.
    const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(CHUNK_BYTES, (expectedSizeBytes ?? CHUNK_BYTES) + 1)));
    const hash = createHash('sha256');
    let sizeBytes = 0;
    for (;;) {
      if (signal?.aborted === true) throw new EdgeMLError('ABORTED', 'hashing aborted', { cause: signal.reason });
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      sizeBytes += bytesRead;
      // A regular file's read comes back short only at its end.
      if (bytesRead < buffer.length) break;
    }
    const st = await handle.stat();
    return { sha256: hash.digest('hex'), sizeBytes, mtimeMs: st.mtimeMs, sizeAfterBytes: st.size };
  } finally {
    await handle.close();
  }
};
