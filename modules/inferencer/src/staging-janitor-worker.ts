/**
 * Entry point of the staging janitor's thread: removes the tensor files (and their then empty
 * directories) it is sent, synchronously, one batch per message, and answers one entry per file:
 * null when removed (or already gone), otherwise why not.
 */
import { rmdirSync, unlinkSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { JanitorReply, JanitorRequest } from './staging-janitor.js';

const port = parentPort;
if (port === null) throw new Error('staging-janitor-worker.ts runs as a worker thread only');

const codeOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

function removeOne(file: string, dir: string | undefined): string | null {
  try {
    // unlink, not rm: rm adds an lstat and its own bookkeeping to every tensor.
    unlinkSync(file);
  } catch (err: unknown) {
    if (codeOf(err) !== 'ENOENT') return err instanceof Error ? err.message : String(err);
  }
  if (dir !== undefined) {
    try {
      rmdirSync(dir);
    } catch {
      // ENOTEMPTY: another tensor of the same source is still there; anything else: left for the next one.
    }
  }
  return null;
}

port.on('message', (req: JanitorRequest) => {
  port.postMessage({ batch: req.batch, errors: req.items.map(([file, dir]) => removeOne(file, dir ?? undefined)) } satisfies JanitorReply);
});
