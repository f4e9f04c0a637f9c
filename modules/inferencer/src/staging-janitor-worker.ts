/**
 * Entry point of the staging janitor's thread: removes the tensor files it is sent, synchronously,
 * one batch per message, and answers one entry per file: null when removed (or already gone),
 * otherwise why not.
 *
 * The directories the files leave empty are not removed one by one as their files go: they are
 * collected and swept together (see `DirectorySweepPolicy`), when the janitor has had nothing to do
 * for a moment, when too many wait, or when the oldest has waited too long. An `rmdir` takes the
 * staging directory's lock and waits on the file system's journal; done right after each tensor it
 * cost the classifier a third of its batch-1 throughput (bench/inferencer.ts), while an empty
 * directory costs nothing until it is swept.
 */
import { rmdirSync, unlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { DEFAULT_SWEEP_POLICY, type DirectorySweepPolicy, type JanitorReply, type JanitorRequest } from './staging-janitor.js';

const port = parentPort;
if (port === null) throw new Error('staging-janitor-worker.ts runs as a worker thread only');
const policy: DirectorySweepPolicy = { ...DEFAULT_SWEEP_POLICY, ...((workerData as { policy?: Partial<DirectorySweepPolicy> } | null)?.policy ?? {}) };

const codeOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/** Directories waiting for the sweep, with when the first of them was queued (insertion order). */
const pendingDirs = new Set<string>();
let oldestQueuedAt = 0;
const idleTimer = setTimeout(() => sweep(), policy.idleMs);
idleTimer.unref();

function unlinkOne(file: string): string | null {
  try {
    // unlink, not rm: rm adds an lstat and its own bookkeeping to every tensor.
    unlinkSync(file);
    return null;
  } catch (err: unknown) {
    return codeOf(err) === 'ENOENT' ? null : err instanceof Error ? err.message : String(err);
  }
}

/** Removes every pending directory that is empty by now; one still holding a file (or gone) is dropped from the set. */
function sweep(): number {
  let removed = 0;
  for (const dir of pendingDirs) {
    try {
      rmdirSync(dir);
      removed++;
    } catch {
      // ENOTEMPTY: another file of the same source is still there, and its own removal queues the directory again.
    }
  }
  pendingDirs.clear();
  return removed;
}

function queueDir(dir: string, now: number): void {
  if (pendingDirs.size === 0) oldestQueuedAt = now;
  pendingDirs.add(dir);
}

port.on('message', (req: JanitorRequest) => {
  if (req.kind === 'sweep') {
    port.postMessage({ kind: 'swept', batch: req.batch, removedDirs: sweep() } satisfies JanitorReply);
    return;
  }
  const now = Date.now();
  const errors = req.items.map(([file, dir]) => {
    const error = unlinkOne(file);
    if (dir !== null) queueDir(dir, now);
    return error;
  });
  port.postMessage({ kind: 'removed', batch: req.batch, errors } satisfies JanitorReply);
  if (pendingDirs.size >= policy.maxPending || (pendingDirs.size > 0 && now - oldestQueuedAt >= policy.maxAgeMs)) sweep();
  else if (pendingDirs.size > 0) idleTimer.refresh();
});
