/**
 * Acknowledgements: each `completed` message is committed to the ledger before anything is done
 * about it, and what its verdict asks for follows (after-completion action, dead letter).
 * Acknowledgements arriving together (MQTT delivers several per socket read) share one
 * transaction: one fsync, not one each.
 */
import type { ActivityWindow, CompletionMessage, Logger } from '@edgeml/shared';
import type { Dispositions } from './dispositions.js';
import type { AckResult, Ledger } from './ledger.js';
import type { LimitedLog } from './limited-log.js';
import type { WatcherMetrics } from './metrics.js';

/** Outcome of one `completed` message, for the log and the tests. */
export type CompletionResult =
  | 'completed'
  | 'deadLettered'
  | 'waiting'
  | 'duplicate'
  | 'alreadyFinal'
  | 'unknownId'
  | 'deferred'
  | 'deferralIgnored'
  | 'held'
  | 'leaseIgnored';

/** Bounds on a deferral's retryAfterMs, whatever the sender asked for. */
const MIN_RETRY_AFTER_MS = 1_000;
const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * When a `held` lease runs out: `leaseMs` from the message's `createdAt` (the contract), never
 * later than `leaseMs` from its arrival (a clock ahead of ours must not stretch it).
 */
export function leaseExpiresAt(msg: Pick<CompletionMessage, 'createdAt' | 'leaseMs'>, receivedAtMs: number): number {
  const created = Date.parse(msg.createdAt);
  const from = Number.isFinite(created) ? Math.min(created, receivedAtMs) : receivedAtMs;
  return from + (msg.leaseMs ?? 0);
}

export interface AcknowledgementsOptions {
  readonly ledger: Ledger;
  readonly dispositions: Dispositions;
  readonly log: Logger;
  readonly limited: LimitedLog;
  readonly metrics: WatcherMetrics;
  readonly now: () => number;
  /** A slot may have been freed: run the loop soon. */
  readonly wake: () => void;
  /** Sources completed in the last minute, with their time from detection to completion (getStatus `activity`). */
  readonly activity: ActivityWindow;
}

interface Waiting {
  readonly msg: CompletionMessage;
  readonly resolve: (r: CompletionResult) => void;
  readonly reject: (err: unknown) => void;
}

export class Acknowledgements {
  readonly #o: AcknowledgementsOptions;
  #queue: Waiting[] = [];
  readonly #ops = new Set<Promise<unknown>>();

  constructor(options: AcknowledgementsOptions) {
    this.#o = options;
  }

  /** Acknowledgements accepted and not yet fully handled (for a bounded stop). */
  pending(): Promise<unknown>[] {
    return [...this.#ops];
  }

  /**
   * Records one part's acknowledgement and finishes the source when that completes it. Resolves
   * once the acknowledgement is committed and what it asks for is done.
   */
  handle(msg: CompletionMessage): Promise<CompletionResult> {
    const op = new Promise<CompletionResult>((resolve, reject) => {
      this.#queue.push({ msg, resolve, reject });
      if (this.#queue.length === 1) setImmediate(() => void this.#flush());
    });
    this.#ops.add(op);
    void op.then(
      () => this.#ops.delete(op),
      () => this.#ops.delete(op),
    );
    return op;
  }

  async #flush(): Promise<void> {
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    const { ledger } = this.#o;
    let results: AckResult[];
    try {
      const at = this.#o.now();
      results = ledger.batch(() =>
        batch.map(({ msg }) =>
          ledger.applyAck(
            msg.id,
            {
              part: msg.part,
              outcome: msg.outcome,
              module: msg.module,
              at,
              ...(msg.code === undefined ? {} : { code: msg.code }),
              ...(msg.reason === undefined ? {} : { reason: msg.reason }),
              ...(msg.leaseMs === undefined ? {} : { leaseExpiresAt: leaseExpiresAt(msg, at) }),
            },
            msg.expectedParts,
            msg.retryAfterMs === undefined ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, msg.retryAfterMs)),
          ),
        ),
      );
    } catch (err: unknown) {
      for (const b of batch) b.reject(err);
      return;
    }
    for (const [i, r] of results.entries()) {
      const b = batch[i]!;
      try {
        b.resolve(await this.#after(r));
      } catch (err: unknown) {
        b.reject(err);
      }
    }
  }

  async #after(r: AckResult): Promise<CompletionResult> {
    if (r.result === 'unknown') return 'unknownId';
    if (r.result === 'alreadyFinal') return 'alreadyFinal';
    if (r.result === 'deferralIgnored') return 'deferralIgnored';
    if (r.result === 'leaseIgnored') return 'leaseIgnored';
    if (r.result === 'held') {
      this.#o.log.debug({ id: r.item.id, path: r.item.path, expiresAt: new Date(r.expiresAt).toISOString(), heldFile: r.item.held }, 'part held under a lease');
      return 'held';
    }
    if (r.result === 'deferred') {
      const d = r.item.deferral;
      this.#o.metrics.deferred.inc({ code: d?.code ?? 'INTERNAL' });
      this.#o.limited(
        `deferred:${d?.module}:${d?.code}`,
        'warn',
        { id: r.item.id, path: r.item.path, part: d?.part, module: d?.module, code: d?.code, reason: d?.reason, retryInMs: r.retryAt - this.#o.now() },
        `${d?.module ?? 'a module'} deferred a part (${d?.code}); the file stays and is offered again`,
      );
      return 'deferred';
    }
    const { merge, item } = r;
    if (merge.verdict === 'completed') {
      this.#o.metrics.completed.inc();
      this.#o.activity.record(this.#o.now() - item.detectedAt);
      if (item.failedPaths.length > 0) {
        this.#o.metrics.lateCompletions.inc();
        this.#o.log.info({ id: item.id, path: item.path, parts: merge.expectedParts, failedPaths: item.failedPaths }, 'a dead-lettered source completed after all; its inputs leave failed/');
        await this.#o.dispositions.completeFromFailed(item);
      } else this.#o.log.info({ id: item.id, path: item.path, parts: merge.expectedParts, attempts: item.attempts }, 'source completed');
      await this.#o.dispositions.afterCompletion(item);
      this.#o.wake();
      return 'completed';
    }
    if (merge.verdict === 'deadLettered') {
      await this.#o.dispositions.deadLetter(item);
      this.#o.wake();
      return 'deadLettered';
    }
    return merge.verdict;
  }
}
