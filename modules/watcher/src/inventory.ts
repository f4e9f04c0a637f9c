/**
 * The inventory walk: every entry under the inbox, classified without following symlinks. The
 * reconciler compares it with the persisted inventory (ledger `paths`); it is the source of
 * truth, events only make detection faster.
 */
import type { Dirent, Stats } from 'node:fs';
import { lstat, opendir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { isWithin } from '@edgeml/shared';

/** Directory depth below the inbox that is walked; deeper trees are reported once, not walked. */
export const MAX_WALK_DEPTH = 32;

const STAT_CONCURRENCY = 64;

export type EntryClass =
  | { readonly type: 'file'; readonly sizeBytes: number; readonly mtimeMs: number }
  | { readonly type: 'refused'; readonly code: 'PATH_OUTSIDE_ROOT' | 'FILE_NOT_REGULAR'; readonly reason: string }
  | { readonly type: 'directory' }
  | { readonly type: 'missing' };

/** POSIX path relative to `root` for an absolute path inside it. */
export function relativePosix(root: string, abs: string): string {
  return path.relative(root, abs).split(path.sep).join('/');
}

/** Absolute path of a POSIX path relative to `root` (the inverse of {@link relativePosix}). */
export function absoluteIn(root: string, rel: string): string {
  return path.join(root, ...rel.split('/'));
}

/**
 * Classifies one inbox entry from its lstat: regular files are candidates; symlinks (wherever they
 * point), devices, FIFOs and sockets are refused with a reason; a symlink's target is reported so
 * the operator sees where it tried to lead.
 */
export async function classifyEntry(inboxReal: string, abs: string, st?: Stats): Promise<EntryClass> {
  let stats = st;
  if (stats === undefined) {
    try {
      stats = await lstat(abs);
    } catch (err: unknown) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { type: 'missing' };
      throw err;
    }
  }
  if (stats.isFile()) return { type: 'file', sizeBytes: stats.size, mtimeMs: stats.mtimeMs };
  if (stats.isDirectory()) return { type: 'directory' };
  if (stats.isSymbolicLink()) {
    let target: string;
    try {
      target = await realpath(abs);
    } catch {
      return { type: 'refused', code: 'PATH_OUTSIDE_ROOT', reason: 'dangling symlink (its target does not exist); only regular files are ingested' };
    }
    if (!isWithin(inboxReal, target)) {
      return { type: 'refused', code: 'PATH_OUTSIDE_ROOT', reason: `symlink resolves to ${JSON.stringify(target)}, outside the inbox` };
    }
    return { type: 'refused', code: 'FILE_NOT_REGULAR', reason: 'symlink inside the inbox; only regular files are ingested (its target is processed on its own)' };
  }
  const what = stats.isFIFO() ? 'FIFO' : stats.isSocket() ? 'socket' : stats.isCharacterDevice() ? 'character device' : stats.isBlockDevice() ? 'block device' : 'special file';
  return { type: 'refused', code: 'FILE_NOT_REGULAR', reason: `${what}; only regular files are ingested` };
}

export interface WalkEntry {
  readonly rel: string;
  readonly entry: EntryClass;
}

export interface WalkResult {
  readonly entries: WalkEntry[];
  /** Directories that could not be read, with the error, and trees deeper than {@link MAX_WALK_DEPTH}. */
  readonly problems: string[];
  /** The inbox itself could not be read (unmounted share, permissions): the walk says nothing. */
  readonly rootUnreadable: boolean;
}

/**
 * Walks the inbox depth-first without following symlinks. Directories are not returned; entries
 * are in no particular order. `signal` stops the walk between directories.
 */
export async function walkInbox(inboxReal: string, signal?: AbortSignal): Promise<WalkResult> {
  const entries: WalkEntry[] = [];
  const problems: string[] = [];
  const stack: { abs: string; depth: number }[] = [{ abs: inboxReal, depth: 0 }];
  let rootUnreadable = false;
  while (stack.length > 0) {
    if (signal?.aborted === true) break;
    const dir = stack.pop()!;
    let handle;
    try {
      handle = await opendir(dir.abs, { bufferSize: 256 });
    } catch (err: unknown) {
      const code = (err as NodeJS.ErrnoException).code;
      if (dir.depth === 0) rootUnreadable = true;
      if (dir.depth === 0 || (code !== 'ENOENT' && code !== 'ENOTDIR')) problems.push(`${relativePosix(inboxReal, dir.abs) || '.'}: ${(err as Error).message}`);
      continue;
    }
    const files: { abs: string; rel: string }[] = [];
    try {
      for await (const d of handle as AsyncIterable<Dirent>) {
        const abs = path.join(dir.abs, d.name);
        const rel = relativePosix(inboxReal, abs);
        if (d.isDirectory()) {
          if (dir.depth + 1 > MAX_WALK_DEPTH) problems.push(`${rel}: deeper than ${MAX_WALK_DEPTH} levels; not walked`);
          else stack.push({ abs, depth: dir.depth + 1 });
        } else files.push({ abs, rel });
      }
    } catch (err: unknown) {
      problems.push(`${relativePosix(inboxReal, dir.abs) || '.'}: ${(err as Error).message}`);
    }
    // lstat in parallel chunks: one at a time waits a thread-pool round trip per file.
    for (let i = 0; i < files.length; i += STAT_CONCURRENCY) {
      const chunk = files.slice(i, i + STAT_CONCURRENCY);
      const classified = await Promise.all(
        chunk.map(async (f) => {
          try {
            return { rel: f.rel, entry: await classifyEntry(inboxReal, f.abs) };
          } catch (err: unknown) {
            problems.push(`${f.rel}: ${(err as Error).message}`);
            return undefined;
          }
        }),
      );
      for (const c of classified) if (c !== undefined && c.entry.type !== 'missing' && c.entry.type !== 'directory') entries.push(c);
    }
  }
  return { entries, problems, rootUnreadable };
}
