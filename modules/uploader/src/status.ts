import { errorMessage } from '@edgeml/shared';
import { QUEUE_CLASSES } from './config.js';
import type { UploaderContext } from './context.js';
import type { UploaderMetrics } from './metrics.js';
import type { QueuePolicy } from './queue-policy.js';
import type { SinkState } from './sink-state.js';

/**
 * What the uploader says about itself: the `getStatus` payload and the `status` reported property
 * (the same snapshot), and `ready()`. Reads the other parts; changes nothing.
 */
export class UploaderStatus {
  readonly #ctx: UploaderContext;
  readonly #metrics: UploaderMetrics;
  readonly #sink: SinkState;
  readonly #policy: QueuePolicy;
  readonly #inflight: () => number;
  readonly #leaseMs: () => number;
  readonly #datasets: () => Record<string, unknown>;
  #reporting = false;
  #started = false;

  constructor(options: { ctx: UploaderContext; metrics: UploaderMetrics; sink: SinkState; policy: QueuePolicy; inflight: () => number; leaseMs: () => number; datasets: () => Record<string, unknown> }) {
    this.#datasets = options.datasets;
    this.#ctx = options.ctx;
    this.#metrics = options.metrics;
    this.#sink = options.sink;
    this.#policy = options.policy;
    this.#inflight = options.inflight;
    this.#leaseMs = options.leaseMs;
  }

  snapshot(): Record<string, unknown> {
    const { queue } = this.#ctx;
    const open = !queue.isClosed;
    const usage: Record<string, unknown> = {};
    const cfg = this.#ctx.settings();
    if (open) {
      for (const c of QUEUE_CLASSES) {
        const u = queue.usage(c);
        const quota = cfg.classes[c].quotaBytes;
        const e = this.#policy.events(c);
        usage[c] = {
          items: u.items,
          bytes: u.bytes,
          quotaBytes: quota,
          usedRatio: quota === 0 ? 0 : Math.round((u.bytes / quota) * 1000) / 1000,
          oldestAgeS: u.oldestEnqueuedAtMs === null ? 0 : Math.round((this.#ctx.nowMs() - u.oldestEnqueuedAtMs) / 1000),
          quarantined: u.quarantinedItems,
          policy: cfg.classes[c].policy,
          rejected: e.rejected,
          evicted: e.evicted,
          lastQuotaEventAt: e.lastAt,
        };
      }
    }
    const totals = this.#metrics.totals;
    return {
      uploadOn: cfg.uploadOn,
      sink: this.#sink.snapshot(),
      usage,
      openResultLines: open ? queue.openResults().lines : 0,
      inflight: this.#inflight(),
      outbox: open ? queue.outboxSize() : 0,
      // Parts announced `held` and still queued, and the lease they are renewed with.
      held: { parts: open ? queue.heldParts() : 0, leaseMs: this.#leaseMs() },
      bytesPerSecond: Math.round(this.#metrics.bytesPerSecond()),
      // Labelled dataset lines written, and hard examples flagged, sent and over the hourly quota.
      datasets: this.#datasets(),
      totals: { ...totals },
      // The counts shape every module's getStatus shares (read by the local runtime's view and summary).
      counts: { uploaded: totals.uploaded, alreadyPresent: totals.alreadyPresent, quarantined: totals.quarantined, deadLettered: totals.deadLettered },
      activity: this.#metrics.activity.summary(),
    };
  }

  ready(): { ready: boolean; reasons: string[] } {
    const reasons = this.#sink.readiness();
    return { ready: reasons.length === 0, reasons };
  }

  /** Reports go out only once started (before that the edge client may not be open). */
  start(): void {
    this.#started = true;
  }

  /** Sends the snapshot as the `status` reported property; one at a time, never throws. */
  async report(): Promise<void> {
    if (!this.#started || this.#reporting) return;
    this.#reporting = true;
    try {
      await this.#ctx.edge.updateReported({ status: this.snapshot() });
    } catch (err: unknown) {
      this.#ctx.logOnce('report', 'warn', { err }, `could not report status: ${errorMessage(err)}`);
    } finally {
      this.#reporting = false;
    }
  }
}
