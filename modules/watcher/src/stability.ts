/**
 * Stable-write detection, pure: plain observations in, verdicts out, time passed in by the caller.
 *
 * A file is stable when its size and mtime have stayed the same over at least `windowMs` AND at
 * least `checks` consecutive observations. Both, because Samba preallocates the full size before
 * the bytes arrive (size alone lies) and a slow writer can leave mtime unchanged between two close
 * checks (one check proves little); marker mode exists for writers that defeat both.
 */

export interface FileObservation {
  readonly sizeBytes: number;
  readonly mtimeMs: number;
}

export interface StabilityOptions {
  readonly windowMs: number;
  readonly checks: number;
}

export type StabilityVerdict =
  | { readonly stable: true; readonly firstSeenAt: number; readonly unchangedSinceAt: number }
  | { readonly stable: false; readonly firstSeenAt: number; readonly unchangedSinceAt: number; readonly checks: number };

interface Track {
  sizeBytes: number;
  mtimeMs: number;
  firstSeenAt: number;
  unchangedSinceAt: number;
  checks: number;
}

/**
 * Spacing between checks so `checks` observations fit in the window: window / (checks − 1),
 * at least `minMs` (a window of 0 with one check is stable at first sight).
 */
export function checkIntervalMs(options: StabilityOptions, minMs = 50, maxMs = 5_000): number {
  const spacing = options.checks <= 1 ? options.windowMs : options.windowMs / (options.checks - 1);
  return Math.min(maxMs, Math.max(minMs, Math.ceil(spacing)));
}

/**
 * Tracks observations per key (a relative path). Bounded: at most `maxTracked` keys; an
 * observation of a new key beyond that is refused (`tracked: false`) and counted, and the inventory
 * picks the file up again later.
 */
export class StabilityTracker {
  readonly #tracks = new Map<string, Track>();
  #options: StabilityOptions;
  readonly #maxTracked: number;
  #refused = 0;

  constructor(options: StabilityOptions, maxTracked = 100_000) {
    this.#options = options;
    this.#maxTracked = maxTracked;
  }

  /** New thresholds apply to the next observation of every tracked file. */
  setOptions(options: StabilityOptions): void {
    this.#options = options;
  }

  get size(): number {
    return this.#tracks.size;
  }

  /** Whether a new key would be refused. */
  get full(): boolean {
    return this.#tracks.size >= this.#maxTracked;
  }

  /** Observations refused because the tracker was full. */
  get refused(): number {
    return this.#refused;
  }

  has(key: string): boolean {
    return this.#tracks.has(key);
  }

  keys(): IterableIterator<string> {
    return this.#tracks.keys();
  }

  /** The size and mtime of the last observation of `key` (a size of -1 after a reset), or undefined. */
  last(key: string): FileObservation | undefined {
    const t = this.#tracks.get(key);
    return t === undefined ? undefined : { sizeBytes: t.sizeBytes, mtimeMs: t.mtimeMs };
  }

  /** When `key` was first seen (ms), or undefined. */
  firstSeenAt(key: string): number | undefined {
    return this.#tracks.get(key)?.firstSeenAt;
  }

  /**
   * Records one observation at `nowMs` and says whether the file is now stable. A stable verdict
   * does not forget the file: call {@link forget} once it has been taken (hashed and recorded).
   */
  observe(key: string, obs: FileObservation, nowMs: number): StabilityVerdict | { readonly tracked: false } {
    let t = this.#tracks.get(key);
    if (t === undefined) {
      if (this.#tracks.size >= this.#maxTracked) {
        this.#refused++;
        return { tracked: false };
      }
      t = { sizeBytes: obs.sizeBytes, mtimeMs: obs.mtimeMs, firstSeenAt: nowMs, unchangedSinceAt: nowMs, checks: 1 };
      this.#tracks.set(key, t);
    } else if (t.sizeBytes !== obs.sizeBytes || t.mtimeMs !== obs.mtimeMs) {
      t.sizeBytes = obs.sizeBytes;
      t.mtimeMs = obs.mtimeMs;
      t.unchangedSinceAt = nowMs;
      t.checks = 1;
    } else {
      t.checks++;
    }
    const stable = t.checks >= this.#options.checks && nowMs - t.unchangedSinceAt >= this.#options.windowMs;
    return stable
      ? { stable: true, firstSeenAt: t.firstSeenAt, unchangedSinceAt: t.unchangedSinceAt }
      : { stable: false, firstSeenAt: t.firstSeenAt, unchangedSinceAt: t.unchangedSinceAt, checks: t.checks };
  }

  /** Starts the count again (the content changed while it was being hashed). */
  reset(key: string): void {
    const t = this.#tracks.get(key);
    // The next observation then counts as a change, so the window starts again from it.
    if (t !== undefined) t.sizeBytes = -1;
  }

  forget(key: string): void {
    this.#tracks.delete(key);
  }

  clear(): void {
    this.#tracks.clear();
  }
}
