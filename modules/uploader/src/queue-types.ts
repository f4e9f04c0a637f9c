/**
 * The upload queue's shapes (queue.ts is the queue): items, result lines, what the quota policy
 * evicts, enqueue outcomes, the done-ledger's records, per-class usage and the queue's options.
 */
import type { ClassConfig, QueueClass } from './config.js';

export type ItemState = 'pending' | 'inflight' | 'quarantined';

export interface QueueItem<P> {
  readonly seq: number;
  readonly key: string;
  readonly cls: QueueClass;
  readonly sizeBytes: number;
  readonly enqueuedAtMs: number;
  readonly state: ItemState;
  readonly attempts: number;
  readonly nextAttemptAtMs: number;
  readonly lastCode: string | null;
  readonly lastReason: string | null;
  readonly payload: P;
}

/** A result line waiting for (or in) a batch. */
export interface ResultRow<A> {
  readonly messageId: string;
  readonly windowKey: number;
  readonly receivedAtMs: number;
  readonly sizeBytes: number;
  readonly line: string;
  readonly ack: A;
}

/** Something the quota policy removed; the app dead-letters it. */
export type Evicted<P, A> = { readonly type: 'item'; readonly item: QueueItem<P> } | { readonly type: 'result'; readonly row: ResultRow<A> };

export type EnqueueOutcome<P, A> =
  | { readonly status: 'queued'; readonly seq: number; readonly evicted: readonly Evicted<P, A>[] }
  /** Already queued. `requeued`: it was quarantined and is pending again (content offered anew). */
  | { readonly status: 'duplicate'; readonly requeued: boolean }
  /**
   * No room. `permanent` when the item can never fit (larger than the whole quota); otherwise the
   * class is full for now and the item may be offered again once uploads free room.
   */
  | { readonly status: 'rejected'; readonly reason: string; readonly permanent: boolean };

export interface DoneRecord {
  readonly key: string;
  readonly blobName: string;
  readonly md5: string;
  readonly sink: 'blob' | 'directory';
  readonly contentSha256: string | null;
  readonly completedAtMs: number;
}

export interface ClassUsage {
  readonly items: number;
  readonly bytes: number;
  readonly quarantinedItems: number;
  readonly quarantinedBytes: number;
  /** Enqueue time of the oldest item still waiting (pending or in flight), or null. */
  readonly oldestEnqueuedAtMs: number | null;
}

export interface QueueOptions {
  /** SQLite file; its directory is created. */
  readonly file: string;
  readonly classes: Readonly<Record<QueueClass, ClassConfig>>;
  /** Epoch milliseconds. */
  readonly now: () => number;
  /** How long the done-ledger remembers an upload. Default 30 days. */
  readonly doneRetentionMs?: number;
}
