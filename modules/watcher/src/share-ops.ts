/**
 * The watcher's writes to the share (it is the only module that touches it): dead letters to
 * `failed/`, completed inputs to `processed/` or deleted. Every destination is computed inside its
 * root from an inbox-relative path, never from message text.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { EdgeMLError, isWithin, moveFile, writeFileAtomic } from '@edgeml/shared';

export { moveFile };

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
  const dest = await freeDestination(failedRoot, rel, ['.error.json']);
  await writeFileAtomic(`${dest}.error.json`, `${JSON.stringify({ ...doc, failedPath: path.relative(failedRoot, dest).split(path.sep).join('/') }, null, 2)}\n`);
  if (inboxAbs !== undefined) await moveFile(inboxAbs, dest);
  return dest;
}

/** Moves a completed input to `processed/<rel>` (a free name when taken). Returns the new path. */
export async function moveToProcessed(processedRoot: string, rel: string, inboxAbs: string): Promise<string> {
  const dest = await freeDestination(processedRoot, rel);
  await moveFile(inboxAbs, dest);
  return dest;
}
