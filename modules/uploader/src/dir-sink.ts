import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, lstat, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { EdgeMLError, fsyncDir, isWithin, TEMP_FILE_PREFIX, type Logger } from '@edgeml/shared';
import { checkContent, type UploadRequest, type UploadResult, type UploadSink } from './sink.js';
import type { RateLimiter } from './throttle.js';

/**
 * Directory sink for an Azure Stack Edge cloud share (an SMB/NFS mount that the appliance tiers
 * to Azure). A file appears under its final name only when complete: it is written to a
 * `.tmp-*` name in the same directory, fsynced, then published with link() (atomic and
 * create-if-absent: an existing name is never replaced) or, where the mount has no hard links,
 * rename() after an existence check. Existing content with the same MD5 is success (a replay).
 * The file, its directory entry and every directory created on the way are fsynced before an
 * upload counts as done: the uploader deletes the staging copy right after.
 */

export interface DirectorySinkOptions {
  /** Absolute directory that receives the files. */
  readonly root: string;
  readonly limiter: RateLimiter;
  readonly logger: Logger;
}

/** Temp files older than this are left-overs of a crash and removed by the sweep. */
const STALE_TEMP_MS = 3_600_000;

async function md5OfFile(file: string, signal: AbortSignal): Promise<{ md5: string; size: number }> {
  const hash = createHash('md5');
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, signal }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { md5: hash.digest('base64'), size };
}

function fsError(err: unknown, what: string): EdgeMLError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return new EdgeMLError('SINK_PERMISSION_DENIED', `${what}: ${(err as Error).message}`, { cause: err });
  if (code === 'ENOENT') return new EdgeMLError('FILE_NOT_FOUND', `${what}: ${(err as Error).message}`, { cause: err });
  return new EdgeMLError('SINK_UNAVAILABLE', `${what}: ${(err as Error).message}`, { cause: err });
}

/**
 * mkdir -p that survives power loss: the parent of every directory it created is fsynced, top
 * down, so the path to a published file exists after a crash as surely as the file does.
 */
async function mkdirDurable(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  const parents: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    parents.push(path.dirname(d));
    if (d === first || d === path.dirname(d)) break;
  }
  for (const p of parents.reverse()) await fsyncDir(p);
}

export interface DirectorySink extends UploadSink {
  /** Deletes files older than `deleteAfterMinutes` (0: none) and stale temp files. Returns how many. */
  sweep(deleteAfterMinutes: number, nowMs: number): Promise<number>;
}

export function createDirectorySink(options: DirectorySinkOptions): DirectorySink {
  const root = path.resolve(options.root);
  const limiter = options.limiter;

  const destination = (name: string): string => {
    const dest = path.resolve(root, ...name.split('/'));
    if (!isWithin(root, dest) || dest === root) throw new EdgeMLError('PATH_OUTSIDE_ROOT', `name ${JSON.stringify(name)} leaves the directory sink`);
    return dest;
  };

  const compare = async (dest: string, request: UploadRequest, md5: string, signal: AbortSignal): Promise<UploadResult> => {
    const existing = await md5OfFile(dest, signal);
    if (existing.md5 === md5) {
      // Published by an attempt that may have crashed before its fsync: make it durable now, as
      // the caller deletes the staging copy next.
      await fsyncDir(path.dirname(dest));
      return { name: request.name, md5, sizeBytes: request.sizeBytes, outcome: 'alreadyPresent', bytesSent: 0, blocksStaged: 0, blocksSkipped: 0 };
    }
    throw new EdgeMLError('SINK_CONFLICT', `${request.name} already exists in the directory sink with different content (MD5 ${existing.md5}, ours ${md5}); not overwritten`, {
      details: { name: request.name, existingMd5: existing.md5, md5 },
    });
  };

  return {
    kind: 'directory',
    target: root,
    async checkAccess(): Promise<void> {
      const probe = path.join(root, `${TEMP_FILE_PREFIX}probe-${randomBytes(4).toString('hex')}`);
      try {
        await mkdir(root, { recursive: true });
        const h = await open(probe, 'wx');
        await h.close();
        await unlink(probe);
      } catch (err: unknown) {
        throw fsError(err, `directory sink ${root} is not writable`);
      }
    },
    async upload(request: UploadRequest, signal: AbortSignal): Promise<UploadResult> {
      const dest = destination(request.name);
      const dir = path.dirname(dest);
      try {
        await mkdirDurable(dir);
      } catch (err: unknown) {
        throw fsError(err, `cannot create ${dir}`);
      }
      const temp = path.join(dir, `${TEMP_FILE_PREFIX}${path.basename(dest)}-${randomBytes(6).toString('hex')}`);
      const md5 = createHash('md5');
      const sha = createHash('sha256');
      let size = 0;
      try {
        const out = await open(temp, 'wx').catch((err: unknown) => {
          throw fsError(err, `cannot write in ${dir}`);
        });
        try {
          const chunks: AsyncIterable<Buffer> =
            'data' in request.source
              ? (async function* (data: Buffer) {
                  for (let o = 0; o < data.length; o += 1 << 20) yield data.subarray(o, o + (1 << 20));
                })(request.source.data)
              : (createReadStream(request.source.file, { highWaterMark: 1 << 20, signal }) as AsyncIterable<Buffer>);
          try {
            for await (const chunk of chunks) {
              await limiter.take(chunk.length, signal);
              md5.update(chunk);
              sha.update(chunk);
              size += chunk.length;
              await out.write(chunk);
            }
          } catch (err: unknown) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new EdgeMLError('FILE_NOT_FOUND', `source of ${request.name} is gone`, { cause: err });
            throw err;
          }
          await out.sync();
        } finally {
          await out.close();
        }
        const digest = md5.digest('base64');
        checkContent(request, size, request.expectedSha256 === undefined ? undefined : sha.digest('hex'));
        try {
          await link(temp, dest);
        } catch (err: unknown) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EEXIST') return await compare(dest, request, digest, signal);
          if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw fsError(err, `cannot publish ${request.name}`);
          // No hard links on this mount: check, then rename (a narrow race with another writer of the same name).
          const there = await lstat(dest).then(
            () => true,
            () => false,
          );
          if (there) return await compare(dest, request, digest, signal);
          await rename(temp, dest);
        }
        await fsyncDir(dir);
        return { name: request.name, md5: digest, sizeBytes: size, outcome: 'created', bytesSent: size, blocksStaged: 0, blocksSkipped: 0 };
      } finally {
        await rm(temp, { force: true });
      }
    },
    async sweep(deleteAfterMinutes: number, nowMs: number): Promise<number> {
      let removed = 0;
      const walk = async (dir: string): Promise<void> => {
        let entries;
        try {
          entries = await readdir(dir, { withFileTypes: true });
        } catch (err: unknown) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw err;
        }
        for (const e of entries) {
          const full = path.join(dir, e.name);
          if (e.isDirectory()) {
            await walk(full);
            continue;
          }
          if (!e.isFile()) continue;
          const st = await stat(full).catch(() => undefined);
          if (st === undefined) continue;
          const age = nowMs - st.mtimeMs;
          const stale = e.name.startsWith(TEMP_FILE_PREFIX) ? age > STALE_TEMP_MS : deleteAfterMinutes > 0 && age > deleteAfterMinutes * 60_000;
          if (stale) {
            await rm(full, { force: true });
            removed++;
          }
        }
      };
      await walk(root);
      if (removed > 0) options.logger.info({ removed, root }, 'directory sink retention removed files');
      return removed;
    },
    close(): Promise<void> {
      return Promise.resolve();
    },
  };
}
