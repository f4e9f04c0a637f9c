/**
 * The chain inputs: `detections` (a detector's results: crop step) and `orientations` (a crop's
 * orientation result: orientation step). Each message ends in one outcome for the chain part it
 * concerns (`chain:<name>`): forwarded, dead-lettered (completion + alert + log), deferred (the work
 * queue is full, or a crop's tensor was already consumed by a duplicate), or left for the watcher's
 * re-emission (sends failed, stopping). A crop step decodes an image, so it takes a work slot like a
 * source file; an orientation step only reads and writes a small tensor file, bounded on its own.
 */
import {
  EdgeMLError,
  SCHEMAS,
  chainOfPart,
  errorCode,
  errorMessage,
  parseMessage,
  profileOfPart,
  type ChainLink,
  type IncomingMessage,
  type InferenceResultMessage,
  type Logger,
  type PendingTensor,
} from '@edgeml/shared';
import type { TransformerConfig } from '../config.js';
import { SHED_RETRY_AFTER_MS } from '../intake.js';
import type { Outputs } from '../outputs.js';
import type { WorkSlots } from '../slots.js';
import type { StatusBook } from '../status.js';
import type { CropStep } from './crop-step.js';
import type { OrientStep } from './orient-step.js';

/** How soon the watcher offers a source again when a crop's tensor was already gone here. */
export const MISSING_CROP_RETRY_MS = 5_000;
/** Orientation steps at once (each reads and writes one small tensor file). */
const MAX_ORIENTATIONS_AT_ONCE = 8;

type OrientMessage = InferenceResultMessage & { readonly chain: ChainLink & { readonly next: PendingTensor } };

export interface ChainIntakeDeps {
  readonly book: StatusBook;
  readonly slots: WorkSlots;
  readonly outputs: Pick<Outputs, 'deadLetter' | 'deferPart'>;
  readonly logger: Logger;
  readonly shouldLog: (key: string) => { log: boolean; suppressed: number };
  readonly config: () => TransformerConfig;
  readonly isStopping: () => boolean;
  readonly signal: AbortSignal;
  readonly crop: CropStep;
  readonly orient: OrientStep;
}

/** The chain parts a result message names (what a malformed one can still be acknowledged for). */
function chainPartsOf(body: Buffer): { id: string; parts: string[]; expectedParts: string[] } | undefined {
  try {
    const v = JSON.parse(body.toString('utf8')) as { id?: unknown; expectedParts?: unknown } | null;
    if (typeof v?.id !== 'string' || !/^[0-9a-f]{64}$/.test(v.id) || !Array.isArray(v.expectedParts)) return undefined;
    const expectedParts = v.expectedParts.filter((p): p is string => typeof p === 'string' && p.length > 0 && p.length <= 128);
    return { id: v.id, parts: expectedParts.filter((p) => chainOfPart(p) !== undefined), expectedParts };
  } catch {
    return undefined; // not JSON: nothing to acknowledge; the alert and the log say why
  }
}

/** A tiny FIFO semaphore. */
class Limiter {
  readonly #max: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(max: number) {
    this.#max = max;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#max) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#active++;
    try {
      return await fn();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }
}

export function createChainIntake(deps: ChainIntakeDeps): { onDetection: (m: IncomingMessage) => Promise<void>; onOrientation: (m: IncomingMessage) => Promise<void> } {
  const { book, slots, outputs, logger, shouldLog } = deps;
  const inFlight = new Set<string>();
  const orientations = new Limiter(MAX_ORIENTATIONS_AT_ONCE);

  /** One chain part to its outcome; `work` throws to dead-letter. */
  const settle = async (msg: InferenceResultMessage, part: string, work: () => Promise<void>): Promise<void> => {
    const ctx = { id: msg.id, path: msg.source.path, kind: 'chain', part: { name: part, expectedParts: msg.expectedParts } };
    try {
      await work();
    } catch (err: unknown) {
      const code = errorCode(err);
      if (deps.signal.aborted) {
        logger.info({ id: msg.id, part }, 'stopped before this chain step finished; the watcher re-emits the source');
      } else if (code === 'EDGE_SEND_FAILED') {
        book.item('chain', 'sendFailed');
        logger.error({ err, id: msg.id, part }, `chain outputs could not be sent; the watcher will re-emit: ${errorMessage(err)}`);
      } else if (code === 'FILE_NOT_FOUND' && msg.chain !== undefined) {
        await outputs.deferPart({ id: msg.id, part, expectedParts: msg.expectedParts }, 'FILE_NOT_FOUND', `crop tensor of ${part} crop ${msg.chain.index} is gone (consumed by a duplicate, or staging was cleaned)`, MISSING_CROP_RETRY_MS);
      } else {
        await outputs.deadLetter(ctx, err);
      }
    }
  };

  /** A message that is not a valid result: every chain part it names is dead-lettered. */
  const invalid = async (message: IncomingMessage, err: unknown): Promise<void> => {
    const named = chainPartsOf(message.body);
    if (named === undefined || named.parts.length === 0) {
      await outputs.deadLetter({ id: undefined, path: undefined, kind: 'chain' }, err);
      return;
    }
    for (const part of named.parts) await outputs.deadLetter({ id: named.id, path: undefined, kind: 'chain', part: { name: part, expectedParts: named.expectedParts } }, err);
  };

  const parse = async (message: IncomingMessage): Promise<InferenceResultMessage | undefined> => {
    if (deps.isStopping()) return undefined; // not taken: the watcher re-emits
    try {
      return parseMessage(message.body, SCHEMAS.result);
    } catch (err: unknown) {
      await invalid(message, err);
      return undefined;
    }
  };

  const onDetection = async (message: IncomingMessage): Promise<void> => {
    const msg = await parse(message);
    if (msg === undefined) return;
    const profile = profileOfPart(msg.part);
    const c = deps.config();
    // Every result of a whole image arrives here (a route cannot filter by profile over MQTT 5). The
    // chains this source was planned with (their parts are expected) whose detector this result is;
    // for a chain no longer enabled, the first result that holds boxes closes its part (crop-step.ts).
    const hasBoxes = Array.isArray(msg.outputs['boxes']);
    const names = msg.expectedParts
      .map(chainOfPart)
      .filter((n): n is string => n !== undefined)
      .filter((n) => {
        const chain = c.chains[n];
        return chain?.enabled === true ? chain.detector === profile : hasBoxes;
      });
    if (msg.chain !== undefined || names.length === 0) {
      book.chain('ignored');
      const r = shouldLog('detection-ignored');
      if (r.log) logger.debug({ id: msg.id, part: msg.part, ignoredSinceLastLine: r.suppressed }, 'a result no chain of its source waits for (not its detector): ignored');
      return;
    }
    for (const name of names) {
      const part = `chain:${name}`;
      const key = `${msg.messageId}\u0000${name}`;
      if (inFlight.has(key)) {
        book.item('chain', 'duplicate');
        continue;
      }
      if (slots.isFull()) {
        book.item('chain', 'shed');
        await outputs.deferPart({ id: msg.id, part, expectedParts: msg.expectedParts }, 'OVERLOADED', `the transformer's wait queue is full (${c.maxQueuedItems} items behind ${c.maxConcurrentItems} in progress)`, SHED_RETRY_AFTER_MS);
        continue;
      }
      inFlight.add(key);
      try {
        if (!(await slots.acquire())) continue;
        try {
          const finished = book.activity.start();
          await settle(msg, part, async () => {
            book.chain('detections', await deps.crop(msg, name, deps.config()));
            finished();
          });
        } finally {
          slots.release();
        }
      } finally {
        inFlight.delete(key);
      }
    }
  };

  const onOrientation = async (message: IncomingMessage): Promise<void> => {
    const msg = await parse(message);
    if (msg === undefined) return;
    const link = msg.chain;
    if (link === undefined || link.step !== 'orient' || link.next === undefined) {
      await invalid(message, new EdgeMLError('MESSAGE_INVALID', `a result on orientations must be a chain crop's orientation (chain.step orient with chain.next); got ${link === undefined ? 'no chain link' : `step ${link.step}`}`));
      return;
    }
    const key = `${link.run}\u0000${link.name}\u0000${link.index}`;
    if (inFlight.has(key)) {
      book.item('chain', 'duplicate');
      return;
    }
    inFlight.add(key);
    try {
      await orientations.run(() =>
        settle(msg, msg.part, async () => {
          const finished = book.activity.start();
          await deps.orient(msg as OrientMessage, deps.config());
          book.chain('orientations');
          finished();
        }),
      );
    } finally {
      inFlight.delete(key);
    }
  };

  return { onDetection, onOrientation };
}
