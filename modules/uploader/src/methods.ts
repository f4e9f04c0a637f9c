import { jsonMethod, sleep, type EdgeClient, type Logger } from '@edgeml/shared';
import type { UploadQueue } from './context.js';

export const FLUSH_PAYLOAD_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { waitMs: { type: 'integer', minimum: 0, maximum: 600_000, default: 0, description: 'Wait up to this long for the backlog to drain.' } },
} as const;

export const RETRY_QUARANTINED_PAYLOAD_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    all: { const: true },
    keys: { type: 'array', minItems: 1, maxItems: 1000, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 1100 } },
  },
  oneOf: [{ required: ['all'] }, { required: ['keys'] }],
} as const;

/** What the methods act on; the composition root passes the parts that do it. */
export interface MethodTargets {
  readonly queue: UploadQueue;
  /** Seal open result batches and check a paused sink now. */
  flushSoon(): void;
  /** Rights may have been fixed: check a paused sink again now; answers the state after. */
  recheckSink(): Promise<string>;
  wakeUploads(): void;
  /** Resolves true once nothing is queued, in flight or in the outbox, false after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean>;
}

/** Registers the operator verbs `flush` and `retryQuarantined` (`getStatus` is the runtime's). */
export function registerMethods(edge: EdgeClient, logger: Logger, t: MethodTargets): void {
  edge.onMethod(
    'flush',
    jsonMethod<{ waitMs?: number }>({
      schema: FLUSH_PAYLOAD_SCHEMA,
      logger,
      handler: async (p) => {
        t.flushSoon();
        const madeDue = t.queue.makeAllDue();
        t.wakeUploads();
        const waitMs = p.waitMs ?? 0;
        const drained = waitMs > 0 ? await t.idle(waitMs) : undefined;
        return { madeDue, backlog: t.queue.isClosed ? 0 : t.queue.backlog(), ...(drained === undefined ? {} : { drained }) };
      },
    }),
  );
  edge.onMethod(
    'retryQuarantined',
    jsonMethod<{ all?: true; keys?: string[] }>({
      schema: RETRY_QUARANTINED_PAYLOAD_SCHEMA,
      logger,
      handler: async (p) => {
        const requeued = t.queue.requeueQuarantined(p.all === true ? undefined : p.keys);
        logger.info({ requeued }, 'quarantined items requeued by operator');
        const sink = await t.recheckSink();
        t.wakeUploads();
        return { requeued, sink };
      },
    }),
  );
}

/** Polls until the queue has nothing left to do (`inflight` counts uploads running now). */
export async function waitIdle(queue: UploadQueue, inflight: () => number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (queue.isClosed) return true;
    if (inflight() === 0 && queue.backlog() === 0 && queue.outboxSize() === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}
