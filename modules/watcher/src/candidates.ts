/**
 * The paths the intake has to look at: hints (events, share notifications, markers), files seen
 * but not yet stable (the stability tracker) with the time of their next check, and files that
 * could not be read with the time of their next read. In memory only: the inventory walk finds
 * every one of them again after a restart.
 */
import { checkIntervalMs, StabilityTracker, type FileObservation, type StabilityOptions, type StabilityVerdict } from './stability.js';

const READ_ERRORS_FINAL = new Set(['ENOENT', 'ENOTDIR']);
/** Two checks of one file are at least this far apart. */
const MIN_CHECK_GAP_MS = 20;
/** The look after a file is first seen or seen changed (see {@link Candidates.observe}). */
const FRESH_LOOK_MS = 100;
/** A due check taken and not followed by a look is taken again this much later. */
const RETAKE_MS = 50;
/** Files up to this size are hashed ahead of their last check (one read; see {@link Candidates.wantsEarlyHash}). */
export const EARLY_HASH_MAX_BYTES = 1024 * 1024;

/** A hash taken before the last stability check, valid while the file keeps this size and mtime. */
export interface EarlyHash {
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly mtimeMs: number;
  /** When the read started (ms, the caller's clock). */
  readonly startedAt: number;
}

export class Candidates {
  readonly #tracker: StabilityTracker;
  #options: StabilityOptions;
  /** rel → when it is next checked (unstable candidates and unreadable files). */
  readonly #nextCheck = new Map<string, number>();
  readonly #hints = new Set<string>();
  readonly #readFailures = new Map<string, { count: number; retryAt: number }>();
  /** rel → its early hash, or 'failed' (that early read failed: the file is read only once stable). */
  readonly #early = new Map<string, EarlyHash | 'failed'>();

  constructor(options: StabilityOptions, maxTracked: number) {
    this.#options = options;
    this.#tracker = new StabilityTracker(options, maxTracked);
  }

  setOptions(options: StabilityOptions): void {
    this.#options = options;
    this.#tracker.setOptions(options);
  }

  hint(rel: string): void {
    this.#hints.add(rel);
  }

  /**
   * A path hinted together with the event source's own look at the regular file (chokidar's
   * `lstat` behind `add`, or its `stat` behind `change` when it found the same inode): taken at
   * `nowMs` (the stat was taken before the event arrived, so the window is measured from no
   * earlier than the stat). An untracked path gets its first look from it; a tracked one whose
   * size or mtime differ from the last look has changed, and its count starts again from here.
   * The window thus starts when the file appeared or was last written, not at the next tick's
   * look (measured: a tick busy with a drop of 1,000 files looked 0.2–0.6 s after a file's
   * `change`). Such a look never advances a count (the same size and mtime are only a hint): every
   * look that does is the intake's own `lstat`, which also classifies the entry, so no file is
   * judged stable or read on an event's observation alone.
   */
  seen(rel: string, obs: FileObservation, nowMs: number): void {
    const last = this.#tracker.last(rel);
    if (last === undefined) {
      this.#hints.add(rel);
      if (!this.#tracker.full) this.#tracker.observe(rel, obs, nowMs);
    } else if (last.sizeBytes !== obs.sizeBytes || last.mtimeMs !== obs.mtimeMs) {
      this.#hints.add(rel);
      this.#tracker.observe(rel, obs, nowMs);
    } else if (!this.#nextCheck.has(rel)) this.#hints.add(rel);
    // Otherwise unchanged since the intake's last look, whose next check is already set: nothing
    // to look at sooner (a drop of 1,000 files otherwise costs 1,000 more `lstat`s).
  }

  hasHint(rel: string): boolean {
    return this.#hints.has(rel);
  }

  /**
   * The hinted paths and those whose check is due at `nowMs`; the hints are consumed. A due check
   * taken is set again {@link RETAKE_MS} later: the look that follows sets the real next one, and
   * a path that gets none (busy under a disposition, an lstat that failed) is not taken at every
   * tick, which now runs as soon as a check is due.
   */
  takeDue(nowMs: number): string[] {
    const due = new Set<string>(this.#hints);
    this.#hints.clear();
    for (const [rel, at] of this.#nextCheck) {
      if (at > nowMs) continue;
      due.add(rel);
      this.#nextCheck.set(rel, nowMs + RETAKE_MS);
    }
    return [...due];
  }

  /**
   * Records an observation; an unstable file gets its next check, a stable one loses it. A file
   * first seen or seen changed is looked at again after {@link FRESH_LOOK_MS} (as chokidar's
   * awaitWriteFinish polls): one still being written keeps changing and is followed closely, one
   * already complete is found unchanged. From then on, the check that completes the count is set
   * for the moment the window closes (the last change seen + `windowMs`); checks still missing are
   * spread over the window. Measured on a drop of 1,000 files written 500 at a time (created
   * empty, filled a few hundred ms later): the window then starts within 0.1 s of the last write
   * instead of when its event arrived, 0.3–0.8 s later under load.
   */
  observe(rel: string, obs: FileObservation, nowMs: number): StabilityVerdict | { readonly tracked: false } {
    const verdict = this.#tracker.observe(rel, obs, nowMs);
    if ('tracked' in verdict) return verdict;
    if (verdict.stable) this.#nextCheck.delete(rel);
    // First seen, or changed since the last look: looked at again soon, so the end of a write is
    // seen within FRESH_LOOK_MS instead of when its filesystem event arrives (late under load).
    else if (verdict.checks === 1) this.#nextCheck.set(rel, nowMs + Math.min(FRESH_LOOK_MS, this.checkSpacingMs()));
    else if (verdict.checks + 1 >= this.#options.checks) this.#nextCheck.set(rel, Math.max(nowMs + MIN_CHECK_GAP_MS, verdict.unchangedSinceAt + this.#options.windowMs));
    else this.#nextCheck.set(rel, nowMs + this.checkSpacingMs());
    return verdict;
  }

  /**
   * Whether to hash the file now, ahead of the check that completes its count: it is unstable,
   * has been seen unchanged at least twice (or one check is all it needs), the next check is the
   * last one, it fits in one read, and it has no early hash for this size and mtime yet. The hash
   * is used only if the last check still finds that size and mtime (see {@link earlyHashFor}), so
   * the window's end costs one `lstat` instead of a read: the content is taken from a file whose
   * size and mtime were then unchanged from before the read until the window closed.
   */
  wantsEarlyHash(rel: string, verdict: StabilityVerdict, obs: FileObservation): boolean {
    if (verdict.stable || obs.sizeBytes > EARLY_HASH_MAX_BYTES) return false;
    const { checks } = this.#options;
    if (verdict.checks < Math.min(2, checks) || verdict.checks + 1 < checks) return false;
    const early = this.#early.get(rel);
    return early === undefined || (early !== 'failed' && (early.sizeBytes !== obs.sizeBytes || early.mtimeMs !== obs.mtimeMs));
  }

  /** Keeps an early hash (the inode's size and mtime after the read). */
  earlyHashed(rel: string, hash: EarlyHash): void {
    if (this.#tracker.has(rel)) this.#early.set(rel, hash);
  }

  /** An early read failed: no more early reads of this path; the read once stable decides (and counts). */
  earlyHashFailed(rel: string): void {
    if (this.#tracker.has(rel)) this.#early.set(rel, 'failed');
  }

  /**
   * The early hash of a file judged stable: only one taken at that very size and mtime, and read
   * after the file was first seen so (`unchangedSinceAt`), so every look from before the read to
   * the last check found the same size and mtime.
   */
  earlyHashFor(rel: string, obs: FileObservation, unchangedSinceAt: number): string | undefined {
    const early = this.#early.get(rel);
    if (early === undefined || early === 'failed') return undefined;
    return early.sizeBytes === obs.sizeBytes && early.mtimeMs === obs.mtimeMs && early.startedAt >= unchangedSinceAt ? early.sha256 : undefined;
  }

  /** Spacing of stability checks (the window spread over its checks, at least 20 ms). */
  checkSpacingMs(): number {
    return checkIntervalMs(this.#options, 20);
  }

  /** Marker mode: no window, so no scheduled check (the marker's appearance is the hint). */
  unschedule(rel: string): void {
    this.#nextCheck.delete(rel);
  }

  /** The content changed while it was hashed: the count starts again, checked at once. */
  restart(rel: string, nowMs: number): void {
    this.#tracker.reset(rel);
    this.#early.delete(rel);
    this.#nextCheck.set(rel, nowMs);
  }

  /** When an earlier read failed and its retry is not due yet: the retry time (the check is moved there). */
  readRetryPending(rel: string, nowMs: number): number | undefined {
    const failure = this.#readFailures.get(rel);
    if (failure === undefined || failure.retryAt <= nowMs) return undefined;
    this.#nextCheck.set(rel, failure.retryAt);
    return failure.retryAt;
  }

  readSucceeded(rel: string): void {
    this.#readFailures.delete(rel);
  }

  /** Whether a read error means the file is simply gone (nothing to retry). */
  static isGone(err: unknown): boolean {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    return code !== undefined && READ_ERRORS_FINAL.has(code);
  }

  /** Counts a failed read; returns how many so far. Schedule the retry with {@link retryReadAt}. */
  readFailed(rel: string): number {
    return (this.#readFailures.get(rel)?.count ?? 0) + 1;
  }

  retryReadAt(rel: string, failures: number, retryAt: number): void {
    this.#readFailures.set(rel, { count: failures, retryAt });
    this.#tracker.reset(rel);
    this.#nextCheck.set(rel, retryAt);
  }

  forget(rel: string): void {
    this.#tracker.forget(rel);
    this.#early.delete(rel);
    this.#nextCheck.delete(rel);
    this.#readFailures.delete(rel);
  }

  /** After a full walk: forgets tracked paths the walk did not see (and no hint names). */
  forgetUnseen(seen: ReadonlySet<string>): void {
    for (const rel of [...this.#tracker.keys()]) if (!seen.has(rel) && !this.#hints.has(rel)) this.forget(rel);
  }

  /** The earliest scheduled check, or undefined (for the loop's sleep). */
  nextDueAt(): number | undefined {
    let min: number | undefined;
    for (const at of this.#nextCheck.values()) if (min === undefined || at < min) min = at;
    return min;
  }

  get unstable(): number {
    return this.#tracker.size;
  }

  get unreadable(): number {
    return this.#readFailures.size;
  }

  /** Observations refused because the tracker was full. */
  get refused(): number {
    return this.#tracker.refused;
  }
}
