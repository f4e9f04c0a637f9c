/**
 * Store-and-forward: the persisted queues of module inputs (store.ts) with group commits and their
 * byte accounting against `storeLimits.maxSizeBytes`.
 *
 * Group commit: messages accepted and acknowledgements received during one turn of the event loop are
 * written in one SQLite transaction at the end of the turn (`setImmediate`), and only then is each
 * publisher's `committed` callback called, which is when the hub sends its PUBACK: nothing acknowledged
 * can be lost by a kill, and a burst costs one commit, not one per message. An acknowledged delivery's
 * delete rides in the same transaction; if the hub dies first, the message is delivered again
 * (at least once, like edgeHub).
 */
import type { HubStore, NewMessage, QueueKey, StoredMessage } from './store.js';

interface PendingInsert {
  readonly rows: readonly NewMessage[];
  readonly committed: (err: Error | undefined, stored: readonly StoredMessage[]) => void;
}

export class ForwardQueue {
  readonly #store: HubStore;
  readonly #limitBytes: number | undefined;
  readonly #onCommitted: (stored: readonly StoredMessage[]) => void;
  #inserts: PendingInsert[] = [];
  #removals = new Set<number>();
  #scheduled = false;
  #bytes: number;
  #closed = false;

  /**
   * `limitBytes`: `storeLimits.maxSizeBytes`, undefined for no limit. `onCommitted` sees every message
   * once it is on disk (delivery starts there), before the publishers' callbacks run.
   */
  constructor(store: HubStore, limitBytes: number | undefined, onCommitted: (stored: readonly StoredMessage[]) => void) {
    this.#store = store;
    this.#limitBytes = limitBytes;
    this.#onCommitted = onCommitted;
    this.#bytes = store.totalBytes();
  }

  /** Bytes queued and about to be (body plus properties of every message). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether `addBytes` more would go over `storeLimits.maxSizeBytes`. */
  wouldExceed(addBytes: number): boolean {
    return this.#limitBytes !== undefined && this.#bytes + addBytes > this.#limitBytes;
  }

  /**
   * Queues `rows` (all or none) for the end-of-turn commit; `committed` is called after it, with the
   * error when the write failed (nothing of it is stored then).
   */
  enqueue(rows: readonly NewMessage[], committed: PendingInsert['committed']): void {
    if (this.#closed) {
      committed(new Error('the edge hub store is closed'), []);
      return;
    }
    this.#inserts.push({ rows, committed });
    for (const r of rows) this.#bytes += r.sizeBytes;
    this.#schedule();
  }

  /** A delivered (acknowledged) message leaves its queue with the next commit. */
  remove(message: StoredMessage): void {
    if (this.#closed || this.#removals.has(message.seq)) return;
    this.#removals.add(message.seq);
    this.#bytes -= message.sizeBytes;
    this.#schedule();
  }

  /** Whether the message's delete waits for the next commit (acknowledged, still on disk). */
  isRemoving(seq: number): boolean {
    return this.#removals.has(seq);
  }

  /** Up to `limit` messages of `endpoint` after `after`, in delivery order, not counting those being removed. */
  load(endpoint: string, nowMs: number, after: QueueKey | undefined, limit: number): StoredMessage[] {
    return this.#store.load(endpoint, nowMs, after, limit).filter((m) => !this.#removals.has(m.seq));
  }

  /** Deletes expired messages and returns them (those already acknowledged are not expiries). */
  removeExpired(nowMs: number): StoredMessage[] {
    const expired: StoredMessage[] = [];
    for (const m of this.#store.removeExpired(nowMs)) {
      if (this.#removals.delete(m.seq)) continue;
      this.#bytes -= m.sizeBytes;
      expired.push(m);
    }
    return expired;
  }

  queues(): Array<{ endpoint: string; priority: number; length: number; bytes: number }> {
    return this.#store.queues();
  }

  endpoints(): string[] {
    return this.#store.endpoints();
  }

  /** Commits what is pending now (the end-of-turn commit, also run by close()). */
  flush(): void {
    this.#scheduled = false;
    const inserts = this.#inserts;
    const removals = [...this.#removals];
    if (inserts.length === 0 && removals.length === 0) return;
    this.#inserts = [];
    this.#removals = new Set();
    const rows = inserts.flatMap((p) => p.rows);
    let seqs: number[];
    try {
      seqs = this.#store.commit(rows, removals);
    } catch (err: unknown) {
      // Nothing of the transaction is stored: the publishers get no PUBACK and send again; the
      // acknowledged deliveries stay queued and are delivered again (at least once).
      for (const r of rows) this.#bytes -= r.sizeBytes;
      for (const seq of removals) this.#removals.add(seq);
      const error = err instanceof Error ? err : new Error(String(err));
      for (const p of inserts) p.committed(error, []);
      if (removals.length > 0) this.#schedule();
      return;
    }
    const stored: StoredMessage[] = rows.map((r, i) => ({ ...r, seq: seqs[i] ?? -1 }));
    this.#onCommitted(stored);
    let at = 0;
    for (const p of inserts) {
      p.committed(undefined, stored.slice(at, at + p.rows.length));
      at += p.rows.length;
    }
  }

  /** Commits what is pending; later calls fail their callbacks. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      if (!this.#closed) this.flush();
    });
  }
}
