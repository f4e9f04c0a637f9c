/**
 * The ledger's state machine, pure: what an acknowledgement or a timeout does to an item.
 *
 *   pending ──emit──► emitted ──every expected part uploaded──► completed
 *                       │  ▲                                      (terminal)
 *                       │  ├──timeout, attempts < maxAttempts: re-emit (an attempt)
 *                       │  ├──deferral due, or a lease ran out: offer again (no attempt)
 *                       │  └──every missing part held under a live lease: the timer waits
 *                       ├──any part deadLettered, or timeout at maxAttempts──► deadLettered
 *                       │                            (a late `uploaded` of every part completes it)
 *   pending|emitted ──file vanished──► gone ──same content seen again──► pending
 */

export const ITEM_STATES = ['pending', 'emitted', 'completed', 'deadLettered', 'gone'] as const;
export type ItemState = (typeof ITEM_STATES)[number];

export function isTerminal(state: ItemState): boolean {
  return state === 'completed' || state === 'deadLettered';
}

/** The outcomes that settle a part (the others, `deferred` and `held`, are not recorded as acks). */
export type FinalOutcome = 'uploaded' | 'deadLettered';

/** One part's final outcome as reported on `completed`. */
export interface PartAck {
  readonly part: string;
  readonly outcome: FinalOutcome;
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

/** The expected parts once an acknowledgement for `part` stating `ackExpectedParts` is known (a union, order kept). */
export function unionParts(expected: readonly string[], ackExpectedParts: readonly string[], part: string): string[] {
  const out = [...expected];
  for (const p of [...ackExpectedParts, part]) if (!out.includes(p)) out.push(p);
  return out;
}

/**
 * Merges one acknowledgement into what is known of an item. Expected parts are the union of every
 * acknowledgement's list (producers state what they expect; a dead-lettering transformer says
 * `['transform']`). The first outcome recorded for a part stands, except that `deadLettered`
 * overrides `uploaded`: a part someone quarantined must reach an operator. With
 * `supersedeDeadLetter` (a source already dead-lettered), an `uploaded` from the module that
 * dead-lettered the part replaces that dead letter: the module retried it and it succeeded.
 */
export function mergeAck(current: AckSnapshot, ack: PartAck, ackExpectedParts: readonly string[], options: { readonly supersedeDeadLetter?: boolean } = {}): AckMerge {
  const expected = unionParts(current.expectedParts, ackExpectedParts, ack.part);
  let changed = expected.length !== current.expectedParts.length;
  const acks = [...current.acks];
  const i = acks.findIndex((a) => a.part === ack.part);
  let duplicate = false;
  if (i === -1) {
    acks.push(ack);
    changed = true;
  } else if (acks[i]!.outcome === 'uploaded' && ack.outcome === 'deadLettered') {
    acks[i] = ack;
    changed = true;
  } else if (options.supersedeDeadLetter === true && acks[i]!.outcome === 'deadLettered' && ack.outcome === 'uploaded' && acks[i]!.module === ack.module) {
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

/** A part a module has durably accepted and holds (a `held` acknowledgement), until `expiresAt` unless renewed. */
export interface PartLease {
  readonly part: string;
  readonly module: string;
  /** Epoch ms. */
  readonly expiresAt: number;
}

export interface LeaseSnapshot extends AckSnapshot {
  readonly leases: readonly PartLease[];
}

export interface HoldState {
  /** Every part still missing is held under a live lease: the completion timer does not run. */
  readonly held: boolean;
  /** Missing parts under a live lease. */
  readonly heldParts: readonly string[];
  /** The earliest expiry among the item's leases, live or not (when the timer must look again), or null. */
  readonly nextExpiryAt: number | null;
}

/** Which of an item's missing parts are held at `nowMs`, and whether that is all of them. */
export function holdState(item: LeaseSnapshot, nowMs: number): HoldState {
  const uploaded = new Set(uploadedParts(item.acks));
  const missing = item.expectedParts.filter((p) => !uploaded.has(p));
  const live = new Set(item.leases.filter((l) => l.expiresAt > nowMs).map((l) => l.part));
  const heldParts = missing.filter((p) => live.has(p));
  let nextExpiryAt: number | null = null;
  for (const l of item.leases) if (nextExpiryAt === null || l.expiresAt < nextExpiryAt) nextExpiryAt = l.expiresAt;
  return { held: missing.length > 0 && heldParts.length === missing.length, heldParts, nextExpiryAt };
}

/**
 * The parts a (re-)emission names as `doneParts`, which producers skip: those uploaded and those a
 * module holds under a live lease. Only the parts nobody holds are produced again.
 */
export function doneParts(item: LeaseSnapshot, nowMs: number): string[] {
  const done = new Set([...uploadedParts(item.acks), ...holdState(item, nowMs).heldParts]);
  return [...done].sort();
}

export type TimeoutDecision =
  /** Nothing to do before `dueAt` (null: nothing scheduled; an acknowledgement will change it). */
  | { readonly action: 'wait'; readonly dueAt: number | null }
  /** A deferral's retry time has come: offer the source again, no attempt spent. */
  | { readonly action: 'retry' }
  /** A holder stopped renewing: offer the source again for the parts nobody holds, no attempt spent. */
  | { readonly action: 'leaseExpired'; readonly parts: readonly string[] }
  | { readonly action: 'reemit' }
  | { readonly action: 'deadLetter' };

export interface TimedItem extends LeaseSnapshot {
  readonly attempts: number;
  /** When the completion timer started (the last emission, or when the item stopped being held). */
  readonly clockAt: number;
  /** A deferral's retry time, or null. */
  readonly retryAt: number | null;
}

const earliest = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));

/**
 * What to do with an emitted, unacknowledged item at `nowMs`. Time under a live lease does not
 * count: while every missing part is held the timer waits for the leases, and a lease that runs out
 * brings the source back without spending an attempt. Only time nobody holds a part counts towards
 * `completionTimeoutMs` and `maxAttempts`.
 */
export function timeoutDecision(item: TimedItem, nowMs: number, options: { readonly completionTimeoutMs: number; readonly maxAttempts: number }): TimeoutDecision {
  const expired = item.leases.filter((l) => l.expiresAt <= nowMs).map((l) => l.part);
  if (expired.length > 0) return { action: 'leaseExpired', parts: expired };
  const hold = holdState(item, nowMs);
  if (item.retryAt !== null) return item.retryAt <= nowMs ? { action: 'retry' } : { action: 'wait', dueAt: earliest(item.retryAt, hold.nextExpiryAt) };
  if (hold.held) return { action: 'wait', dueAt: hold.nextExpiryAt };
  const dueAt = item.clockAt + options.completionTimeoutMs;
  if (nowMs < dueAt) return { action: 'wait', dueAt: earliest(dueAt, hold.nextExpiryAt) };
  return item.attempts < options.maxAttempts ? { action: 'reemit' } : { action: 'deadLetter' };
}
