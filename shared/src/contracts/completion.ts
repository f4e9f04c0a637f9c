import { deterministicMessageId } from './ids.js';
import { SCHEMAS, type CompletionMessage, type CompletionOutcome, type PartName } from './messages.js';
import type { OutgoingMessage } from '../edge/types.js';

/** Longest reason a completion carries (the schema's limit). */
const MAX_REASON_CHARS = 4096;

/** What a completion acknowledges: one part of one source. */
export interface PartRef {
  readonly id: string;
  readonly part: PartName;
  readonly expectedParts: readonly PartName[];
}

export interface CompletionDetails {
  readonly code?: string;
  readonly reason?: string;
  /** Required for `deferred`. */
  readonly retryAfterMs?: number;
  /** Required for `held`. */
  readonly leaseMs?: number;
  readonly blob?: CompletionMessage['blob'];
}

/**
 * The one builder of `edgeml.completion/v1`. Final outcomes (`uploaded`, `deadLettered`) get a
 * message id that is a function of the module, part, outcome and where it ended (blob name or code),
 * so a repeated acknowledgement is recognisable as a duplicate. `deferred` and `held` are events
 * (each deferral, each lease renewal is news), so their id also covers `createdAt`.
 * @throws RangeError when a `deferred` lacks `retryAfterMs` or a `held` lacks `leaseMs` (a bug).
 */
export function buildCompletion(module: string, ref: PartRef, outcome: CompletionOutcome, details: CompletionDetails, now: Date): CompletionMessage {
  if (outcome === 'deferred' && details.retryAfterMs === undefined) throw new RangeError('a deferred completion needs retryAfterMs');
  if (outcome === 'held' && details.leaseMs === undefined) throw new RangeError('a held completion needs leaseMs');
  const createdAt = now.toISOString();
  const final = outcome === 'uploaded' || outcome === 'deadLettered';
  return {
    schema: SCHEMAS.completion,
    id: ref.id,
    messageId: deterministicMessageId(module, 'completion', ref.id, ref.part, outcome, details.blob?.name ?? details.code ?? '', final ? '' : createdAt),
    part: ref.part,
    expectedParts: [...ref.expectedParts],
    outcome,
    module,
    ...(details.code === undefined ? {} : { code: details.code }),
    ...(details.reason === undefined ? {} : { reason: details.reason.slice(0, MAX_REASON_CHARS) }),
    ...(details.retryAfterMs === undefined ? {} : { retryAfterMs: Math.round(details.retryAfterMs) }),
    ...(details.leaseMs === undefined ? {} : { leaseMs: Math.round(details.leaseMs) }),
    ...(details.blob === undefined ? {} : { blob: details.blob }),
    createdAt,
  };
}

/**
 * A completion as an output message, with the application properties routes filter on
 * (`schema`, `outcome`, `part`, `module`, and `code` when there is one).
 */
export function completionOutput(message: CompletionMessage): OutgoingMessage {
  return {
    body: message,
    messageId: message.messageId,
    properties: {
      schema: SCHEMAS.completion,
      outcome: message.outcome,
      part: message.part,
      module: message.module,
      ...(message.code === undefined ? {} : { code: message.code }),
    },
  };
}
