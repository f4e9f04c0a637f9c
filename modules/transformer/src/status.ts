import { ActivityWindow, type EdgeClient, type Logger } from '@edgeml/shared';
import type { DeadLetterCode } from './errors.js';
import type { TransformerMetrics } from './metrics.js';

/** What `getStatus` and the `status` reported property show. */
export interface TransformerStatus {
  readonly received: number;
  readonly forwarded: number;
  readonly deadLettered: number;
  /** Deferred because the wait queue was full; the watcher offers them again. */
  readonly shed: number;
  /** Same source already in flight; the running item answers for it. */
  readonly duplicates: number;
  /** Outputs that could not be sent after retries; the watcher re-emits the source. */
  readonly sendFailed: number;
  readonly inFlight: number;
  readonly queued: number;
  /** Chain work: detections cropped, crops made, orientation steps done, results on `detections` no chain waited for. */
  readonly detections: number;
  readonly crops: number;
  readonly orientations: number;
  readonly ignored: number;
  readonly failuresByCode: Readonly<Record<string, number>>;
  readonly lastDeadLetter: { readonly code: string; readonly reason: string; readonly path: string | null; readonly at: string } | null;
}

/** The counts every module's getStatus shares (the local runtime's live view reads them). */
export type TransformerCounts = Pick<TransformerStatus, 'received' | 'forwarded' | 'deadLettered' | 'shed' | 'duplicates' | 'sendFailed' | 'detections' | 'crops' | 'orientations' | 'ignored'>;

/** Item outcomes as the `edgeml_transformer_items_total` metric labels them. */
type ItemOutcome = 'forwarded' | 'deadLettered' | 'shed' | 'duplicate' | 'sendFailed';

/**
 * The transformer's tally: counts, failures by code and the last dead letter, kept in step with
 * the Prometheus series. Every outcome is recorded here and nowhere else.
 */
export class StatusBook {
  readonly #metrics: TransformerMetrics;
  readonly #now: () => Date;
  readonly #counts = { received: 0, forwarded: 0, deadLettered: 0, shed: 0, duplicates: 0, sendFailed: 0, detections: 0, crops: 0, orientations: 0, ignored: 0 };
  readonly #failuresByCode: Record<string, number> = {};
  #lastDeadLetter: TransformerStatus['lastDeadLetter'] = null;
  /** Items forwarded and chain steps done in the last minute, with their time in the transformer (getStatus `activity`). */
  readonly activity: ActivityWindow;

  constructor(metrics: TransformerMetrics, now: () => Date) {
    this.#metrics = metrics;
    this.#now = now;
    this.activity = new ActivityWindow({ now: () => now().getTime() });
  }

  received(): void {
    this.#counts.received++;
  }

  /** An item's outcome, by source kind (image, table, other, invalid). */
  item(kind: string, outcome: Exclude<ItemOutcome, 'deadLettered'>): void {
    const key = outcome === 'duplicate' ? 'duplicates' : outcome;
    this.#counts[key]++;
    this.#metrics.items.inc({ kind, outcome });
  }

  deadLettered(kind: string, code: DeadLetterCode, reason: string, path: string | undefined): void {
    this.#counts.deadLettered++;
    this.#failuresByCode[code] = (this.#failuresByCode[code] ?? 0) + 1;
    this.#lastDeadLetter = { code, reason, path: path ?? null, at: this.#now().toISOString() };
    this.#metrics.failures.inc({ code });
    this.#metrics.items.inc({ kind, outcome: 'deadLettered' });
  }

  /** Chain work done: a detection cropped (with its number of crops), an orientation step, a result ignored. */
  chain(event: 'detections' | 'orientations' | 'ignored', crops = 0): void {
    this.#counts[event]++;
    this.#counts.crops += crops;
    this.#metrics.chain.inc({ event }, 1);
    if (crops > 0) this.#metrics.chain.inc({ event: 'crops' }, crops);
  }

  /** A completion or deferral that could not be sent (the item itself was already counted). */
  acknowledgementFailed(): void {
    this.#counts.sendFailed++;
  }

  get shedTotal(): number {
    return this.#counts.shed;
  }

  counts(): TransformerCounts {
    return { ...this.#counts };
  }

  snapshot(load: { inFlight: number; queued: number }): TransformerStatus {
    return { ...this.#counts, ...load, failuresByCode: { ...this.#failuresByCode }, lastDeadLetter: this.#lastDeadLetter };
  }
}

/**
 * Sends a small `status` object to reported properties every `intervalMs` (and once on demand).
 * A failed report is logged at most once a minute with a count; the next period tries again.
 */
export class StatusReporter {
  readonly #edge: EdgeClient;
  readonly #logger: Logger;
  readonly #now: () => Date;
  readonly #snapshot: () => TransformerStatus;
  readonly #shouldLog: (key: string) => { log: boolean; suppressed: number };
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: {
    edge: EdgeClient;
    logger: Logger;
    now: () => Date;
    snapshot: () => TransformerStatus;
    shouldLog: (key: string) => { log: boolean; suppressed: number };
  }) {
    this.#edge = deps.edge;
    this.#logger = deps.logger;
    this.#now = deps.now;
    this.#snapshot = deps.snapshot;
    this.#shouldLog = deps.shouldLog;
  }

  /** (Re)starts the periodic report. */
  schedule(intervalMs: number): void {
    this.cancel();
    this.#timer = setInterval(() => this.report(), intervalMs);
    this.#timer.unref();
  }

  cancel(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  report(): void {
    const { lastDeadLetter: last, ...small } = this.#snapshot();
    const status = { ...small, lastDeadLetter: last === null ? null : { ...last, reason: last.reason.slice(0, 512) }, at: this.#now().toISOString() };
    this.#edge.updateReported({ status }).catch((err: unknown) => {
      const r = this.#shouldLog('status-report');
      if (r.log) this.#logger.warn({ err, failuresSinceLastLine: r.suppressed + 1 }, 'could not report status');
    });
  }
}
