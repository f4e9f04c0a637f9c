/**
 * Everything the aggregator sends: per-file results (retried until edgeHub persisted them), runs
 * handed back to the watcher (`deferred` completions: the source is offered again and the chain runs
 * again), dead letters (completion + alert + log) and alerts.
 */
import {
  buildCompletion,
  completionOutput,
  createRepeatLimiter,
  errorCode,
  retry,
  sendAlert,
  type AlertSeverity,
  type ChainResultMessage,
  type EdgeClient,
  type Logger,
  type PartRef,
} from '@edgeml/shared';
import { chainResultProperties } from './result.js';
import type { AggregatorCounts, AggregatorMetrics } from './status.js';

export interface OutputsOptions {
  readonly edge: EdgeClient;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Aborts send retries when the module stops. */
  readonly signal: AbortSignal;
  readonly counts: AggregatorCounts;
  readonly metrics: AggregatorMetrics;
}

export class Outputs {
  readonly #o: OutputsOptions;
  readonly #shouldLog = createRepeatLimiter();

  constructor(options: OutputsOptions) {
    this.#o = options;
  }

  /**
   * Sends a per-file result on `results`; resolves once edgeHub has persisted it.
   * @throws EdgeMLError EDGE_SEND_FAILED after retries, MESSAGE_TOO_LARGE, ABORTED
   */
  async sendResult(result: ChainResultMessage): Promise<void> {
    await retry(() => this.#o.edge.sendOutput('results', { body: result, messageId: result.messageId, properties: chainResultProperties(result) }), {
      maxAttempts: 5,
      initialDelayMs: 200,
      classify: (err) => (errorCode(err) === 'MESSAGE_TOO_LARGE' ? 'fatal' : 'retry'),
      signal: this.#o.signal,
    });
    this.#o.counts.results++;
    this.#o.metrics.results.inc({ chain: result.chain });
  }

  /**
   * Hands a run back to the watcher: a `deferred` completion for its chain part, so the source is
   * offered again after `retryAfterMs` (and the chain runs again) instead of after the watcher's
   * completion timeout. Not a failure; no alert. Never throws.
   */
  async handBack(ref: PartRef, code: string, reason: string, retryAfterMs: number, why: 'timeout' | 'full' | 'stopping'): Promise<void> {
    this.#o.counts.handedBack++;
    this.#o.metrics.handedBack.inc({ reason: why });
    const limiter = this.#shouldLog(`hand-back:${why}`);
    if (limiter.log) this.#o.logger.warn({ id: ref.id, part: ref.part, code, retryAfterMs, handedBackSinceLastLine: limiter.suppressed }, `run handed back to the watcher: ${reason}`);
    try {
      await this.#o.edge.sendOutput('completed', completionOutput(buildCompletion(this.#o.edge.moduleId, ref, 'deferred', { code, reason, retryAfterMs }, this.#o.now())));
    } catch (err: unknown) {
      this.#o.logger.warn({ err, id: ref.id, part: ref.part }, 'could not hand the run back; the watcher re-emits after its completion timeout');
    }
  }

  /**
   * Dead-letters a message: a `deadLettered` completion when it names its part, an alert and a log
   * line with the code and the reason. Never throws.
   */
  async deadLetter(ref: PartRef | undefined, code: string, reason: string, details: Record<string, unknown> = {}): Promise<void> {
    this.#o.counts.deadLettered++;
    const limiter = this.#shouldLog(`dead-letter:${code}`);
    if (limiter.log) this.#o.logger.error({ id: ref?.id, part: ref?.part, code, suppressedSinceLast: limiter.suppressed, ...details }, `message dead-lettered: ${reason}`);
    if (ref !== undefined) {
      try {
        await retry(() => this.#o.edge.sendOutput('completed', completionOutput(buildCompletion(this.#o.edge.moduleId, ref, 'deadLettered', { code, reason }, this.#o.now()))), {
          maxAttempts: 3,
          initialDelayMs: 200,
          signal: this.#o.signal,
        });
      } catch (err: unknown) {
        this.#o.logger.error({ err, id: ref.id, part: ref.part }, 'could not send the dead-letter completion; the watcher will re-emit the source');
      }
    }
    await this.alert('error', code, `aggregator dead-lettered a message: ${reason}`, { ...(ref === undefined ? {} : { id: ref.id }), details: { part: ref?.part ?? null, ...details } });
  }

  /** Sends an alert on `alerts`. Never throws. */
  async alert(severity: AlertSeverity, code: string, message: string, extra: { id?: string; details?: Record<string, unknown> } = {}): Promise<void> {
    await sendAlert(this.#o.edge, this.#o.logger, { severity, code, message, ...extra }, this.#o.now);
  }
}
