/**
 * Module outputs: `sendOutput` publishes QoS 1 on the output's topic. Application properties travel as
 * user properties, the correlation id as Correlation Data, the content type as Content Type, the
 * message id and content encoding as the user properties `$.mid` and `$.ce`.
 */
import { EdgeMLError } from '../../errors.js';
import { MAX_MESSAGE_BYTES } from '../../contracts/validate.js';
import { encodeOutgoing, messageSizeBytes } from '../outgoing.js';
import type { OutgoingMessage } from '../types.js';
import type { Mqtt5Connection, Mqtt5Publication } from '../mqtt5-connection.js';
import { outputTopic, topicMatches, type TopicPlan } from '../topics.js';
import { CONTENT_ENCODING_PROPERTY, MESSAGE_ID_PROPERTY, isReserved } from './properties.js';
import type { EdgeClientState } from './state.js';

/** PUBACK reason 0x10: accepted, but no subscription matched. */
const NO_MATCHING_SUBSCRIBERS = 0x10;

export interface Mqtt5OutputsOptions {
  readonly connection: Mqtt5Connection;
  readonly plan: TopicPlan;
  readonly moduleId: string;
  readonly state: EdgeClientState;
}

export class Mqtt5Outputs {
  readonly #o: Mqtt5OutputsOptions;
  /** The subscription filter of every module input in the plan, this module's or another's. */
  readonly #routedFilters: string[];

  constructor(options: Mqtt5OutputsOptions) {
    this.#o = options;
    this.#routedFilters = Object.values(options.plan.inputs).flatMap((subs) => subs.map((s) => s.filter));
  }

  /** Resolves on PUBACK. @throws EdgeMLError EDGE_SEND_FAILED (not open, reserved property, no receiver subscribed yet), MESSAGE_TOO_LARGE */
  async send(outputName: string, message: OutgoingMessage): Promise<void> {
    const { connection, plan, moduleId, state } = this.#o;
    if (!state.isOpen) throw new EdgeMLError('EDGE_SEND_FAILED', `cannot send on ${outputName}: the edge client is not open`);
    const topic = outputTopic(plan.prefix, moduleId, outputName);
    const { reasonCode } = await connection.publish(toPublication(topic, outputName, message));
    // Unlike edgeHub, a broker keeps nothing for a module input no replica has subscribed yet (its
    // session does not exist before its first connect): fail, so the sender retries or the watcher re-emits.
    if (reasonCode === NO_MATCHING_SUBSCRIBERS && this.#feedsAnInput(topic)) {
      throw new EdgeMLError('EDGE_SEND_FAILED', `no replica of the receiving module has subscribed to ${topic} yet; the message was not kept`, { details: { outputName, reasonCode } });
    }
  }

  #feedsAnInput(topic: string): boolean {
    return this.#routedFilters.some((f) => topicMatches(f, topic));
  }
}

/** @throws EdgeMLError EDGE_SEND_FAILED (a reserved property name), MESSAGE_TOO_LARGE */
function toPublication(topic: string, outputName: string, message: OutgoingMessage): Mqtt5Publication {
  const { body, contentType, contentEncoding, properties: props } = encodeOutgoing(message);
  const reserved = Object.keys(props).filter(isReserved);
  if (reserved.length > 0) throw new EdgeMLError('EDGE_SEND_FAILED', `properties ${reserved.join(', ')} are reserved by the transport and cannot be sent`);
  const user: Record<string, string> = { ...props };
  if (message.messageId !== undefined) user[MESSAGE_ID_PROPERTY] = message.messageId;
  if (contentEncoding !== undefined) user[CONTENT_ENCODING_PROPERTY] = contentEncoding;
  const size = messageSizeBytes(body, { ...user, outputName, correlationId: message.correlationId, contentType });
  if (size > MAX_MESSAGE_BYTES) {
    throw new EdgeMLError('MESSAGE_TOO_LARGE', `message on ${outputName} is ${size} bytes with its properties; the limit is ${MAX_MESSAGE_BYTES}`, {
      details: { outputName, sizeBytes: size, messageId: message.messageId },
    });
  }
  return {
    topic,
    payload: body,
    qos: 1,
    properties: {
      ...(contentType === undefined ? {} : { contentType }),
      ...(message.correlationId === undefined ? {} : { correlationData: Buffer.from(message.correlationId, 'utf8') }),
      ...(contentEncoding?.toLowerCase() === 'utf-8' ? { payloadIsUtf8: true } : {}),
      userProperties: user,
    },
  };
}
