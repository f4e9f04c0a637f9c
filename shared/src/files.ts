import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { EdgeMLError } from './errors.js';

const HASH_CHUNK_BYTES = 1 << 20;

/**
 * SHA-256 (hex) of a file, read through one buffer of at most 1 MiB (sized to the file, so a small
 * file costs a small buffer): one open, reads until EOF, one close. A ReadStream allocates a fresh
 * 1 MiB chunk per read, which dominated the cost of hashing many small files (measured with
 * bench/watcher.ts). @throws the fs error (ENOENT, EACCES, EIO, …) or EdgeMLError ABORTED
 */
export async function sha256File(filePath: string, signal?: AbortSignal): Promise<{ sha256: string; sizeBytes: number }> {
  const handle = await open(filePath, 'r');
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(HASH_CHUNK_BYTES, size + 1)));
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

/** What {@link writeStreamHashed} does when the stream is too long or breaks off. */
export interface HashedWriteOptions {
  /** More bytes than this: `tooLarge()` is thrown as it is. */
  readonly maxBytes: number;
  readonly tooLarge: () => Error;
  /** Any other failure (the source breaking off, a disk error): its error, and the bytes received so far. */
  readonly failed: (err: unknown, sizeBytes: number) => Error;
}

/**
 * Streams `chunks` into `file` (created; it must not exist), hashing them with SHA-256 as they are
 * written and honouring the file's back-pressure. On failure the file stream is closed; the partial
 * file is the caller's to remove. Shared by model downloads and registry blob downloads.
 * @throws `options.tooLarge()` or `options.failed(err, sizeBytes)`
 */
export async function writeStreamHashed(chunks: AsyncIterable<Uint8Array>, file: string, options: HashedWriteOptions): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  let tooLarge: Error | undefined;
  const out = createWriteStream(file, { flags: 'wx' });
  const closed = new Promise<void>((resolve, reject) => {
    out.once('close', resolve);
    out.once('error', reject);
  });
  try {
    for await (const chunk of chunks) {
      sizeBytes += chunk.length;
      if (sizeBytes > options.maxBytes) throw (tooLarge = options.tooLarge());
      hash.update(chunk);
      // A stream that fails (EEXIST, ENOSPC) never drains: `closed` rejects with its error instead.
      if (!out.write(chunk)) await Promise.race([new Promise<void>((resolve) => out.once('drain', resolve)), closed]);
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    await closed;
  } catch (err: unknown) {
    out.destroy();
    await closed.catch(() => undefined);
    throw err === tooLarge ? err : options.failed(err, sizeBytes);
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
  const temp = path.join(dir, `.tmp-${path.basename(target)}-${randomBytes(6).toString('hex')}`);
  const handle = await openInFreshDirectory(dir, temp);
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

/**
 * Creates `dir` if needed and opens `file` in it for writing. Consumers remove a per-source staging
 * directory once it is empty (the inferencer, the uploader), so another writer's directory may vanish
 * between the mkdir and the open, or inside a recursive mkdir (EEXIST, then gone before its stat):
 * both report ENOENT, and creating the directory again is safe, because the open file then keeps it
 * non-empty. (Seen: a chain's crop tensors written while the inferencer emptied the same source's
 * directory; tests/unit/shared/files.test.ts.)
 */
async function openInFreshDirectory(dir: string, file: string): Promise<Awaited<ReturnType<typeof open>>> {
  for (let attempt = 1; ; attempt++) {
    try {
      await mkdir(dir, { recursive: true });
      return await open(file, 'w');
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 8) throw err;
    }
  }
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

/**
 * Moves a file so that a power loss at any instant leaves at least one complete copy: `rename` and
 * an fsync of both directories; across filesystems (`EXDEV`: a share and its failed/ folder on other
 * mounts) a copy to a temp name, fsync, rename into place, fsync of the directory, and only then the
 * removal of the source. @throws the fs error of the move (the source is left in place)
 */
export async function moveFile(from: string, to: string): Promise<void> {
  const toDir = path.dirname(to);
  await mkdir(toDir, { recursive: true });
  try {
    await rename(from, to);
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    const temp = path.join(toDir, `${TEMP_FILE_PREFIX}${path.basename(to)}-${randomBytes(6).toString('hex')}`);
    try {
      await copyFile(from, temp);
      const handle = await open(temp, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, to);
    } catch (copyErr: unknown) {
      await rm(temp, { force: true });
      throw copyErr;
    }
    await fsyncDir(toDir);
    await rm(from, { force: true });
    await fsyncDir(path.dirname(from));
    return;
  }
  await fsyncDir(toDir);
  if (path.dirname(from) !== toDir) await fsyncDir(path.dirname(from));
}

/** Name prefix of temp files made by {@link writeFileAtomic}; writers and watchers ignore it. */
export const TEMP_FILE_PREFIX = '.tmp-';
