/**
 * The completion timer: an emitted item whose acknowledgements did not all arrive in time is
 * offered again. A deferred item is offered again at its retry time, and an item whose lease ran
 * out (its holder stopped renewing) at once, both without spending an attempt; while every missing
 * part is held under a live lease the timer does not run. An item nobody holds that is not
 * completed `completionTimeoutMs` after its last emission is re-emitted (an attempt) until
 * `maxAttempts`, then dead-lettered with the parts never acknowledged. The decision is
 * `timeoutDecision` (item-state.ts); the ledger's due query selects the same items.
 */
import type { Logger } from '@edgeml/shared';
import type { WatcherConfig } from './config.js';
import type { Dispositions } from './dispositions.js';
import { timeoutDecision, uploadedParts } from './item-state.js';
import type { ItemRecord, Ledger } from './ledger.js';
import type { WatcherMetrics } from './metrics.js';

export interface CompletionTimerOptions {
  readonly ledger: Ledger;
  readonly dispositions: Dispositions;
  readonly log: Logger;
  readonly metrics: WatcherMetrics;
  readonly now: () => number;
  readonly config: () => WatcherConfig;
  /** Aborted when the watcher stops. */
  readonly signal: AbortSignal;
}

/** Items handled per tick. */
const BATCH = 256;

export function missingParts(item: ItemRecord): string[] {
  const uploaded = new Set(uploadedParts(item.acks));
  return item.expectedParts.filter((p) => !uploaded.has(p));
}

export class CompletionTimer {
  readonly #o: CompletionTimerOptions;

  constructor(options: CompletionTimerOptions) {
    this.#o = options;
  }

  /** When the next item becomes due, or undefined (for the loop's sleep). */
  nextDueAt(): number | undefined {
    return this.#o.ledger.nextDueAt(this.#o.config().completionTimeoutMs);
  }

  /** Acts on the items that are due; re-emissions are left `sent = 0` for the emission to send. */
  async handleDue(): Promise<void> {
    const { ledger, log } = this.#o;
    const config = this.#o.config();
    const now = this.#o.now();
    for (const item of ledger.dueForTimeout(now - config.completionTimeoutMs, now, BATCH)) {
      if (this.#o.signal.aborted) return;
      const decision = timeoutDecision({ ...item, clockAt: item.clockAt ?? item.lastEmittedAt ?? 0 }, now, config);
      switch (decision.action) {
        case 'wait':
          break;
        case 'leaseExpired': {
          const r = ledger.expireLeases(item.id, now);
          if (r === undefined) break;
          this.#o.metrics.leaseExpiries.inc(r.expired.length);
          log.warn(
            { id: item.id, path: item.path, parts: r.expired.map((l) => l.part), holders: [...new Set(r.expired.map((l) => l.module))], leaseExpiries: r.item.leaseExpiries },
            'a lease ran out (its holder stopped renewing); offering the source again for the parts nobody holds',
          );
          break;
        }
        case 'retry':
          ledger.markRetry(item.id, now);
          log.info({ id: item.id, path: item.path, deferrals: item.deferrals, deferredBy: item.deferral }, 'offering a deferred file again');
          break;
        case 'reemit':
          ledger.markReemit(item.id, now);
          log.info({ id: item.id, path: item.path, attempt: item.attempts + 1, missing: missingParts(item) }, 'no completion in time; re-emitting');
          break;
        case 'deadLetter': {
          const missing = missingParts(item);
          const reason = `not completed within ${config.completionTimeoutMs} ms after ${item.attempts} attempt(s)${missing.length > 0 ? `; parts never acknowledged: ${missing.join(', ')}` : ''}`;
          await this.#o.dispositions.deadLetter(ledger.markDeadLettered(item.id, [{ code: 'TIMEOUT', reason }], now));
          break;
        }
      }
    }
  }
}
