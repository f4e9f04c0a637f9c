/**
 * The completion timer: an emitted item whose acknowledgements did not all arrive in time is
 * offered again. A deferred item is offered again at its retry time without spending an attempt;
 * an item not completed `completionTimeoutMs` after its last emission is re-emitted (an attempt)
 * until `maxAttempts`, then dead-lettered with the parts never acknowledged.
 */
import type { Logger } from '@edgeml/shared';
import type { WatcherConfig } from './config.js';
import type { Dispositions } from './dispositions.js';
import { uploadedParts } from './item-state.js';
import type { ItemRecord, Ledger } from './ledger.js';

export interface CompletionTimerOptions {
  readonly ledger: Ledger;
  readonly dispositions: Dispositions;
  readonly log: Logger;
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

  /** Acts on the items that are due; re-emissions are left `sent = 0` for the emission to send. */
  async handleDue(): Promise<void> {
    const { ledger, log } = this.#o;
    const { completionTimeoutMs, maxAttempts } = this.#o.config();
    const now = this.#o.now();
    for (const item of ledger.dueForTimeout(now - completionTimeoutMs, now, BATCH)) {
      if (this.#o.signal.aborted) return;
      if (item.retryAt !== null) {
        ledger.markRetry(item.id, now);
        log.info({ id: item.id, path: item.path, deferrals: item.deferrals, deferredBy: item.deferral }, 'offering a deferred file again');
      } else if (item.attempts < maxAttempts) {
        ledger.markReemit(item.id, now);
        log.info({ id: item.id, path: item.path, attempt: item.attempts + 1, missing: missingParts(item) }, 'no completion in time; re-emitting');
      } else {
        const missing = missingParts(item);
        const reason = `not completed within ${completionTimeoutMs} ms after ${item.attempts} attempt(s)${missing.length > 0 ? `; parts never acknowledged: ${missing.join(', ')}` : ''}`;
        const dead = ledger.markDeadLettered(item.id, [{ code: 'TIMEOUT', reason }], now);
        await this.#o.dispositions.deadLetter(dead);
      }
    }
  }
}
