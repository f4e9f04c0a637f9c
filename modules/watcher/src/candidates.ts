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

export class Candidates {
  readonly #tracker: StabilityTracker;
  #options: StabilityOptions;
  /** rel → when it is next checked (unstable candidates and unreadable files). */
  readonly #nextCheck = new Map<string, number>();
  readonly #hints = new Set<string>();
  readonly #readFailures = new Map<string, { count: number; retryAt: number }>();

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

  hasHint(rel: string): boolean {
    return this.#hints.has(rel);
  }

  /** The hinted paths and those whose check is due at `nowMs`; the hints are consumed. */
  takeDue(nowMs: number): string[] {
    const due = new Set<string>(this.#hints);
    this.#hints.clear();
    for (const [rel, at] of this.#nextCheck) if (at <= nowMs) due.add(rel);
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
