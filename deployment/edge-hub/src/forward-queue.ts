/**
 * Store-and-forward: the persisted queues of module inputs (store.ts) with group commits and their
 * byte accounting against `storeLimits.maxSizeBytes`.
 *
 * Group commit: messages accepted and acknowledgements received during one turn of the event loop are
 * written in one SQLite transaction at the end of the turn (`setImmediate`), and only then is each
 * publisher's `committed` callback called, which is when the hub sends its PUBACK: nothing acknowledged
 * can be lost by a kill, and a burst costs one commit, not one per message. An acknowledged delivery's
 * delete needs no commit of its own: it rides the next commit that persists new messages, or is
 * committed alone after {@link REMOVAL_DELAY_MS} when none comes. If the hub dies first, the message
 * is delivered again (at least once, like edgeHub).
 */
import { storedMessage, type HubStore, type NewMessage, type QueueKey, type StoredMessage } from './store.js';

/**
 * How long an acknowledged delivery's delete may wait for a commit that also persists new messages.
 * Measured (bench/edge-hub.ts, 2026-12-04): a quarter of the commits under a steady stream held nothing
 * but deletes; riding the next insert commit saves those transactions. It bounds the duplicates a
 * kill -9 can cause (acknowledged within this window, delivered again), never a loss.
 */
export const REMOVAL_DELAY_MS = 100;

interface PendingInsert {
  readonly rows: readonly NewMessage[];
  readonly committed: (err: Error | undefined, stored: readonly StoredMessage[]) => void;
}

export class ForwardQueue {
  readonly #store: HubStore;
  readonly #limitBytes: number | undefined;
  readonly #onCommitted: (stored: readonly StoredMessage[]) => void;
  #inserts: PendingInsert[] = [];
  /** Acknowledged, deleted with the next commit: seq → message (for `queues()`). */
  #removals = new Map<number, StoredMessage>();
  #scheduled = false;
  #removalTimer: NodeJS.Timeout | undefined;
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

  /**
   * A delivered (acknowledged) message leaves its queue with the next commit, at the latest
   * {@link REMOVAL_DELAY_MS} from now; it is no longer counted, listed or loaded meanwhile.
   */
  remove(message: StoredMessage): void {
    if (this.#closed || this.#removals.has(message.seq)) return;
    this.#removals.set(message.seq, message);
    this.#bytes -= message.sizeBytes;
    this.#scheduleRemovals();
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

  /** Per endpoint and priority: messages queued (acknowledged ones awaiting their delete not counted). */
  queues(): Array<{ endpoint: string; priority: number; length: number; bytes: number }> {
    const stored = this.#store.queues();
    if (this.#removals.size === 0) return stored;
    const pending = new Map<string, { length: number; bytes: number }>();
    for (const m of this.#removals.values()) {
      const key = `${m.priority} ${m.endpoint}`;
      const p = pending.get(key) ?? { length: 0, bytes: 0 };
      p.length++;
      p.bytes += m.sizeBytes;
      pending.set(key, p);
    }
    return stored
      .map((q) => {
        const p = pending.get(`${q.priority} ${q.endpoint}`);
        return p === undefined ? q : { ...q, length: q.length - p.length, bytes: q.bytes - p.bytes };
      })
      .filter((q) => q.length > 0);
  }

  endpoints(): string[] {
    return this.#store.endpoints();
  }

  /** Commits what is pending now (the end-of-turn commit, also run by close()). */
  flush(): void {
    this.#scheduled = false;
    if (this.#removalTimer !== undefined) {
      clearTimeout(this.#removalTimer);
      this.#removalTimer = undefined;
    }
    const inserts = this.#inserts;
    const removals = this.#removals;
    if (inserts.length === 0 && removals.size === 0) return;
    this.#inserts = [];
    this.#removals = new Map();
    const rows = inserts.flatMap((p) => p.rows);
    let seqs: number[];
    try {
      seqs = this.#store.commit(rows, [...removals.keys()]);
    } catch (err: unknown) {
      // Nothing of the transaction is stored: the publishers get no PUBACK and send again; the
      // acknowledged deliveries stay queued and are delivered again (at least once).
      for (const r of rows) this.#bytes -= r.sizeBytes;
      for (const [seq, m] of removals) this.#removals.set(seq, m);
      const error = err instanceof Error ? err : new Error(String(err));
      for (const p of inserts) p.committed(error, []);
      if (removals.size > 0) this.#scheduleRemovals();
      return;
    }
    // Built field by field: an object spread (`{ ...row, seq }`) measured about 2 µs per message here.
    const stored: StoredMessage[] = [];
    const byPublish: StoredMessage[][] = [];
    for (const p of inserts) {
      const mine: StoredMessage[] = [];
      for (const r of p.rows) {
        const m = storedMessage(r, seqs[stored.length] ?? -1);
        stored.push(m);
        mine.push(m);
      }
      byPublish.push(mine);
    }
    this.#onCommitted(stored);
    inserts.forEach((p, i) => p.committed(undefined, byPublish[i] ?? []));
  }

  /** Commits what is pending; later calls fail their callbacks. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
  }

  /** Deletes alone get a commit only when no insert commit takes them first. */
  #scheduleRemovals(): void {
    if (this.#removalTimer !== undefined) return;
    this.#removalTimer = setTimeout(() => {
      this.#removalTimer = undefined;
      if (!this.#closed) this.flush();
    }, REMOVAL_DELAY_MS);
    this.#removalTimer.unref();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      if (!this.#closed) this.flush();
    });
  }
}
