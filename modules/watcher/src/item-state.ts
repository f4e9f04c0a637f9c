/**
 * The ledger's state machine, pure: what an acknowledgement or a timeout does to an item.
 *
 *   pending ──emit──► emitted ──every expected part uploaded──► completed
 *                       │  ▲                                      (terminal)
 *                       │  └──timeout, attempts < maxAttempts: re-emit
 *                       ├──any part deadLettered, or timeout at maxAttempts──► deadLettered (terminal)
 *   pending|emitted ──file vanished──► gone ──same content seen again──► pending
 */
import type { CompletionOutcome } from '@edgeml/shared';

export const ITEM_STATES = ['pending', 'emitted', 'completed', 'deadLettered', 'gone'] as const;
export type ItemState = (typeof ITEM_STATES)[number];

export function isTerminal(state: ItemState): boolean {
  return state === 'completed' || state === 'deadLettered';
}

/** One part's final outcome as reported on `completed`. */
export interface PartAck {
  readonly part: string;
  readonly outcome: CompletionOutcome;
  readonly module: string;
  readonly code?: string;
  readonly reason?: string;
  /** Epoch ms when the watcher recorded it. */
  readonly at: number;
}

export interface AckSnapshot {
  /** Union of the expectedParts of every acknowledgement received so far. */
  readonly expectedParts: readonly string[];
  readonly acks: readonly PartAck[];
}

export type AckVerdict = 'waiting' | 'completed' | 'deadLettered' | 'duplicate';

export interface AckMerge extends AckSnapshot {
  readonly verdict: AckVerdict;
  /** Expected parts without an `uploaded` acknowledgement yet. */
  readonly missing: readonly string[];
  /** Whether `acks`/`expectedParts` changed (and must be written). */
  readonly changed: boolean;
}

/** Parts acknowledged as uploaded (what a re-emission names as `doneParts`). */
export function uploadedParts(acks: readonly PartAck[]): string[] {
  return acks.filter((a) => a.outcome === 'uploaded').map((a) => a.part);
}

/**
 * Merges one acknowledgement into what is known of an item. Expected parts are the union of every
 * acknowledgement's list (producers state what they expect; a dead-lettering transformer says
 * `['transform']`). The first outcome recorded for a part stands, except that `deadLettered`
 * overrides `uploaded`: a part someone quarantined must reach an operator.
 */
export function mergeAck(current: AckSnapshot, ack: PartAck, ackExpectedParts: readonly string[]): AckMerge {
  const expected = [...current.expectedParts];
  let changed = false;
  for (const p of ackExpectedParts) {
    if (!expected.includes(p)) {
      expected.push(p);
      changed = true;
    }
  }
  if (!expected.includes(ack.part)) {
    expected.push(ack.part);
    changed = true;
  }
  const acks = [...current.acks];
  const i = acks.findIndex((a) => a.part === ack.part);
  let duplicate = false;
  if (i === -1) {
    acks.push(ack);
    changed = true;
  } else if (acks[i]!.outcome === 'uploaded' && ack.outcome === 'deadLettered') {
    acks[i] = ack;
    changed = true;
  } else {
    duplicate = true;
  }
  const uploaded = new Set(uploadedParts(acks));
  const missing = expected.filter((p) => !uploaded.has(p));
  let verdict: AckVerdict;
  if (acks.some((a) => a.outcome === 'deadLettered')) verdict = 'deadLettered';
  else if (missing.length === 0) verdict = 'completed';
  else verdict = 'waiting';
  if (duplicate && !changed) verdict = verdict === 'waiting' ? 'duplicate' : verdict;
  return { expectedParts: expected, acks, verdict, missing, changed };
}

export type TimeoutDecision = { readonly action: 'wait'; readonly dueAt: number } | { readonly action: 'reemit' } | { readonly action: 'deadLetter' };

/** What to do with an emitted, unacknowledged item at `nowMs`. */
export function timeoutDecision(
  item: { readonly attempts: number; readonly lastEmittedAt: number },
  nowMs: number,
  options: { readonly completionTimeoutMs: number; readonly maxAttempts: number },
): TimeoutDecision {
  const dueAt = item.lastEmittedAt + options.completionTimeoutMs;
  if (nowMs < dueAt) return { action: 'wait', dueAt };
  return item.attempts < options.maxAttempts ? { action: 'reemit' } : { action: 'deadLetter' };
}
