import { ActivityWindow, Counter, Gauge, type Registry } from '@edgeml/shared';
import { QUEUE_CLASSES, type QueueClass } from './config.js';
import type { UploadQueue } from './context.js';
import type { UploadResult } from './sink.js';

/** Running totals since start, reported in `status.totals`. */
export interface Totals {
  uploaded: number;
  alreadyPresent: number;
  /** Replays taken as present without reading the blob back (a create-only SAS; see blob-existing.ts). */
  presentUnverified: number;
  bytes: number;
  blocksSkipped: number;
  quarantined: number;
  deadLettered: number;
  deferred: number;
  reacknowledged: number;
  /** `held` completions queued: first acceptances and lease renewals. */
  held: number;
}

/** How far back the throughput gauge looks. */
const THROUGHPUT_WINDOW_MS = 10_000;

/**
 * The uploader's Prometheus metrics (`edgeml_uploader_*`) and the totals in `status`. Everything
 * that counts calls one method here, so the metric and the total can never disagree.
 */
export class UploaderMetrics {
  readonly totals: Totals = { uploaded: 0, alreadyPresent: 0, presentUnverified: 0, bytes: 0, blocksSkipped: 0, quarantined: 0, deadLettered: 0, deferred: 0, reacknowledged: 0, held: 0 };
  readonly #recentBytes: { t: number; bytes: number }[] = [];
  readonly #nowMs: () => number;
  readonly #uploadedItems: Counter;
  readonly #uploadedBytes: Counter;
  readonly #failures: Counter;
  readonly #quotaEvents: Counter;
  readonly #deadLetters: Counter;
  readonly #held: Counter;

  /** Items committed in the last minute, with their time from the queue to the commit (getStatus `activity`). */
  readonly activity: ActivityWindow;

  constructor(registry: Registry, queue: UploadQueue, nowMs: () => number) {
    this.#nowMs = nowMs;
    this.activity = new ActivityWindow({ now: nowMs });
    const registers = [registry];
    const usageOf = (cls: QueueClass) => (queue.isClosed ? undefined : queue.usage(cls));
    const perClass = (name: string, help: string, value: (u: ReturnType<UploadQueue['usage']>) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['class'],
        registers,
        collect() {
          for (const c of QUEUE_CLASSES) {
            const u = usageOf(c);
            if (u !== undefined) this.set({ class: c }, value(u));
          }
        },
      });
    };
    perClass('edgeml_uploader_queue_items', 'Items waiting to upload (pending or in flight), by class; result lines count one each.', (u) => u.items);
    perClass('edgeml_uploader_queue_bytes', 'Bytes waiting to upload, by class.', (u) => u.bytes);
    perClass('edgeml_uploader_oldest_item_age_seconds', 'Age of the oldest item still waiting, by class (0 when empty).', (u) =>
      u.oldestEnqueuedAtMs === null ? 0 : Math.max(0, (nowMs() - u.oldestEnqueuedAtMs) / 1000),
    );
    perClass('edgeml_uploader_quarantined_items', 'Items parked in quarantine, by class.', (u) => u.quarantinedItems);
    const bytesPerSecond = (): number => this.bytesPerSecond();
    new Gauge({
      name: 'edgeml_uploader_upload_bytes_per_second',
      help: 'Upload throughput over the last 10 seconds.',
      registers,
      collect() {
        this.set(bytesPerSecond());
      },
    });
    this.#uploadedItems = new Counter({ name: 'edgeml_uploader_uploaded_items_total', help: 'Items committed and verified, by class and outcome.', labelNames: ['class', 'outcome'], registers });
    this.#uploadedBytes = new Counter({ name: 'edgeml_uploader_uploaded_bytes_total', help: 'Bytes sent to the sink, by class.', labelNames: ['class'], registers });
    this.#failures = new Counter({ name: 'edgeml_uploader_failures_total', help: 'Upload failures by classified reason.', labelNames: ['reason'], registers });
    this.#quotaEvents = new Counter({ name: 'edgeml_uploader_quota_events_total', help: 'Items refused or evicted by a full quota.', labelNames: ['class', 'action'], registers });
    this.#held = new Counter({ name: 'edgeml_uploader_held_total', help: 'held completions queued, by kind (accepted: a part entered the queue or was offered again; renewed: a lease renewal).', labelNames: ['kind'], registers });
    this.#deadLetters = new Counter({ name: 'edgeml_uploader_dead_lettered_total', help: 'Parts acknowledged as dead-lettered, by error code.', labelNames: ['code'], registers });
  }

  /** An item committed; `enqueuedAtMs` is when it entered the queue (its time in the uploader, outages included). */
  uploaded(cls: QueueClass, result: UploadResult, enqueuedAtMs: number): void {
    this.activity.record(this.#nowMs() - enqueuedAtMs);
    this.#uploadedItems.inc({ class: cls, outcome: result.outcome });
    this.#uploadedBytes.inc({ class: cls }, result.bytesSent);
    this.#recentBytes.push({ t: this.#nowMs(), bytes: result.bytesSent });
    if (this.#recentBytes.length > 10_000) this.#recentBytes.shift();
    this.totals.uploaded++;
    this.totals.bytes += result.bytesSent;
    this.totals.blocksSkipped += result.blocksSkipped;
    if (result.outcome === 'alreadyPresent') this.totals.alreadyPresent++;
    if (result.outcome === 'presentUnverified') this.totals.presentUnverified++;
  }

  failure(reason: string): void {
    this.#failures.inc({ reason });
  }

  quota(cls: QueueClass, action: 'rejected' | 'evicted', n: number): void {
    this.#quotaEvents.inc({ class: cls, action }, n);
  }

  /** A part dead-lettered without entering the queue (bad input, a quota that can never fit, an eviction). */
  deadLettered(code: string): void {
    this.#deadLetters.inc({ code });
    this.totals.deadLettered++;
  }

  /** An item parked in quarantine; each of its parts was acknowledged as dead-lettered. */
  quarantined(code: string, parts: number): void {
    this.#deadLetters.inc({ code }, parts);
    this.totals.quarantined++;
  }

  held(kind: 'accepted' | 'renewed', parts: number): void {
    this.#held.inc({ kind }, parts);
    this.totals.held += parts;
  }

  bytesPerSecond(): number {
    const t = this.#nowMs();
    while (this.#recentBytes.length > 0 && (this.#recentBytes[0]?.t ?? t) < t - THROUGHPUT_WINDOW_MS) this.#recentBytes.shift();
    return this.#recentBytes.reduce((s, r) => s + r.bytes, 0) / (THROUGHPUT_WINDOW_MS / 1000);
  }
}
