import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { EdgeMLError } from '@edgeml/shared';

const CHUNK_BYTES = 1 << 20;

/**
 * SHA-256 (hex) of a file, streamed through one buffer of at most 1 MiB: one open, reads until
 * EOF, one close. Shared `sha256File` (a ReadStream) allocates a fresh 1 MiB chunk per read, which
 * dominated the cost of hashing many small files (measured in bench/watcher.ts).
 * @throws the fs error (ENOENT, EACCES, EIO, …) or EdgeMLError ABORTED
 */
export async function hashFileSha256(absPath: string, signal?: AbortSignal): Promise<{ sha256: string; sizeBytes: number }> {
  const handle = await open(absPath, 'r');
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(CHUNK_BYTES, size + 1)));
    const hash = createHash('sha256');
    let sizeBytes = 0;
    for (;;) {
      if (signal?.aborted === true) throw new EdgeMLError('ABORTED', 'hashing aborted', { cause: signal.reason });
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      sizeBytes += bytesRead;
    }
    return { sha256: hash.digest('hex'), sizeBytes };
  } finally {
    await handle.close();
  }
}
