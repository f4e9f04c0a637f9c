import { backoffDelayMs, completionOutput, errorMessage, SCHEMAS, type CompletionMessage, type HardExampleMessage, type OutgoingMessage } from '@edgeml/shared';
import type { UploaderContext } from './context.js';
import { Wakeable } from './wakeable.js';

/** An outbox body as the output it goes to: a hard example on `hardExamples`, a completion on `completed`. */
function outputOf(body: string): { output: 'completed' | 'hardExamples'; message: OutgoingMessage } {
  const m = JSON.parse(body) as CompletionMessage | HardExampleMessage;
  if (m.schema === SCHEMAS.hardExample) {
    return { output: 'hardExamples', message: { body: m, messageId: m.messageId, properties: { schema: SCHEMAS.hardExample, reasons: m.reasons.join(','), part: m.part } } };
  }
  return { output: 'completed', message: completionOutput(m) };
}

/** Completions sent per pass before the outbox is read again. */
const OUTBOX_BATCH = 100;

/**
 * Sends the durable outbox on `completed`, oldest first, and forgets each completion once edgeHub
 * accepted it. A failure (edgeHub away) keeps the rest and retries with backoff; on stop the
 * loop sends what it can and leaves the rest for the next start.
 */
export class OutboxSender {
  readonly #ctx: UploaderContext;
  readonly #wake = new Wakeable();
  #loop: Promise<void> | undefined;
  #stopping = false;

  constructor(ctx: UploaderContext) {
    this.#ctx = ctx;
  }

  wake(): void {
    this.#wake.wake();
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Ends the loop once it has sent what it can (or a send fails). */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake.close();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { queue, edge } = this.#ctx;
    let failuresInRow = 0;
    while (!this.#stopping || failuresInRow === 0) {
      this.#wake.reset();
      if (queue.isClosed) return;
      const batch = queue.peekOutbox(OUTBOX_BATCH);
      const sent: number[] = [];
      for (const entry of batch) {
        try {
          const out = outputOf(entry.body);
          await edge.sendOutput(out.output, out.message);
          sent.push(entry.seq);
          failuresInRow = 0;
        } catch (err: unknown) {
          failuresInRow++;
          this.#ctx.logOnce('outbox', 'warn', { err, pending: queue.outboxSize() }, `could not send a completion; will retry: ${errorMessage(err)}`);
          break;
        }
      }
      if (!queue.isClosed) queue.removeOutbox(sent);
      if (this.#stopping && (failuresInRow > 0 || batch.length === 0)) return;
      if (batch.length > 0 && failuresInRow === 0) continue;
      const delay = failuresInRow > 0 ? backoffDelayMs(failuresInRow, { initialDelayMs: 500, maxDelayMs: 30_000 }, this.#ctx.random) : 1_000;
      // A wake-up while failing does not cut the backoff short (edgeHub is away).
      await this.#wake.nap(delay, this.#ctx.logger, failuresInRow === 0);
    }
  }
}
