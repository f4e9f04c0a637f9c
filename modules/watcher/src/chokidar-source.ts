/**
 * Filesystem events from chokidar: the only file that imports it. Events are hints that make
 * detection fast; the inventory walk is what guarantees nothing is missed, so this adapter
 * forwards paths and never decides anything.
 */
import type { Stats } from 'node:fs';
import { watch, type FSWatcher } from 'chokidar';
import type { FileObservation } from './stability.js';

export const SOURCE_EVENTS = { path: 'path', removed: 'removed', error: 'error' } as const;

export interface EventSourceOptions {
  /** Absolute, real path of the directory to watch. */
  readonly root: string;
  readonly usePolling: boolean;
  readonly pollingIntervalMs: number;
  /**
   * A file was added or changed (absolute path); for a new regular file, its size and mtime from
   * chokidar's own `lstat` (never for changes: chokidar `stat`s those, following symlinks).
   */
  readonly onPath: (absPath: string, added?: FileObservation) => void;
  readonly onRemoved: (absPath: string) => void;
  readonly onError: (err: unknown) => void;
}

export interface EventSource {
  /** Resolves once the initial directory read is done (events flow from then on). */
  readonly ready: Promise<void>;
  /** Idempotent; releases every watcher. */
  close(): Promise<void>;
}

export function createChokidarSource(options: EventSourceOptions): EventSource {
  const watcher: FSWatcher = watch(options.root, {
    // The inventory walk handles files present at start; chokidar reporting them too would double the work.
    ignoreInitial: true,
    followSymlinks: false,
    usePolling: options.usePolling,
    interval: options.pollingIntervalMs,
    binaryInterval: options.pollingIntervalMs,
    // Stability is decided by the reconciler (size + mtime over N checks), not by chokidar.
    awaitWriteFinish: false,
    // Editors' and rsync's rename dance still surfaces as add/unlink; no need to merge them.
    atomic: false,
    ignorePermissionErrors: true,
    depth: 32,
  });
  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  // With followSymlinks false, an added entry is lstat'ed: a regular file here is one, not a link.
  watcher.on('add', (p, stats?: Stats) => options.onPath(p, stats?.isFile() === true ? { sizeBytes: stats.size, mtimeMs: stats.mtimeMs } : undefined));
  watcher.on('change', (p) => options.onPath(p));
  watcher.on('unlink', (p) => options.onRemoved(p));
  watcher.on('error', (err) => options.onError(err));
  let closing: Promise<void> | undefined;
  return {
    ready,
    close() {
      closing ??= watcher.close();
      return closing;
    },
  };
}
