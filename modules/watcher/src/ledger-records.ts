/**
 * What the ledger stores and returns: the records callers see, the rows SQLite holds, and the
 * mapping between them.
 */
import type { CompletionOutcome } from '@edgeml/shared';
import type { AckMerge, ItemState, PartAck, PartLease } from './item-state.js';

export interface ItemRecord {
  readonly id: string;
  /** Path relative to the inbox (POSIX). */
  readonly path: string;
  readonly sizeBytes: number;
  readonly mtimeMs: number;
  readonly state: ItemState;
  /** Emissions that counted as attempts (the first, and each re-emission after a completion timeout). */
  readonly attempts: number;
  /** Epoch ms. `detectedAt` is written once, when the content is first recorded. */
  readonly detectedAt: number;
  readonly stableAt: number;
  readonly firstEmittedAt: number | null;
  readonly lastEmittedAt: number | null;
  readonly sent: boolean;
  readonly finishedAt: number | null;
  readonly expectedParts: readonly string[];
  readonly acks: readonly PartAck[];
  /** Why the item was dead-lettered. */
  readonly reasons: readonly DeadLetterReason[];
  /** Set while a module deferred a part: when to offer the source again (epoch ms). */
  readonly retryAt: number | null;
  /** Deferred acknowledgements received over the item's life (they do not count as attempts). */
  readonly deferrals: number;
  /** The latest deferral, for status and logs. */
  readonly deferral: Deferral | null;
  /** When the completion timer started: the last emission, or when the item stopped being held. */
  readonly clockAt: number | null;
  /** Parts modules hold under a lease (live or run out but not yet handled). */
  readonly leases: readonly PartLease[];
  /** Every missing part is held under a live lease (as of the last change): the timer does not run. */
  readonly held: boolean;
  /** Leases that ran out over the item's life (their holder stopped renewing). */
  readonly leaseExpiries: number;
  /** Where its inputs went in `failed/` (paths relative to it), while dead-lettered. */
  readonly failedPaths: readonly string[];
  /** Times it was reset for reprocessing (the method, or the same content dropped again). */
  readonly reprocessed: number;
}

export interface Deferral {
  readonly part: string;
  readonly module: string;
  readonly code: string;
  readonly reason: string;
  readonly at: number;
}

export interface DeadLetterReason {
  readonly code: string;
  readonly reason: string;
  readonly part?: string;
  readonly module?: string;
}

export interface PathRecord {
  readonly path: string;
  readonly sizeBytes: number;
  readonly mtimeMs: number;
  readonly id: string;
  /** The item's state, when read with `Ledger.allPaths`. */
  readonly state?: ItemState;
}

export interface StableFile {
  readonly path: string;
  readonly sizeBytes: number;
  readonly mtimeMs: number;
  readonly id: string;
  readonly detectedAt: number;
  readonly stableAt: number;
}

/** `revived`: content seen before (gone, or dead-lettered and dropped again) that is processed anew. */
export type RecordOutcome =
  | { readonly outcome: 'new'; readonly item: ItemRecord }
  | { readonly outcome: 'revived'; readonly item: ItemRecord; readonly revivedFrom: 'gone' | 'deadLettered' }
  | { readonly outcome: 'known'; readonly item: ItemRecord };

/** An acknowledgement as the ledger takes it (any outcome). */
export interface IncomingAck {
  readonly part: string;
  readonly outcome: CompletionOutcome;
  readonly module: string;
  readonly code?: string;
  readonly reason?: string;
  /** Epoch ms when the watcher recorded it. */
  readonly at: number;
  /** `held` only: when the lease runs out unless renewed (epoch ms). */
  readonly leaseExpiresAt?: number;
}

export type AckResult =
  | { readonly result: 'unknown' }
  | { readonly result: 'alreadyFinal'; readonly item: ItemRecord }
  /** A deferral that changed nothing: the item is not in flight, or the part is uploaded or held. */
  | { readonly result: 'deferralIgnored'; readonly item: ItemRecord }
  | { readonly result: 'deferred'; readonly item: ItemRecord; readonly retryAt: number }
  /** A lease granted or renewed. */
  | { readonly result: 'held'; readonly item: ItemRecord; readonly expiresAt: number }
  /** A `held` that changed nothing: the item is not in flight, or the part is already uploaded. */
  | { readonly result: 'leaseIgnored'; readonly item: ItemRecord }
  | { readonly result: 'merged'; readonly merge: AckMerge; readonly item: ItemRecord };

export interface LedgerCounts {
  readonly pending: number;
  readonly emitted: number;
  readonly completed: number;
  readonly deadLettered: number;
  readonly gone: number;
}

export interface ItemRow {
  id: string;
  path: string;
  size_bytes: number;
  mtime_ms: number;
  state: ItemState;
  attempts: number;
  detected_at: number;
  stable_at: number;
  first_emitted_at: number | null;
  last_emitted_at: number | null;
  sent: number;
  finished_at: number | null;
  expected_parts: string;
  reasons: string;
  retry_at: number | null;
  deferrals: number;
  deferral: string | null;
  clock_at: number | null;
  held: number;
  lease_expiries: number;
  failed_paths: string;
  reprocessed: number;
}

export interface AckRow {
  part: string;
  outcome: PartAck['outcome'];
  module: string;
  code: string | null;
  reason: string | null;
  at: number;
}

export interface LeaseRow {
  part: string;
  module: string;
  expires_at: number;
}

export function toItemRecord(row: ItemRow, ackRows: readonly AckRow[], leaseRows: readonly LeaseRow[]): ItemRecord {
  const acks = ackRows.map(
    (a): PartAck => ({
      part: a.part,
      outcome: a.outcome,
      module: a.module,
      at: a.at,
      ...(a.code === null ? {} : { code: a.code }),
      ...(a.reason === null ? {} : { reason: a.reason }),
    }),
  );
  return {
    id: row.id,
    path: row.path,
    sizeBytes: row.size_bytes,
    mtimeMs: row.mtime_ms,
    state: row.state,
    attempts: row.attempts,
    detectedAt: row.detected_at,
    stableAt: row.stable_at,
    firstEmittedAt: row.first_emitted_at,
    lastEmittedAt: row.last_emitted_at,
    sent: row.sent === 1,
    finishedAt: row.finished_at,
    expectedParts: JSON.parse(row.expected_parts) as string[],
    acks,
    reasons: JSON.parse(row.reasons) as DeadLetterReason[],
    retryAt: row.retry_at,
    deferrals: row.deferrals,
    deferral: row.deferral === null ? null : (JSON.parse(row.deferral) as Deferral),
    clockAt: row.clock_at,
    leases: leaseRows.map((l) => ({ part: l.part, module: l.module, expiresAt: l.expires_at })),
    held: row.held === 1,
    leaseExpiries: row.lease_expiries,
    failedPaths: JSON.parse(row.failed_paths) as string[],
    reprocessed: row.reprocessed,
  };
}
