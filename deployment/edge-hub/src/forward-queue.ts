/**
 * Store-and-forward: the persisted queues of module inputs (store.ts) and their byte accounting
 * against `storeLimits.maxSizeBytes`.
 */
import type { HubStore, NewMessage, StoredMessage } from './store.js';

export class ForwardQueue {
  readonly #store: HubStore;
  readonly #limitBytes: number | undefined;
  #bytes: number;

  /** `limitBytes`: `storeLimits.maxSizeBytes`, undefined for no limit. */
  constructor(store: HubStore, limitBytes: number | undefined) {
    this.#store = store;
    this.#limitBytes = limitBytes;
    this.#bytes = store.totalBytes();
  }

  /** Bytes queued (body plus properties of every stored message). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether `addBytes` more would go over `storeLimits.maxSizeBytes`. */
  wouldExceed(addBytes: number): boolean {
    return this.#limitBytes !== undefined && this.#bytes + addBytes > this.#limitBytes;
  }

  /** Persists every row in one transaction (all or none). */
  enqueue(rows: readonly NewMessage[]): void {
    if (rows.length === 0) return;
    this.#store.enqueue(rows);
    for (const r of rows) this.#bytes += r.sizeBytes;
  }

  head(endpoint: string, nowMs: number): StoredMessage | undefined {
    return this.#store.head(endpoint, nowMs);
  }

  /** A delivered (acknowledged) message leaves its queue. */
  remove(message: StoredMessage): void {
    this.#store.remove(message.seq);
    this.#bytes -= message.sizeBytes;
  }

  /** Deletes expired messages and returns them. */
  removeExpired(nowMs: number): StoredMessage[] {
    const expired = this.#store.removeExpired(nowMs);
    for (const m of expired) this.#bytes -= m.sizeBytes;
    return expired;
  }

  queues(): Array<{ endpoint: string; priority: number; length: number; bytes: number }> {
    return this.#store.queues();
  }

  endpoints(): string[] {
    return this.#store.endpoints();
  }
}
