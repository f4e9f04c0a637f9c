/**
 * Direct methods as MQTT 5 requests: the caller sets Response Topic and Correlation Data; the answer
 * goes there with the correlation data echoed, the status in user property `__stat` (the Azure IoT
 * Operations SDK convention) and this replica's client id in `__srcId`. A method is asked of any one
 * replica (a shared subscription) or of this one by its client id.
 */
import { errorCode, errorMessage } from '../../errors.js';
import type { createRepeatLimiter, Logger } from '../../logging.js';
import type { MethodHandler, MethodResponse } from '../types.js';
import type { Mqtt5Connection, Mqtt5Received } from '../mqtt5-connection.js';
import { instanceMethodTopic, methodTopic } from '../topics.js';
import { SOURCE_ID_PROPERTY, STATUS_PROPERTY } from './properties.js';
import type { EdgeClientState } from './state.js';

export interface Mqtt5MethodsOptions {
  readonly connection: Mqtt5Connection;
  readonly logger: Logger;
  /** The edge client's repeat limiter (one for all its warnings). */
  readonly shouldLog: ReturnType<typeof createRepeatLimiter>;
  readonly prefix: string;
  readonly moduleId: string;
  readonly state: EdgeClientState;
}

export class Mqtt5Methods {
  readonly #o: Mqtt5MethodsOptions;
  readonly #handlers = new Map<string, MethodHandler>();
  readonly #sharedPrefix: string;
  readonly #instancePrefix: string;
  readonly #sharedSubscription: string;

  constructor(options: Mqtt5MethodsOptions) {
    this.#o = options;
    const { prefix, moduleId, connection } = options;
    this.#sharedPrefix = methodTopic(prefix, moduleId, '');
    this.#instancePrefix = instanceMethodTopic(prefix, moduleId, connection.clientId, '');
    this.#sharedSubscription = `$share/${moduleId}-methods/${this.#sharedPrefix}+`;
  }

  register(methodName: string, handler: MethodHandler): void {
    this.#handlers.set(methodName, handler);
  }

  /** On open: the shared method subscription (a share this replica takes) and this replica's own. */
  async subscribe(): Promise<void> {
    await this.#o.connection.subscribe([this.#sharedSubscription, `${this.#instancePrefix}+`]);
    this.#o.state.shares.add(this.#sharedSubscription);
  }

  /** The method a received topic asks for, if it is a method request. */
  methodFor(topic: string): string | undefined {
    for (const prefix of [this.#instancePrefix, this.#sharedPrefix]) {
      if (topic.startsWith(prefix)) return topic.slice(prefix.length);
    }
    return undefined;
  }

  /** Runs the method and publishes its answer to the request's response topic; never throws. */
  async answer(name: string, m: Mqtt5Received): Promise<void> {
    const { connection, logger, shouldLog } = this.#o;
    const replyTo = m.properties.responseTopic;
    if (replyTo === undefined) {
      const r = shouldLog('method-no-response-topic');
      if (r.log) logger.warn({ method: name, suppressed: r.suppressed }, 'method request without a response topic ignored');
      return;
    }
    const answer = await this.#run(name, m.payload);
    try {
      await connection.publish({
        topic: replyTo,
        payload: Buffer.from(JSON.stringify(answer.payload ?? null), 'utf8'),
        qos: 1,
        properties: {
          contentType: 'application/json',
          payloadIsUtf8: true,
          ...(m.properties.correlationData === undefined ? {} : { correlationData: m.properties.correlationData }),
          userProperties: { [STATUS_PROPERTY]: String(answer.status), [SOURCE_ID_PROPERTY]: connection.clientId },
        },
      });
    } catch (err: unknown) {
      logger.warn({ err, method: name }, `method response could not be sent: ${errorMessage(err)}`);
    }
  }

  /** 400 for a payload that is not JSON, 404 for an unknown method, 500 when the handler throws. */
  async #run(name: string, raw: Buffer): Promise<MethodResponse> {
    let payload: unknown = null;
    if (raw.length > 0) {
      try {
        payload = JSON.parse(raw.toString('utf8'));
      } catch (err: unknown) {
        return { status: 400, payload: { code: 'METHOD_PAYLOAD_INVALID', problems: [`payload is not JSON: ${errorMessage(err)}`] } };
      }
    }
    const handler = this.#handlers.get(name);
    if (handler === undefined) return { status: 404, payload: { code: 'METHOD_NOT_FOUND', message: `method ${name} is not registered` } };
    try {
      return await handler(payload);
    } catch (err: unknown) {
      this.#o.logger.error({ err, method: name }, `direct method handler threw: ${errorMessage(err)}`);
      return { status: 500, payload: { code: errorCode(err), message: errorMessage(err) } };
    }
  }
}
