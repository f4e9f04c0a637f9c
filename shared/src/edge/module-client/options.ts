/** The adapter's timings: the defaults production uses, what a caller may override, and the two merged. */
import type { BackoffOptions } from '../../retry.js';

/** Timings of the adapter. Units in the names; the defaults are what production uses. */
export const MODULE_CLIENT_DEFAULTS = {
  /** Backoff between attempts to open the connection (first open and after the SDK gives up). */
  openBackoff: { initialDelayMs: 200, maxDelayMs: 10_000, multiplier: 2, jitterRatio: 0.5 },
  /** A twin GET that gets no answer within this is retried (the SDK never times it out). */
  twinReadTimeoutMs: 15_000,
  /** A reported-properties update with no answer within this fails with TWIN_UPDATE_FAILED. */
  reportedUpdateTimeoutMs: 30_000,
  /** close() waits this long for input handlers still running, so the outcomes they send still go out. */
  handlerDrainTimeoutMs: 10_000,
} as const;

export interface ModuleClientOptions {
  readonly openBackoff?: BackoffOptions;
  readonly twinReadTimeoutMs?: number;
  readonly reportedUpdateTimeoutMs?: number;
  readonly handlerDrainTimeoutMs?: number;
}

/** {@link ModuleClientOptions} with every default applied. */
export interface ModuleClientTimings {
  readonly openBackoff: BackoffOptions;
  readonly twinReadTimeoutMs: number;
  readonly reportedUpdateTimeoutMs: number;
  readonly handlerDrainTimeoutMs: number;
}

export function resolveTimings(options: ModuleClientOptions): ModuleClientTimings {
  return {
    openBackoff: options.openBackoff ?? MODULE_CLIENT_DEFAULTS.openBackoff,
    twinReadTimeoutMs: options.twinReadTimeoutMs ?? MODULE_CLIENT_DEFAULTS.twinReadTimeoutMs,
    reportedUpdateTimeoutMs: options.reportedUpdateTimeoutMs ?? MODULE_CLIENT_DEFAULTS.reportedUpdateTimeoutMs,
    handlerDrainTimeoutMs: options.handlerDrainTimeoutMs ?? MODULE_CLIENT_DEFAULTS.handlerDrainTimeoutMs,
  };
}
