import { EdgeMLError } from './errors.js';

/** Exponential backoff with full jitter. All durations in milliseconds. */
export interface BackoffOptions {
  /** Delay before the first retry (attempt 1). Default 100. */
  readonly initialDelayMs?: number;
  /** Upper bound for any delay. Default 30 000. */
  readonly maxDelayMs?: number;
  /** Growth per attempt. Default 2. */
  readonly multiplier?: number;
  /** 0 = none, 1 = full jitter (uniform in [delay/2, delay] for 0.5). Default 0.5. */
  readonly jitterRatio?: number;
}

export const BACKOFF_DEFAULTS = {
  initialDelayMs: 100,
  maxDelayMs: 30_000,
  multiplier: 2,
  jitterRatio: 0.5,
} as const;

/**
 * The delay before retry number `attempt` (1-based). Pure: `random` is injected.
 * Result is always within [base × (1 − jitterRatio), base] where base = min(max, initial × multiplier^(attempt−1)).
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialDelayMs ?? BACKOFF_DEFAULTS.initialDelayMs;
  const max = options.maxDelayMs ?? BACKOFF_DEFAULTS.maxDelayMs;
  const multiplier = options.multiplier ?? BACKOFF_DEFAULTS.multiplier;
  const jitter = Math.min(1, Math.max(0, options.jitterRatio ?? BACKOFF_DEFAULTS.jitterRatio));
  const n = Math.max(1, Math.floor(attempt));
  const base = Math.min(max, initial * Math.pow(multiplier, n - 1));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(base * (1 - jitter * r));
}

/** Resolves after `ms`, or rejects with ABORTED as soon as `signal` aborts (so shutdown never waits on a timer). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new EdgeMLError('ABORTED', 'sleep aborted', { cause: signal.reason }));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new EdgeMLError('ABORTED', 'sleep aborted', { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export type RetryVerdict = 'retry' | 'fatal';

export interface RetryOptions extends BackoffOptions {
  /** Total attempts including the first. Default Infinity (until aborted). */
  readonly maxAttempts?: number;
  /** Decides whether an error is worth retrying. Default: everything is retried. */
  readonly classify?: (err: unknown) => RetryVerdict;
  readonly signal?: AbortSignal;
  readonly onRetry?: (info: { attempt: number; delayMs: number; err: unknown }) => void;
  readonly random?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Runs `fn` until it succeeds, a fatal error occurs, attempts run out or the signal aborts. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const maxAttempts = options.maxAttempts ?? Number.POSITIVE_INFINITY;
  const wait = options.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) throw new EdgeMLError('ABORTED', 'retry aborted', { cause: options.signal.reason });
    try {
      return await fn(attempt);
    } catch (err: unknown) {
      const verdict = options.classify?.(err) ?? 'retry';
      if (verdict === 'fatal' || attempt >= maxAttempts) throw err;
      const delayMs = backoffDelayMs(attempt, options, options.random);
      options.onRetry?.({ attempt, delayMs, err });
      await wait(delayMs, options.signal);
    }
  }
}
