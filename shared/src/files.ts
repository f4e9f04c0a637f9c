import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** SHA-256 (hex) of a file, streamed so a large file never sits in memory. */
export async function sha256File(filePath: string, signal?: AbortSignal): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  const stream = createReadStream(filePath, { highWaterMark: 1 << 20, ...(signal === undefined ? {} : { signal }) });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    sizeBytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Writes `data` to `target` atomically: a temp file in the same directory, fsync, rename, fsync
 * of the directory. A reader never sees a partial file, and a crash leaves either the old or the
 * new content (plus possibly a `.tmp-*` file that {@link cleanTempFiles} removes).
 */
export async function writeFileAtomic(target: string, data: Buffer | string | Uint8Array): Promise<void> {
  const dir = path.dirname(target);
  await mkdir(dir, { recursive: true });
  const temp = path.join(dir, `.tmp-${path.basename(target)}-${randomBytes(6).toString('hex')}`);
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, target);
  } catch (err: unknown) {
    await rm(temp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** fsync a directory so a rename inside it survives power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Name prefix of temp files made by {@link writeFileAtomic}; writers and watchers ignore it. */
export const TEMP_FILE_PREFIX = '.tmp-';
