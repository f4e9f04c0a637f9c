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
   * A file was added or changed (absolute path), with its size and mtime as chokidar saw them when
   * they describe the regular file itself: for a new entry, chokidar's own `lstat` of a regular
   * file; for a change, chokidar's `stat` (which follows symlinks) only when it found the very inode
   * that `lstat` found at the add, so a path swapped for a link never lends its target's figures.
   */
  readonly onPath: (absPath: string, observed?: FileObservation) => void;
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
  // The inode of each regular file chokidar reported added (as long as it watches it), so a
  // change's `stat` is taken as the file's own figures only when it found that same inode.
  const inodes = new Map<string, number>();
  const figures = (stats: Stats): FileObservation => ({ sizeBytes: stats.size, mtimeMs: stats.mtimeMs });
  // With followSymlinks false, an added entry is lstat'ed: a regular file here is one, not a link.
  watcher.on('add', (p, stats?: Stats) => {
    if (stats?.isFile() !== true) {
      inodes.delete(p);
      options.onPath(p);
      return;
    }
    inodes.set(p, stats.ino);
    options.onPath(p, figures(stats));
  });
  watcher.on('change', (p, stats?: Stats) => {
    const ino = inodes.get(p);
    options.onPath(p, stats?.isFile() === true && ino !== undefined && stats.ino === ino ? figures(stats) : undefined);
  });
  watcher.on('unlink', (p) => {
    inodes.delete(p);
    options.onRemoved(p);
  });
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
