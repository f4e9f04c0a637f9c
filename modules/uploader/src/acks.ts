import { buildCompletion, sendAlert, type CompletionDetails, type CompletionMessage } from '@edgeml/shared';
import { MODULE_NAME, type PartAck, type UploaderContext } from './context.js';
import type { UploaderMetrics } from './metrics.js';
import type { DoneRecord } from './queue.js';

/**
 * Every completion the uploader sends is built here and enters the durable outbox (the queue's
 * `outbox` table) before it goes out; outbox.ts sends them in order. One FIFO for all outcomes
 * means a part's `held` can never overtake its `uploaded`.
 */
export class Acknowledger {
  readonly #ctx: UploaderContext;
  readonly #metrics: UploaderMetrics;
  readonly #wakeOutbox: () => void;

  constructor(ctx: UploaderContext, metrics: UploaderMetrics, wakeOutbox: () => void) {
    this.#ctx = ctx;
    this.#metrics = metrics;
    this.#wakeOutbox = wakeOutbox;
  }

  /** The JSON body of one completion (stored in the outbox as is). */
  body(ack: PartAck, outcome: CompletionMessage['outcome'], details: CompletionDetails): string {
    return JSON.stringify(buildCompletion(MODULE_NAME, ack, outcome, details, this.#ctx.now()));
  }

  /** Bodies were committed to the outbox by a queue transaction: send them soon. */
  committed(): void {
    this.#wakeOutbox();
  }

  #add(bodies: readonly string[]): void {
    if (this.#ctx.queue.isClosed) return;
    this.#ctx.queue.addOutbox(bodies);
    this.#wakeOutbox();
  }

  /** A replay of a part already uploaded: acknowledged again from the done-ledger, nothing is uploaded. */
  reacknowledge(ack: PartAck, done: DoneRecord): void {
    this.#metrics.totals.reacknowledged++;
    this.#add([this.body(ack, 'uploaded', { blob: { sink: done.sink, name: done.blobName, md5: done.md5 } })]);
  }

  /** Dead-letters a part that never entered the queue (bad input, quota): ack + alert + log. */
  async deadLetter(ack: PartAck | undefined, code: string, reason: string, details: Record<string, unknown> = {}): Promise<void> {
    this.#metrics.deadLettered(code);
    this.#ctx.logOnce(`dl:${code}`, 'warn', { code, reason, id: ack?.id, part: ack?.part, ...details }, `dead-lettered: ${reason}`);
    if (ack !== undefined) this.#add([this.body(ack, 'deadLettered', { code, reason })]);
    await sendAlert(
      this.#ctx.edge,
      this.#ctx.logger,
      { severity: 'warning', code, message: reason, ...(ack === undefined ? {} : { id: ack.id }), details: { part: ack?.part ?? null, ...details } },
      this.#ctx.now,
    );
  }

  /**
   * The part is not taken now: the watcher keeps the source and offers it again after
   * `retryAfterMs`; nothing is dropped.
   */
  defer(ack: PartAck, code: 'QUOTA_EXCEEDED' | 'FILE_NOT_FOUND', reason: string, retryAfterMs: number, logDetails: Record<string, unknown> = {}): void {
    this.#metrics.totals.deferred++;
    this.#ctx.logOnce(`deferred:${String(logDetails['class'] ?? '')}:${code}`, 'warn', { code, reason, id: ack.id, part: ack.part, retryAfterMs, ...logDetails }, `deferred: ${reason}; the watcher offers it again`);
    this.#add([this.body(ack, 'deferred', { code, reason, retryAfterMs })]);
  }
}
