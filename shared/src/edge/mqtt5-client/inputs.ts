/**
 * Module inputs: each is a shared subscription per route that feeds it (topics.ts), so N replicas of a
 * module each get a share. A received message becomes an {@link IncomingMessage}: user properties are
 * its application properties, Correlation Data its correlation id, Content Type its content type, and
 * the user properties `$.mid` and `$.ce` its message id and content encoding.
 */
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type { IncomingMessage, InputHandler } from '../types.js';
import type { Mqtt5Connection, Mqtt5Received } from '../mqtt5-connection.js';
import { inputForTopic, type InputSubscription } from '../topics.js';
import { CONTENT_ENCODING_PROPERTY, MESSAGE_ID_PROPERTY, isReserved } from './properties.js';
import type { EdgeClientState } from './state.js';

export interface Mqtt5InputsOptions {
  readonly connection: Mqtt5Connection;
  readonly logger: Logger;
  /** This module's input subscriptions in the topic plan. */
  readonly subscriptions: readonly InputSubscription[];
  readonly state: EdgeClientState;
}

function toIncomingMessage(input: string, m: Mqtt5Received): IncomingMessage {
  const user = m.properties.userProperties ?? {};
  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries(user)) if (!isReserved(k)) properties[k] = v;
  const messageId = user[MESSAGE_ID_PROPERTY];
  const contentEncoding = user[CONTENT_ENCODING_PROPERTY];
  return {
    inputName: input,
    body: m.payload,
    properties,
    ...(messageId === undefined ? {} : { messageId }),
    ...(m.properties.correlationData === undefined ? {} : { correlationId: m.properties.correlationData.toString('utf8') }),
    ...(m.properties.contentType === undefined ? {} : { contentType: m.properties.contentType }),
    ...(contentEncoding === undefined ? {} : { contentEncoding }),
  };
}

export class Mqtt5Inputs {
  readonly #o: Mqtt5InputsOptions;
  readonly #handlers = new Map<string, InputHandler>();
  /** Messages held for an input whose handler is not registered yet, waiting to be woken. */
  readonly #waitingForHandler = new Map<string, (() => void)[]>();

  constructor(options: Mqtt5InputsOptions) {
    this.#o = options;
  }

  /** onInput: the first handler of an input registered while open subscribes it at once. */
  register(inputName: string, handler: InputHandler): void {
    const first = !this.#handlers.has(inputName);
    this.#handlers.set(inputName, handler);
    for (const wake of this.#waitingForHandler.get(inputName) ?? []) wake();
    this.#waitingForHandler.delete(inputName);
    if (first && this.#o.state.isOpen) {
      this.#subscribe(inputName).catch((err: unknown) => this.#o.logger.error({ err, input: inputName }, `input subscription failed: ${errorMessage(err)}`));
    }
  }

  /** On open: subscribes every input registered so far, one after the other (including any registered meanwhile). */
  async subscribeRegistered(): Promise<void> {
    for (const name of this.#handlers.keys()) await this.#subscribe(name);
  }

  /** The input a received topic feeds, if any. */
  inputFor(topic: string): string | undefined {
    return inputForTopic(this.#o.subscriptions, topic);
  }

  /** Hands the message to the input's handler; resolves when the handler has finished (then it is acknowledged). */
  async deliver(input: string, m: Mqtt5Received): Promise<void> {
    // A persistent session delivers as soon as we connect, before the app registers its handlers:
    // hold the message (unacknowledged, so the broker's receive maximum applies back-pressure).
    const signal = this.#o.state.signal;
    while (!this.#handlers.has(input)) {
      if (signal.aborted) return;
      await new Promise<void>((resolve) => {
        const list = this.#waitingForHandler.get(input) ?? [];
        list.push(resolve);
        this.#waitingForHandler.set(input, list);
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    const message = toIncomingMessage(input, m);
    await this.#handlers.get(input)?.(message);
  }

  async #subscribe(name: string): Promise<void> {
    const { connection, logger, subscriptions, state } = this.#o;
    const filters = subscriptions.filter((s) => s.input === name).map((s) => s.subscription);
    if (filters.length === 0) {
      logger.warn({ input: name }, `no route feeds input ${name}; it will receive nothing`);
      return;
    }
    await connection.subscribe(filters);
    for (const f of filters) state.shares.add(f);
    logger.info({ input: name, subscriptions: filters }, 'input subscribed');
  }
}
