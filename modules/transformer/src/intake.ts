import { MAX_MESSAGE_BYTES, SCHEMAS, parseMessage, type FileMessage, type IncomingMessage, type Logger } from '@edgeml/shared';
import type { TransformerConfig } from './config.js';
import type { ItemContext, Outputs } from './outputs.js';
import type { WorkSlots } from './slots.js';
import type { StatusBook } from './status.js';

const SHA256_RE = /^[0-9a-f]{64}$/;
/** How long the watcher waits before offering an item this module could not queue (its queue was full). */
export const SHED_RETRY_AFTER_MS = 10_000;

/** What a message we could not parse says about itself, to acknowledge it if it names a source. */
export function describeInvalid(body: Buffer): ItemContext {
  if (body.length > MAX_MESSAGE_BYTES) return { id: undefined, path: undefined, kind: 'invalid' };
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    // parseMessage already reported why; there is simply nothing to recover.
    return { id: undefined, path: undefined, kind: 'invalid' };
  }
  const v = value as { schema?: unknown; id?: unknown; source?: { path?: unknown } } | null;
  // Only an edgeml.file/v1 message names a source we may acknowledge; anything else is not ours.
  const id = v?.schema === SCHEMAS.file && typeof v.id === 'string' && SHA256_RE.test(v.id) ? v.id : undefined;
  const p = typeof v?.source?.path === 'string' ? v.source.path.slice(0, 512) : undefined;
  return { id, path: p, kind: 'invalid' };
}

/**
 * The `files` input handler: parses the message (a bad one is dead-lettered), drops a duplicate of a
 * source already in flight, defers the source back to the watcher when the wait queue is full, and
 * otherwise runs it in a slot with the configuration current when it starts.
 */
export function createIntake(deps: {
  book: StatusBook;
  slots: WorkSlots;
  outputs: Pick<Outputs, 'deadLetter' | 'defer'>;
  logger: Logger;
  shouldLog: (key: string) => { log: boolean; suppressed: number };
  config: () => TransformerConfig;
  isStopping: () => boolean;
  run: (msg: FileMessage, config: TransformerConfig) => Promise<void>;
}): (message: IncomingMessage) => Promise<void> {
  const { book, slots, outputs, logger, shouldLog } = deps;
  const inFlightKeys = new Set<string>();

  const shed = async (msg: FileMessage): Promise<void> => {
    book.item(msg.source.kind, 'shed');
    const c = deps.config();
    const r = shouldLog('shed');
    if (r.log) {
      logger.warn(
        { maxQueuedItems: c.maxQueuedItems, shedSinceLastLine: r.suppressed + 1, shedTotal: book.shedTotal, retryAfterMs: SHED_RETRY_AFTER_MS },
        'wait queue full: items deferred; the watcher offers them again',
      );
    }
    const reason = `the transformer's wait queue is full (${c.maxQueuedItems} items behind ${c.maxConcurrentItems} in progress)`;
    await outputs.defer(msg, reason, SHED_RETRY_AFTER_MS);
  };

  return async (message) => {
    if (deps.isStopping()) {
      const r = shouldLog('stopping');
      if (r.log) logger.info({ ignoredSinceLastLine: r.suppressed }, 'stopping: input not taken; the watcher re-emits it');
      return;
    }
    book.received();
    let msg: FileMessage;
    try {
      msg = parseMessage(message.body, SCHEMAS.file);
    } catch (err: unknown) {
      await outputs.deadLetter(describeInvalid(message.body), err);
      return;
    }
    const key = `${msg.id}\u0000${msg.source.path}`;
    if (inFlightKeys.has(key)) {
      book.item(msg.source.kind, 'duplicate');
      logger.debug({ id: msg.id, path: msg.source.path }, 'already in flight; this copy is dropped');
      return;
    }
    if (slots.isFull()) {
      await shed(msg);
      return;
    }
    inFlightKeys.add(key);
    try {
      if (!(await slots.acquire())) return;
      try {
        // One configuration for the whole item, even if a twin change lands meanwhile.
        await deps.run(msg, deps.config());
      } finally {
        slots.release();
      }
    } finally {
      inFlightKeys.delete(key);
    }
  };
}
