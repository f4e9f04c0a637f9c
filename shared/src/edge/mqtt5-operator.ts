/**
 * The operator's side of the MQTT 5 transport: invoke a module's method (an MQTT 5 request with a
 * response topic and correlation data) and read the replicas' retained status. Used by the
 * `edgeml-mqtt` command and by tests; it speaks the same topic scheme as mqtt5-client.ts.
 */
import { randomBytes } from 'node:crypto';
import { EdgeMLError } from '../errors.js';
import type { MethodResponse } from './types.js';
import type { Mqtt5Connection, Mqtt5Received } from './mqtt5-connection.js';
import { STATUS_PROPERTY, SOURCE_ID_PROPERTY } from './mqtt5-client.js';
import { instanceMethodTopic, methodTopic, responseTopic, statusTopic, topicMatches } from './topics.js';

export interface MethodAnswer extends MethodResponse {
  /** Client id of the replica that answered. */
  readonly answeredBy: string | undefined;
}

export interface Mqtt5Operator {
  /**
   * Invokes `method` on one replica of `module` (any one, or `instance` by its client id).
   * @throws EdgeMLError TIMEOUT when no answer arrives within `timeoutMs` (default 30 000).
   */
  invoke(module: string, method: string, payload: unknown, options?: { instance?: string; timeoutMs?: number }): Promise<MethodAnswer>;
  /** The retained status of every replica of `module`, by client id; waits `settleMs` (default 500) for retained messages. */
  readStatus(module: string, settleMs?: number): Promise<Record<string, unknown>>;
}

/** JSON when it parses, else the text (a non-JSON answer is shown as it came). */
function parseBody(payload: Buffer): unknown {
  if (payload.length === 0) return null;
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return payload.toString('utf8');
  }
}

export function createMqtt5Operator(connection: Mqtt5Connection, prefix: string): Mqtt5Operator {
  const pending = new Map<string, (m: Mqtt5Received) => void>();
  const statusSinks: { filter: string; sink: (m: Mqtt5Received) => void }[] = [];
  const subscribed = new Set<string>();

  connection.onMessage((m) => {
    const key = m.properties.correlationData?.toString('hex');
    const waiter = key === undefined ? undefined : pending.get(key);
    if (waiter !== undefined) waiter(m);
    for (const s of statusSinks) if (topicMatches(s.filter, m.topic)) s.sink(m);
    return Promise.resolve();
  });

  const ensureSubscribed = async (filter: string): Promise<void> => {
    if (subscribed.has(filter)) return;
    await connection.subscribe([filter]);
    subscribed.add(filter);
  };

  return {
    async invoke(module, method, payload, options = {}) {
      const replyTo = responseTopic(connection.clientId, module, method);
      await ensureSubscribed(replyTo);
      const correlation = randomBytes(16);
      const key = correlation.toString('hex');
      const timeoutMs = options.timeoutMs ?? 30_000;
      const answer = new Promise<Mqtt5Received>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(key);
          reject(new EdgeMLError('TIMEOUT', `${module}.${method}: no answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(key, (m) => {
          clearTimeout(timer);
          pending.delete(key);
          resolve(m);
        });
      });
      const topic = options.instance === undefined ? methodTopic(prefix, module, method) : instanceMethodTopic(prefix, module, options.instance, method);
      await connection.publish({
        topic,
        payload: Buffer.from(JSON.stringify(payload ?? null), 'utf8'),
        qos: 1,
        properties: { responseTopic: replyTo, correlationData: correlation, contentType: 'application/json', payloadIsUtf8: true, messageExpirySeconds: Math.ceil(timeoutMs / 1000) },
      });
      const m = await answer;
      const status = Number(m.properties.userProperties?.[STATUS_PROPERTY] ?? 500);
      return { status, payload: parseBody(m.payload), answeredBy: m.properties.userProperties?.[SOURCE_ID_PROPERTY] };
    },

    async readStatus(module, settleMs = 500) {
      const filter = statusTopic(prefix, module, '+');
      const out: Record<string, unknown> = {};
      const sink = (m: Mqtt5Received): void => {
        out[m.topic.slice(filter.length - 1)] = parseBody(m.payload);
      };
      statusSinks.push({ filter, sink });
      try {
        // Retained messages come with a new subscription: subscribe, collect, unsubscribe (mqtt.js
        // would not send a SUBSCRIBE again for a filter it holds).
        await connection.subscribe([filter]);
        await new Promise((r) => setTimeout(r, settleMs));
      } finally {
        statusSinks.splice(statusSinks.findIndex((s) => s.sink === sink), 1);
        await connection.unsubscribe([filter]);
      }
      return out;
    },
  };
}
