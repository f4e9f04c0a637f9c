/**
 * The {@link EdgeClient} over an MQTT 5 broker (Azure IoT Operations, or Mosquitto locally), for
 * modules running without edgeHub. The module sees the same interface as on IoT Edge:
 *
 * - outputs and inputs follow the topic plan derived from the manifest's routes (topics.ts); inputs
 *   are shared subscriptions, so N replicas of a module each get a share of the messages;
 * - application properties travel as MQTT 5 user properties; the content type and the correlation id
 *   in their own MQTT 5 fields (Content Type, Correlation Data); the message id and content encoding,
 *   which MQTT 5 has no field for, as the user properties `$.mid` and `$.ce` (edgeHub's names);
 * - a direct method is an MQTT 5 request: the caller sets Response Topic and Correlation Data, the
 *   answer goes there with the status in user property `__stat` (the Azure IoT Operations SDK
 *   convention) and the correlation data echoed;
 * - desired properties come from a mounted configuration file (config-file-source.ts) and go through
 *   the same binder as a twin; reported properties are merged here and published, retained, on the
 *   replica's status topic.
 */
import { EdgeMLError, errorCode, errorMessage } from '../errors.js';
import { createRepeatLimiter, type Logger } from '../logging.js';
import { MAX_MESSAGE_BYTES } from '../contracts/validate.js';
import { mergePatch } from '../config/binder.js';
import { encodeOutgoing, messageSizeBytes } from './outgoing.js';
import { reportedPatchProblems } from './types.js';
import type { ConnectionListener, DesiredUpdate, EdgeClient, IncomingMessage, InputHandler, MethodHandler, MethodResponse, OutgoingMessage } from './types.js';
import type { ConfigFileSource } from './config-file-source.js';
import type { Mqtt5Connection, Mqtt5Received } from './mqtt5-connection.js';
import { inputForTopic, instanceMethodTopic, methodTopic, outputTopic, statusTopic, topicMatches, type TopicPlan } from './topics.js';

/** User properties that carry what MQTT 5 has no field for; refused as application property names. */
export const MESSAGE_ID_PROPERTY = '$.mid';
export const CONTENT_ENCODING_PROPERTY = '$.ce';
/** Method response status (Azure IoT Operations SDK convention) and the sender's client id. */
export const STATUS_PROPERTY = '__stat';
export const SOURCE_ID_PROPERTY = '__srcId';

/** PUBACK reason 0x10: accepted, but no subscription matched. */
const NO_MATCHING_SUBSCRIBERS = 0x10;

export interface Mqtt5EdgeClientOptions {
  readonly connection: Mqtt5Connection;
  readonly deviceId: string;
  readonly moduleId: string;
  readonly plan: TopicPlan;
  /** Where desired properties come from; without one the module runs on its defaults (an empty document). */
  readonly desired?: ConfigFileSource;
  readonly logger: Logger;
}

function isReserved(name: string): boolean {
  return name.startsWith('$.') || name.startsWith('__');
}

export function createMqtt5EdgeClient(options: Mqtt5EdgeClientOptions): EdgeClient {
  const { connection, logger, plan } = options;
  const moduleId = options.moduleId;
  const clientId = connection.clientId;
  const subscriptions = plan.inputs[moduleId] ?? [];
  const inputs = new Map<string, InputHandler>();
  const waitingForHandler = new Map<string, (() => void)[]>();
  const methods = new Map<string, MethodHandler>();
  const desiredListeners: ((u: DesiredUpdate) => void)[] = [];
  const connectionListeners: ConnectionListener[] = [];
  const shouldLog = createRepeatLimiter();
  const sharedMethodPrefix = methodTopic(plan.prefix, moduleId, '');
  const instanceMethodPrefix = instanceMethodTopic(plan.prefix, moduleId, clientId, '');
  const myStatusTopic = statusTopic(plan.prefix, moduleId, clientId);
  const routedFilters = Object.values(plan.inputs).flatMap((subs) => subs.map((s) => s.filter));
  const feedsAnInput = (topic: string): boolean => routedFilters.some((f) => topicMatches(f, topic));
  let reported: Record<string, unknown> = {};
  let reportChain: Promise<void> = Promise.resolve();
  let opened = false;
  let closing: Promise<void> | undefined;
  const lifetime = new AbortController();

  const sharedMethodSubscription = `$share/${moduleId}-methods/${sharedMethodPrefix}+`;
  // What this replica takes a share of; left on a clean stop (see close()).
  const shared = new Set<string>();

  const subscribeInput = async (name: string): Promise<void> => {
    const filters = subscriptions.filter((s) => s.input === name).map((s) => s.subscription);
    if (filters.length === 0) {
      logger.warn({ input: name }, `no route feeds input ${name}; it will receive nothing`);
      return;
    }
    await connection.subscribe(filters);
    for (const f of filters) shared.add(f);
    logger.info({ input: name, subscriptions: filters }, 'input subscribed');
  };

  const deliverInput = async (input: string, m: Mqtt5Received): Promise<void> => {
    // A persistent session delivers as soon as we connect, before the app registers its handlers:
    // hold the message (unacknowledged, so the broker's receive maximum applies back-pressure).
    while (!inputs.has(input)) {
      if (lifetime.signal.aborted) return;
      await new Promise<void>((resolve) => {
        const list = waitingForHandler.get(input) ?? [];
        list.push(resolve);
        waitingForHandler.set(input, list);
        lifetime.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    const user = m.properties.userProperties ?? {};
    const properties: Record<string, string> = {};
    for (const [k, v] of Object.entries(user)) if (!isReserved(k)) properties[k] = v;
    const messageId = user[MESSAGE_ID_PROPERTY];
    const contentEncoding = user[CONTENT_ENCODING_PROPERTY];
    const message: IncomingMessage = {
      inputName: input,
      body: m.payload,
      properties,
      ...(messageId === undefined ? {} : { messageId }),
      ...(m.properties.correlationData === undefined ? {} : { correlationId: m.properties.correlationData.toString('utf8') }),
      ...(m.properties.contentType === undefined ? {} : { contentType: m.properties.contentType }),
      ...(contentEncoding === undefined ? {} : { contentEncoding }),
    };
    await inputs.get(input)?.(message);
  };

  const runMethod = async (name: string, raw: Buffer): Promise<MethodResponse> => {
    let payload: unknown = null;
    if (raw.length > 0) {
      try {
        payload = JSON.parse(raw.toString('utf8'));
      } catch (err: unknown) {
        return { status: 400, payload: { code: 'METHOD_PAYLOAD_INVALID', problems: [`payload is not JSON: ${errorMessage(err)}`] } };
      }
    }
    const handler = methods.get(name);
    if (handler === undefined) return { status: 404, payload: { code: 'METHOD_NOT_FOUND', message: `method ${name} is not registered` } };
    try {
      return await handler(payload);
    } catch (err: unknown) {
      logger.error({ err, method: name }, `direct method handler threw: ${errorMessage(err)}`);
      return { status: 500, payload: { code: errorCode(err), message: errorMessage(err) } };
    }
  };

  const answerMethod = async (name: string, m: Mqtt5Received): Promise<void> => {
    const replyTo = m.properties.responseTopic;
    if (replyTo === undefined) {
      const r = shouldLog('method-no-response-topic');
      if (r.log) logger.warn({ method: name, suppressed: r.suppressed }, 'method request without a response topic ignored');
      return;
    }
    const answer = await runMethod(name, m.payload);
    try {
      await connection.publish({
        topic: replyTo,
        payload: Buffer.from(JSON.stringify(answer.payload ?? null), 'utf8'),
        qos: 1,
        properties: {
          contentType: 'application/json',
          payloadIsUtf8: true,
          ...(m.properties.correlationData === undefined ? {} : { correlationData: m.properties.correlationData }),
          userProperties: { [STATUS_PROPERTY]: String(answer.status), [SOURCE_ID_PROPERTY]: clientId },
        },
      });
    } catch (err: unknown) {
      logger.warn({ err, method: name }, `method response could not be sent: ${errorMessage(err)}`);
    }
  };

  connection.onMessage(async (m) => {
    for (const prefix of [instanceMethodPrefix, sharedMethodPrefix]) {
      if (m.topic.startsWith(prefix)) return answerMethod(m.topic.slice(prefix.length), m);
    }
    const input = inputForTopic(subscriptions, m.topic);
    if (input === undefined) {
      // A subscription left in the persistent session by an older topic plan.
      const r = shouldLog(`unrouted:${m.topic}`);
      if (r.log) logger.warn({ topic: m.topic, suppressed: r.suppressed }, 'message on a topic no input of this module is routed from; dropped');
      return;
    }
    return deliverInput(input, m);
  });

  connection.onConnectionChange((s) => {
    if (!opened) return;
    for (const l of connectionListeners) l(s.connected ? { connected: true } : { connected: false, ...(s.reason === undefined ? {} : { reason: s.reason }) });
    // The broker may have lost retained messages (Azure IoT Operations keeps them in memory by default).
    if (s.connected) void publishReported();
  });

  const publishReported = (): Promise<void> => {
    const snapshot = Buffer.from(JSON.stringify(reported), 'utf8');
    const next = reportChain.then(async () => {
      await connection.publish({ topic: myStatusTopic, payload: snapshot, qos: 1, retain: true, properties: { contentType: 'application/json', payloadIsUtf8: true, userProperties: { [SOURCE_ID_PROPERTY]: clientId } } });
    });
    reportChain = next.catch(() => undefined);
    return next;
  };

  const emitDesired = (u: DesiredUpdate): void => {
    for (const l of desiredListeners) l(u);
  };

  const edge: EdgeClient = {
    deviceId: options.deviceId,
    moduleId,

    async open(signal?: AbortSignal): Promise<void> {
      if (closing !== undefined) throw new EdgeMLError('EDGE_CONNECT_FAILED', 'edge client is closed');
      if (opened) return;
      const started = Date.now();
      await connection.connect(signal === undefined ? lifetime.signal : AbortSignal.any([signal, lifetime.signal]));
      await connection.subscribe([sharedMethodSubscription, `${instanceMethodPrefix}+`]);
      shared.add(sharedMethodSubscription);
      for (const name of inputs.keys()) await subscribeInput(name);
      opened = true;
      for (const l of connectionListeners) l({ connected: true });
      if (options.desired === undefined) emitDesired({ kind: 'full', properties: { $version: 1 } });
      else await options.desired.start(emitDesired);
      logger.info({ elapsedMs: Date.now() - started, clientId, statusTopic: myStatusTopic }, 'connected to the MQTT broker');
    },

    close(): Promise<void> {
      closing ??= (async () => {
        lifetime.abort();
        options.desired?.close();
        const wasOpen = opened;
        opened = false;
        // A broker keeps handing a share of new messages to an offline persistent session (Mosquitto
        // does, measured), where they wait until that replica returns. A replica that stops cleanly
        // (scale-down, rolling update) therefore leaves its shares first; what was already queued for
        // it stays in its session for its return, and the watcher re-emits anything that never comes.
        if (wasOpen) await connection.unsubscribe([...shared]);
        await connection.close();
        if (wasOpen) for (const l of connectionListeners) l({ connected: false, reason: 'closed' });
      })();
      return closing;
    },

    onInput(inputName: string, handler: InputHandler): void {
      const first = !inputs.has(inputName);
      inputs.set(inputName, handler);
      for (const wake of waitingForHandler.get(inputName) ?? []) wake();
      waitingForHandler.delete(inputName);
      if (first && opened) {
        subscribeInput(inputName).catch((err: unknown) => logger.error({ err, input: inputName }, `input subscription failed: ${errorMessage(err)}`));
      }
    },

    async sendOutput(outputName: string, message: OutgoingMessage): Promise<void> {
      if (!opened) throw new EdgeMLError('EDGE_SEND_FAILED', `cannot send on ${outputName}: the edge client is not open`);
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
      const topic = outputTopic(plan.prefix, moduleId, outputName);
      const { reasonCode } = await connection.publish({
        topic,
        payload: body,
        qos: 1,
        properties: {
          ...(contentType === undefined ? {} : { contentType }),
          ...(message.correlationId === undefined ? {} : { correlationData: Buffer.from(message.correlationId, 'utf8') }),
          ...(contentEncoding?.toLowerCase() === 'utf-8' ? { payloadIsUtf8: true } : {}),
          userProperties: user,
        },
      });
      // Unlike edgeHub, a broker keeps nothing for a module input no replica has subscribed yet (its
      // session does not exist before its first connect): fail, so the sender retries or the watcher re-emits.
      if (reasonCode === NO_MATCHING_SUBSCRIBERS && feedsAnInput(topic)) {
        throw new EdgeMLError('EDGE_SEND_FAILED', `no replica of the receiving module has subscribed to ${topic} yet; the message was not kept`, { details: { outputName, reasonCode } });
      }
    },

    onMethod(methodName: string, handler: MethodHandler): void {
      methods.set(methodName, handler);
    },

    onDesired(listener: (update: DesiredUpdate) => void): void {
      desiredListeners.push(listener);
    },

    async updateReported(patch: Readonly<Record<string, unknown>>): Promise<void> {
      const problems = reportedPatchProblems(patch);
      if (problems.length > 0) throw new EdgeMLError('MESSAGE_TOO_LARGE', `reported patch refused: ${problems.join('; ')}`, { details: { problems } });
      if (!opened) throw new EdgeMLError('TWIN_UPDATE_FAILED', 'cannot update reported properties: the edge client is not open');
      reported = mergePatch(reported, structuredClone(patch) as Record<string, unknown>);
      try {
        await publishReported();
      } catch (err: unknown) {
        throw new EdgeMLError('TWIN_UPDATE_FAILED', `status could not be published: ${errorMessage(err)}`, { cause: err });
      }
    },

    onConnectionChange(listener: ConnectionListener): void {
      connectionListeners.push(listener);
    },
  };
  return edge;
}
