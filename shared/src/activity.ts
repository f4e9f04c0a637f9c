/**
 * What a stage did in the last minute: items finished per second and the p50/p99 of the time each
 * took in the stage. Every module keeps one and reports it in `getStatus` as `activity`, which the
 * local runtime's live view shows per stage. Bounded (a ring of the latest samples), pure apart from
 * the clock it is given.
 */

/** The figures a module reports under `activity` in its getStatus reply. */
export interface ActivitySummary {
  /** The window the figures cover, in milliseconds. */
  readonly windowMs: number;
  /** Items finished within the window. */
  readonly items: number;
  /** Items finished per second over the window (over the time since start while younger than it). */
  readonly perSecond: number;
  /** Median time in the stage, milliseconds; null with no item in the window. */
  readonly p50Ms: number | null;
  /** 99th percentile time in the stage, milliseconds; null with no item in the window. */
  readonly p99Ms: number | null;
}

export interface ActivityWindowOptions {
  /** Default 60 s. */
  readonly windowMs?: number;
  /** Samples kept at most (the oldest are dropped first); default 10 000. */
  readonly maxSamples?: number;
  /** Default Date.now. */
  readonly now?: () => number;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? null;
}

/** Item completions of one stage over a sliding window. */
export class ActivityWindow {
  readonly #windowMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #startedAt: number;
  /** Ring of [finishedAtMs, durationMs]. */
  readonly #at: number[] = [];
  readonly #took: number[] = [];
  #head = 0;

  constructor(options: ActivityWindowOptions = {}) {
    this.#windowMs = options.windowMs ?? 60_000;
    this.#max = Math.max(1, options.maxSamples ?? 10_000);
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
  }

  /** One item finished after `durationMs` in the stage (negative or non-finite durations count as 0). */
  record(durationMs: number): void {
    const took = Number.isFinite(durationMs) && durationMs > 0 ? durationMs : 0;
    if (this.#at.length < this.#max) {
      this.#at.push(this.#now());
      this.#took.push(took);
      return;
    }
    this.#at[this.#head] = this.#now();
    this.#took[this.#head] = took;
    this.#head = (this.#head + 1) % this.#max;
  }

  /** Starts timing one item; call the returned function when it finished. */
  start(): () => void {
    const began = this.#now();
    return () => this.record(this.#now() - began);
  }

  summary(): ActivitySummary {
    const now = this.#now();
    const from = now - this.#windowMs;
    const took: number[] = [];
    for (let i = 0; i < this.#at.length; i++) if ((this.#at[i] ?? 0) > from) took.push(this.#took[i] ?? 0);
    took.sort((a, b) => a - b);
    const spanMs = Math.max(1_000, Math.min(this.#windowMs, now - this.#startedAt));
    const round = (v: number | null): number | null => (v === null ? null : Math.round(v));
    return {
      windowMs: this.#windowMs,
      items: took.length,
      perSecond: Math.round((took.length / (spanMs / 1000)) * 100) / 100,
      p50Ms: round(percentile(took, 50)),
      p99Ms: round(percentile(took, 99)),
    };
  }
}
