/**
 * One module input's queue as delivery sees it: the next messages to send, read ahead from
 * store-and-forward (bounded in count and bytes), and the messages in flight (sent, not yet acknowledged).
 *
 * Order is the store's: lowest priority number first, then FIFO (seq). The read-ahead holds every stored
 * message of the input with a key up to `frontier` that is neither in flight nor acknowledged; when
 * `complete`, it holds all of them and new messages join it directly. Anything beyond stays on disk
 * until `next` reads it.
 */
import type { Client } from 'aedes';
import type { QueueKey, StoredMessage } from './store.js';

/** Read-ahead bounds per input (the rest waits on disk). */
export const READ_AHEAD = { maxMessages: 256, maxBytes: 8 * 1024 * 1024, loadBatch: 64 } as const;

export interface InflightDelivery {
  readonly message: StoredMessage;
  readonly queue: InputQueue;
  readonly client: Client;
  readonly topic: string;
  readonly sentAtMs: number;
  /** aedes's number of the packet written, to match the PUBACK exactly. */
  readonly brokerCounter: number | undefined;
}

export type Loader = (endpoint: string, after: QueueKey | undefined, limit: number) => StoredMessage[];

const before = (a: QueueKey, b: QueueKey): boolean => a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq);

export class InputQueue {
  readonly endpoint: string;
  readonly moduleId: string;
  readonly inputName: string;
  /** Sent and not acknowledged, oldest first. */
  inflight: InflightDelivery[] = [];
  #waiting: StoredMessage[] = [];
  #waitingBytes = 0;
  #complete = false;
  /** The largest key read from disk while not complete (undefined: nothing read yet). */
  #frontier: QueueKey | undefined;

  constructor(endpoint: string) {
    this.endpoint = endpoint;
    const slash = endpoint.indexOf('/');
    this.moduleId = endpoint.slice(0, slash);
    this.inputName = endpoint.slice(slash + 1);
  }

  /** A message just committed for this input. */
  add(m: StoredMessage): void {
    if (this.#covers(m)) this.#insert(m);
  }

  /**
   * The next message to send, taken out of the read-ahead (refilled from disk when it runs dry);
   * expired ones are skipped (the expiry sweep deletes and counts them).
   */
  next(nowMs: number, load: Loader): StoredMessage | undefined {
    for (;;) {
      if (this.#waiting.length === 0 && !this.#complete) this.#refill(load);
      const m = this.#waiting.shift();
      if (m === undefined) return undefined;
      this.#waitingBytes -= m.sizeBytes;
      if (m.expiresAtMs === undefined || m.expiresAtMs > nowMs) return m;
    }
  }

  /** Deliveries to send again (not acknowledged in time, or their connection went away), in order. */
  putBack(deliveries: readonly InflightDelivery[]): void {
    for (const d of deliveries) if (this.#covers(d.message)) this.#insert(d.message);
  }

  /** A message that left the store (expired). */
  drop(seq: number): void {
    const i = this.#waiting.findIndex((m) => m.seq === seq);
    if (i >= 0) this.#waitingBytes -= this.#waiting.splice(i, 1)[0]?.sizeBytes ?? 0;
  }

  /** Whether the message belongs in memory: the disk holds nothing before it that is not here. */
  #covers(m: StoredMessage): boolean {
    return this.#complete || (this.#frontier !== undefined && before(m, this.#frontier));
  }

  #insert(m: StoredMessage): void {
    let i = this.#waiting.length;
    while (i > 0 && before(m, this.#waiting[i - 1]!)) i--;
    this.#waiting.splice(i, 0, m);
    this.#waitingBytes += m.sizeBytes;
    // Over the bounds: the tail goes back to living on disk only.
    while (this.#waiting.length > 1 && (this.#waiting.length > READ_AHEAD.maxMessages || this.#waitingBytes > READ_AHEAD.maxBytes)) {
      this.#waitingBytes -= this.#waiting.pop()?.sizeBytes ?? 0;
      const last = this.#waiting[this.#waiting.length - 1]!;
      this.#complete = false;
      this.#frontier = { priority: last.priority, seq: last.seq };
    }
  }

  #refill(load: Loader): void {
    const rows = load(this.endpoint, this.#frontier, READ_AHEAD.loadBatch);
    const last = rows[rows.length - 1];
    if (rows.length < READ_AHEAD.loadBatch || last === undefined) {
      this.#complete = true;
      this.#frontier = undefined;
    } else this.#frontier = { priority: last.priority, seq: last.seq };
    // What is in flight is on disk too: it was read (or added) before, and is not sent twice.
    const sending = new Set(this.inflight.map((d) => d.message.seq));
    for (const m of rows) {
      if (sending.has(m.seq)) continue;
      this.#waiting.push(m);
      this.#waitingBytes += m.sizeBytes;
    }
  }
}
