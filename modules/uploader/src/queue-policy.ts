import { sendAlert, sha256 } from '@edgeml/shared';
import type { Acknowledger } from './acks.js';
import { QUEUE_CLASSES, type QueueClass } from './config.js';
import type { ItemPayload, PartAck, ResultLine, UploaderContext } from './context.js';
import type { UploaderMetrics } from './metrics.js';
import { renderBlobName } from './names.js';
import { removeStagingFile } from './staging.js';
import type { EnqueueOutcome, Evicted } from './queue.js';

/** What the quota did to a class since start (reported in `status.usage.<class>`). */
export interface QuotaEvents {
  rejected: number;
  evicted: number;
  lastAt: string | null;
  /** A "quota nearly full" warning is out and not yet cleared. */
  warned: boolean;
  /** When the last "quota full, deferring" alert went out (one a minute per class at most). */
  fullAlertAtMs: number;
}

/** A full quota alerts at most this often per class. */
const QUOTA_FULL_ALERT_INTERVAL_MS = 60_000;

/**
 * The queue's policy as the rest of the uploader sees it: what a refusal or an eviction means for
 * the parts concerned (deferred, or dead-lettered for good), the warning before a quota bites, and
 * when open result lines are sealed into a batch.
 */
export class QueuePolicy {
  readonly #ctx: UploaderContext;
  readonly #acks: Acknowledger;
  readonly #metrics: UploaderMetrics;
  readonly #onChange: () => void;
  readonly #events = Object.fromEntries(QUEUE_CLASSES.map((c) => [c, { rejected: 0, evicted: 0, lastAt: null, warned: false, fullAlertAtMs: 0 }])) as Record<QueueClass, QuotaEvents>;
  #flushRequested = false;

  /** `onChange`: something worth reporting happened (a quota event, a warning). */
  constructor(ctx: UploaderContext, acks: Acknowledger, metrics: UploaderMetrics, onChange: () => void) {
    this.#ctx = ctx;
    this.#acks = acks;
    this.#metrics = metrics;
    this.#onChange = onChange;
  }

  events(cls: QueueClass): Readonly<QuotaEvents> {
    return this.#events[cls];
  }

  /**
   * Acts on the outcome of an enqueue: a refusal defers the part (or dead-letters it when it can
   * never fit), evicted items are dead-lettered. Returns true when the part is now queued.
   */
  async settle(cls: QueueClass, outcome: EnqueueOutcome<ItemPayload, PartAck>, ack: PartAck): Promise<boolean> {
    if (outcome.status === 'rejected') {
      this.#note(cls, 'rejected', 1);
      if (outcome.permanent) await this.#acks.deadLetter(ack, 'QUOTA_EXCEEDED', outcome.reason, { class: cls, policy: this.#ctx.settings().classes[cls].policy });
      else this.#deferFull(ack, cls, outcome.reason);
      return false;
    }
    if (outcome.status === 'queued') {
      if (outcome.evicted.length > 0) await this.#evicted(cls, outcome.evicted);
      this.#checkWarning(cls);
    }
    return true;
  }

  /** A full rejectNew quota: deferred, and one alert per quota-full episode (a minute), not per item. */
  #deferFull(ack: PartAck, cls: QueueClass, reason: string): void {
    const retryAfterMs = this.#ctx.settings().quotaRetryAfterMs;
    this.#acks.defer(ack, 'QUOTA_EXCEEDED', reason, retryAfterMs, { class: cls });
    const e = this.#events[cls];
    const t = this.#ctx.nowMs();
    if (t - e.fullAlertAtMs < QUOTA_FULL_ALERT_INTERVAL_MS) return;
    e.fullAlertAtMs = t;
    void sendAlert(
      this.#ctx.edge,
      this.#ctx.logger,
      { severity: 'warning', code: 'QUOTA_EXCEEDED', message: `${cls} quota full: new items are deferred until uploads free room (${reason})`, details: { class: cls, policy: 'rejectNew', retryAfterMs } },
      this.#ctx.now,
    );
  }

  /** Evicted items are dead-lettered; their staging files go (the eviction was committed with FULL). */
  async #evicted(cls: QueueClass, evicted: readonly Evicted<ItemPayload, PartAck>[]): Promise<void> {
    this.#note(cls, 'evicted', evicted.length);
    for (const e of evicted) {
      const p = e.type === 'item' ? e.item.payload : undefined;
      const acks = e.type === 'result' ? [e.row.ack] : p?.type === 'file' ? [p.ack] : [];
      for (const a of acks) await this.#acks.deadLetter(a, 'QUOTA_EXCEEDED', `evicted: the ${cls} quota is full and its policy is evictOldest`, { class: cls, policy: 'evictOldest' });
      if (p?.type === 'file' && p.owned) await removeStagingFile(this.#ctx, p.file);
    }
  }

  #note(cls: QueueClass, action: 'rejected' | 'evicted', n: number): void {
    this.#metrics.quota(cls, action, n);
    const e = this.#events[cls];
    e[action] += n;
    e.lastAt = this.#ctx.now().toISOString();
    this.#ctx.logOnce(`quota:${cls}:${action}`, 'warn', { class: cls, action, total: e[action] }, `${cls} quota full: ${action} ${n} item(s)`);
    this.#onChange();
  }

  #checkWarning(cls: QueueClass): void {
    const cfg = this.#ctx.settings();
    const u = this.#ctx.queue.usage(cls);
    const quota = cfg.classes[cls].quotaBytes;
    const ratio = quota === 0 ? 1 : u.bytes / quota;
    const e = this.#events[cls];
    if (!e.warned && ratio >= cfg.quotaWarnRatio) {
      e.warned = true;
      this.#ctx.logger.warn({ class: cls, bytes: u.bytes, quotaBytes: quota, ratio }, `${cls} queue at ${Math.round(ratio * 100)}% of its quota`);
      void sendAlert(
        this.#ctx.edge,
        this.#ctx.logger,
        { severity: 'warning', code: 'QUOTA_EXCEEDED', message: `${cls} queue at ${Math.round(ratio * 100)}% of its ${quota}-byte quota`, details: { class: cls } },
        this.#ctx.now,
      );
      this.#onChange();
    } else if (e.warned && ratio < cfg.quotaWarnRatio * 0.9) e.warned = false;
  }

  /** The next `sealDue` seals every open window, whatever its age (the `flush` method). */
  requestFlush(): void {
    this.#flushRequested = true;
  }

  /** Seals open result windows that are due (by count, bytes, age or idleness) into batch items. */
  sealDue(): void {
    const cfg = this.#ctx.settings();
    const force = this.#flushRequested;
    this.#flushRequested = false;
    this.#ctx.queue.sealBatches({
      windowMs: cfg.results.batchWindowMs,
      idleMs: cfg.results.batchIdleMs,
      maxItems: cfg.results.batchMaxItems,
      maxBytes: cfg.results.batchMaxBytes,
      force,
      makeBatch: (windowStartMs, rows) => this.#makeBatch(windowStartMs, rows),
    });
  }

  /** A batch is named by its window and a hash of its lines' message ids: the same lines, the same blob. */
  #makeBatch(windowStartMs: number, rows: readonly ResultLine[]): { key: string; payload: ItemPayload } {
    const batchId = sha256(rows.map((r) => r.messageId).join('\n')).slice(0, 16);
    const name = renderBlobName(this.#ctx.settings().resultsBlobNameTemplate, { deviceId: this.#ctx.deviceId, moduleId: this.#ctx.moduleId, kind: 'results', date: new Date(windowStartMs), batchId });
    return { key: `b:${name}`, payload: { type: 'batch', name, windowStartMs, lines: rows.length } };
  }
}
