import {
  EdgeMLError,
  MODULE_ENDPOINTS,
  assertValidMessage,
  buildCompletion,
  completionOutput,
  errorCode,
  errorMessage,
  retry,
  sendAlert,
  type CompletionMessage,
  type EdgeClient,
  type FileMessage,
  type Logger,
  type OutgoingMessage,
  type PartRef,
} from '@edgeml/shared';
import { deadLetterCodeOf } from './errors.js';
import type { StatusBook } from './status.js';

const OUT = MODULE_ENDPOINTS.transformer.outputs;
const SEND_RETRY = { maxAttempts: 4, initialDelayMs: 200, maxDelayMs: 2000 } as const;
/** Longest reason kept in logs, status and messages. */
const MAX_REASON_CHARS = 4000;

/** What is known of the item a dead letter is for (a message that could not be parsed has little). */
export interface ItemContext {
  readonly id: string | undefined;
  readonly path: string | undefined;
  readonly kind: string;
  /**
   * The part that failed and its source's parts (a chain step: `chain:<name>`); absent for a source
   * file, which is acknowledged as part `transform` (the whole source failed).
   */
  readonly part?: { readonly name: string; readonly expectedParts: readonly string[] };
}

/** One output message: its body (a contract message) and the routing properties besides `schema`. */
export interface Outgoing {
  readonly output: string;
  readonly body: { readonly schema: string; readonly messageId: string };
  readonly properties: Readonly<Record<string, string>>;
}

/**
 * Everything the transformer sends: forwarded outputs (validated against their contract, retried
 * while the edge client reports EDGE_SEND_FAILED), dead letters (completion + alert + one log line)
 * and deferrals (a `deferred` completion).
 */
export class Outputs {
  readonly #edge: EdgeClient;
  readonly #logger: Logger;
  readonly #book: StatusBook;
  readonly #now: () => Date;
  readonly #signal: AbortSignal;

  constructor(deps: { edge: EdgeClient; logger: Logger; book: StatusBook; now: () => Date; signal: AbortSignal }) {
    this.#edge = deps.edge;
    this.#logger = deps.logger;
    this.#book = deps.book;
    this.#now = deps.now;
    this.#signal = deps.signal;
  }

  /**
   * Sends one message, retrying a failed send (4 attempts, 200 ms–2 s backoff) until the module stops.
   * @throws EdgeMLError INTERNAL when the body breaks its contract (a bug here, not the input's fault),
   *   EDGE_SEND_FAILED when every attempt failed, ABORTED when stopping
   */
  send(o: Outgoing): Promise<void> {
    try {
      assertValidMessage(o.body);
    } catch (err: unknown) {
      throw new EdgeMLError('INTERNAL', `outgoing ${o.body.schema} is invalid: ${errorMessage(err)}`, { cause: err });
    }
    const message: OutgoingMessage = { body: o.body, messageId: o.body.messageId, properties: { schema: o.body.schema, ...o.properties } };
    return retry(() => this.#edge.sendOutput(o.output, message), {
      ...SEND_RETRY,
      signal: this.#signal,
      classify: (err) => (errorCode(err) === 'EDGE_SEND_FAILED' ? 'retry' : 'fatal'),
      onRetry: ({ attempt, err }) => this.#logger.debug({ err, attempt, output: o.output }, 'send failed; retrying'),
    });
  }

  /** Sends every message in order (files are written before: no consumer sees half a source). */
  async sendAll(outgoing: readonly Outgoing[]): Promise<void> {
    for (const o of outgoing) await this.send(o);
  }

  /**
   * Dead-letters an item: counts it, logs one `warn` line with the code and reason, sends a
   * completion (part `transform`) when the item names a source, and an alert. Never throws: a
   * completion that cannot be sent leaves the source to the watcher's re-emission.
   */
  async deadLetter(ctx: ItemContext, err: unknown): Promise<void> {
    const code = deadLetterCodeOf(err);
    const reason = errorMessage(err).slice(0, MAX_REASON_CHARS);
    this.#book.deadLettered(ctx.kind, code, reason, ctx.path);
    const fields = { id: ctx.id, path: ctx.path, kind: ctx.kind, code, ...(code === 'INTERNAL' ? { err } : {}) };
    this.#logger.warn(fields, `dead-lettered ${ctx.path ?? 'message'}: ${reason}`);
    if (ctx.id !== undefined) {
      const ref = ctx.part === undefined ? { id: ctx.id, part: 'transform', expectedParts: ['transform'] } : { id: ctx.id, part: ctx.part.name, expectedParts: ctx.part.expectedParts };
      const completion = buildCompletion(this.#edge.moduleId, ref, 'deadLettered', { code, reason }, this.#now());
      try {
        await this.#sendCompletion(completion);
      } catch (sendErr: unknown) {
        this.#book.acknowledgementFailed();
        this.#logger.error({ err: sendErr, id: ctx.id }, `could not send the dead-letter completion; the watcher will re-emit: ${errorMessage(sendErr)}`);
      }
    }
    await sendAlert(
      this.#edge,
      this.#logger,
      {
        severity: code === 'INTERNAL' ? 'error' : 'warning',
        code,
        message: `transformer dead-lettered ${ctx.path ?? 'a message'}: ${reason}`,
        ...(ctx.id === undefined ? {} : { id: ctx.id }),
        details: { path: ctx.path ?? null, kind: ctx.kind },
      },
      this.#now,
    );
  }

  /**
   * Tells the watcher this source was not taken now (outcome `deferred`, code OVERLOADED) so it
   * offers it again after `retryAfterMs` instead of after its completion timeout. Never throws: if
   * this send fails too, the timeout still brings the source back.
   */
  async defer(msg: FileMessage, reason: string, retryAfterMs: number): Promise<void> {
    await this.deferPart({ id: msg.id, part: 'transform', expectedParts: ['transform'] }, 'OVERLOADED', reason, retryAfterMs);
  }

  /**
   * {@link defer} for one part (a chain step that could not run now: OVERLOADED, or FILE_NOT_FOUND
   * when a crop's tensor was already consumed). Never throws.
   */
  async deferPart(ref: PartRef, code: 'OVERLOADED' | 'FILE_NOT_FOUND', reason: string, retryAfterMs: number): Promise<void> {
    const completion = buildCompletion(this.#edge.moduleId, ref, 'deferred', { code, reason, retryAfterMs }, this.#now());
    try {
      await this.#sendCompletion(completion);
    } catch (err: unknown) {
      this.#book.acknowledgementFailed();
      this.#logger.warn({ err, id: ref.id, part: ref.part }, `could not send the deferral; the watcher re-emits after its completion timeout: ${errorMessage(err)}`);
    }
  }

  #sendCompletion(completion: CompletionMessage): Promise<void> {
    // The shared properties (outcome, part, module, code) plus `id`, which every transformer message carries.
    return this.send({ output: OUT.completed, body: completion, properties: { ...completionOutput(completion).properties, id: completion.id } });
  }
}
