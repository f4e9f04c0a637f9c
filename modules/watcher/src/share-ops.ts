/**
 * The watcher's writes to the share (it is the only module that touches it): dead letters to
 * `failed/`, completed inputs to `processed/` or deleted. Every destination is computed inside its
 * root from an inbox-relative path, never from message text.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { EdgeMLError, isWithin, moveFile, writeFileAtomic } from '@edgeml/shared';

export { moveFile };

/** What a dead-letter record's name adds to its input's. */
export const RECORD_SUFFIX = '.error.json';

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * A destination for `rel` under `destRoot` that does not exist yet: the same relative path, or
 * with `.1`, `.2`, … before the extension when taken (a second dead letter under the same name
 * must not overwrite the first one's evidence).
 */
export async function freeDestination(destRoot: string, rel: string, alsoFree: readonly string[] = []): Promise<string> {
  const base = path.resolve(destRoot, rel);
  if (!isWithin(destRoot, base)) throw new EdgeMLError('PATH_OUTSIDE_ROOT', `destination for ${JSON.stringify(rel)} leaves ${destRoot}`);
  const ext = path.extname(base);
  const stem = base.slice(0, base.length - ext.length);
  for (let n = 0; n < 10_000; n++) {
    const candidate = n === 0 ? base : `${stem}.${n}${ext}`;
    let free = !(await exists(candidate));
    for (const suffix of alsoFree) if (free && (await exists(candidate + suffix))) free = false;
    if (free) return candidate;
  }
  throw new EdgeMLError('INTERNAL', `no free name for ${rel} in ${destRoot}`);
}

export interface DeadLetterDocument {
  readonly code: string;
  readonly reasons: readonly { readonly code: string; readonly reason: string; readonly part?: string; readonly module?: string }[];
  /** Path relative to the share, where the input was. */
  readonly source: string;
  readonly id?: string;
  readonly attempts?: number;
  readonly detectedAt?: string;
  readonly deadLetteredAt: string;
}

/**
 * Moves `inboxAbs` to `failed/<rel>` and writes `<that>.error.json` first (so a crash between
 * the two leaves the evidence and the input still in the inbox, to be moved again). Returns the
 * new path. Without `inboxAbs` (the input is gone) only the record is written.
 */
export async function deadLetterFile(failedRoot: string, rel: string, inboxAbs: string | undefined, doc: DeadLetterDocument): Promise<string> {
  const dest = await freeDestination(failedRoot, rel, [RECORD_SUFFIX]);
  await writeFileAtomic(`${dest}${RECORD_SUFFIX}`, `${JSON.stringify({ ...doc, failedPath: path.relative(failedRoot, dest).split(path.sep).join('/') }, null, 2)}\n`);
  if (inboxAbs !== undefined) await moveFile(inboxAbs, dest);
  return dest;
}

/** Moves a completed input to `processed/<rel>` (a free name when taken). Returns the new path. */
export async function moveToProcessed(processedRoot: string, rel: string, inboxAbs: string): Promise<string> {
  const dest = await freeDestination(processedRoot, rel);
  await moveFile(inboxAbs, dest);
  return dest;
}

/** A dead-letter record (`<input>.error.json`) as read back from `failed/`. */
export interface DeadLetterRecord {
  readonly code?: string;
  readonly source?: string;
  readonly id?: string;
  readonly deadLetteredAt?: string;
}

/** Reads a dead-letter record; undefined when it is absent or not a JSON object (the share is user-writable). */
export async function readDeadLetterRecord(recordPath: string): Promise<DeadLetterRecord | undefined> {
  let text: string;
  try {
    text = await readFile(recordPath, 'utf8');
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const doc = JSON.parse(text) as unknown;
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return undefined;
    const o = doc as Record<string, unknown>;
    const str = (k: string): Record<string, string> => (typeof o[k] === 'string' ? { [k]: o[k] } : {});
    return { ...str('code'), ...str('source'), ...str('id'), ...str('deadLetteredAt') };
  } catch {
    // Edited into something that is not JSON: the input can still be reprocessed, by its location.
    return undefined;
  }
}

/**
 * The inbox-relative path an input came from: the record's `source` (`inbox/<path>`, relative to
 * the share) when it is a plain relative path inside the inbox, else `fallbackRel` (its path in
 * `failed/`, which mirrors the inbox).
 */
export function inboxRelOf(record: DeadLetterRecord | undefined, fallbackRel: string, inboxPrefix = 'inbox'): string {
  const source = record?.source;
  if (source === undefined || !source.startsWith(`${inboxPrefix}/`)) return fallbackRel;
  const rel = source.slice(inboxPrefix.length + 1);
  const parts = rel.split('/');
  const plain = rel.length > 0 && !rel.includes('\u0000') && !rel.includes('\\') && parts.every((p) => p !== '' && p !== '.' && p !== '..');
  return plain ? rel : fallbackRel;
}

/** One dead letter found in `failed/`: where its input is (relative to `failed/`) and its record. */
export interface DeadLetterEntry {
  readonly failedPath: string;
  readonly record: DeadLetterRecord | undefined;
}

/** Every dead-letter record under `failedRoot` (depth-first, symlinks not followed), at most `limit`. */
export async function listDeadLetters(failedRoot: string, limit = 100_000): Promise<DeadLetterEntry[]> {
  const out: DeadLetterEntry[] = [];
  const stack = [failedRoot];
  while (stack.length > 0 && out.length < limit) {
    const dir = stack.pop()!;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) stack.push(abs);
      else if (e.isFile() && e.name.endsWith(RECORD_SUFFIX) && out.length < limit) {
        const input = abs.slice(0, abs.length - RECORD_SUFFIX.length);
        out.push({ failedPath: path.relative(failedRoot, input).split(path.sep).join('/'), record: await readDeadLetterRecord(abs) });
      }
    }
  }
  return out;
}
