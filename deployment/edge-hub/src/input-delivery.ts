/**
 * Delivery to module inputs: one in-flight message per input (`<module>/<input>`), the next sent after
 * the PUBACK of the previous one, an unacknowledged one sent again after the ack timeout, expired ones
 * dropped. A module gets messages only while connected AND subscribed to its inputs: a message that
 * arrives before the SDK's listener exists is acked and lost (wire notes §11.5).
 */
import type { Client } from 'aedes';
import type { ModuleConnections } from './connections.js';
import type { HubCounters } from './counters.js';
import type { ForwardQueue } from './forward-queue.js';
import type { HubMetrics } from './metrics.js';
import { encodeInputBag, inputTopic } from './property-bag.js';
import type { StoredMessage } from './store.js';

interface Inflight {
  readonly message: StoredMessage;
  readonly client: Client;
  readonly moduleId: string;
  readonly inputName: string;
  readonly topic: string;
  readonly sentAtMs: number;
  /** aedes's id of the packet written (its broker counter), to match the PUBACK exactly. */
  readonly brokerCounter: number | undefined;
}

export interface InputDeliveryOptions {
  readonly queue: ForwardQueue;
  readonly connections: ModuleConnections;
  readonly metrics: HubMetrics;
  readonly counters: HubCounters;
  readonly deviceId: string;
  readonly label: (moduleId: string) => string;
  readonly now: () => number;
  readonly ackTimeoutMs: number;
  /** The broker counter the next packet written will carry (aedes numbers packets as it creates them). */
  readonly nextBrokerCounter: () => number | undefined;
  readonly warnOnce: (key: string, fields: Record<string, unknown>, msg: string) => void;
  /** False while the hub stops (nothing new is sent). */
  readonly accepting: () => boolean;
  /** False once the store is closed (acknowledgements are no longer recorded). */
  readonly storeOpen: () => boolean;
}

export function splitEndpoint(endpoint: string): { moduleId: string; inputName: string } {
  const slash = endpoint.indexOf('/');
  return { moduleId: endpoint.slice(0, slash), inputName: endpoint.slice(slash + 1) };
}

export class InputDelivery {
  readonly #o: InputDeliveryOptions;
  readonly #inflight = new Map<string, Inflight>();
  readonly #inflightByTopic = new Map<string, string>();
  readonly #scheduled = new Set<string>();

  constructor(options: InputDeliveryOptions) {
    this.#o = options;
  }

  /** Sends the next message of `endpoint` when nothing is in flight there and its module can take it. */
  pump(endpoint: string): void {
    const { connections, queue } = this.#o;
    if (!this.#o.accepting() || this.#inflight.has(endpoint)) return;
    const { moduleId, inputName } = splitEndpoint(endpoint);
    const client = connections.clientOf(moduleId);
    if (client === undefined || !connections.takesInputs(moduleId)) return;
    const message = queue.head(endpoint, this.#o.now());
    if (message === undefined) return;
    const topic = inputTopic(this.#o.deviceId, moduleId, inputName, encodeInputBag(message.properties, message.systemProperties));
    // client.publish wraps the message in a packet numbered ++broker.counter synchronously; the PUBACK's
    // original packet carries that number back, so a late ack of an earlier copy cannot complete this one.
    const record: Inflight = { message, client, moduleId, inputName, topic, sentAtMs: this.#o.now(), brokerCounter: this.#o.nextBrokerCounter() };
    this.#inflight.set(endpoint, record);
    this.#inflightByTopic.set(topic, endpoint);
    connections.send(client, topic, message.body, 1, (err) => {
      if (err !== undefined && this.#inflight.get(endpoint) === record) this.#forget(endpoint, record);
    });
  }

  /** Pumps `endpoint` on the next turn of the event loop (coalesced). */
  schedule(endpoint: string): void {
    if (this.#scheduled.has(endpoint)) return;
    this.#scheduled.add(endpoint);
    setImmediate(() => {
      this.#scheduled.delete(endpoint);
      this.pump(endpoint);
    });
  }

  /** Schedules every queue of `moduleId` (it connected or subscribed). */
  scheduleModule(moduleId: string): void {
    if (!this.#o.storeOpen()) return;
    for (const e of this.#o.queue.endpoints()) if (splitEndpoint(e).moduleId === moduleId) this.schedule(e);
  }

  /** aedes's `ack` event: the module acknowledged a delivery. */
  onAck(packet: { topic?: string; payload?: Buffer | string; brokerCounter?: number } | undefined, client: Client): void {
    if (packet?.topic === undefined || !this.#o.storeOpen()) return;
    const endpoint = this.#inflightByTopic.get(packet.topic);
    if (endpoint === undefined) return;
    const record = this.#inflight.get(endpoint);
    if (record === undefined || this.#o.connections.identityOf(client)?.moduleId !== record.moduleId) return;
    if (record.brokerCounter !== undefined && packet.brokerCounter !== undefined) {
      if (packet.brokerCounter !== record.brokerCounter) return;
    } else if (Buffer.isBuffer(packet.payload) && !packet.payload.equals(record.message.body)) return;
    this.#forget(endpoint, record);
    this.#o.queue.remove(record.message);
    this.#o.counters.sent++;
    this.#o.metrics.messagesSent.inc({
      from: this.#o.label(record.message.fromModule),
      to: this.#o.label(record.moduleId),
      from_route_output: record.message.fromOutput,
      to_route_input: record.inputName,
      priority: String(record.message.priority),
    });
    this.pump(endpoint);
  }

  /** Drops expired messages; sends again what was not acknowledged within the ack timeout. */
  sweep(): void {
    if (!this.#o.storeOpen()) return;
    const t = this.#o.now();
    for (const m of this.#o.queue.removeExpired(t)) {
      this.#o.counters.drop('ttl_expiry', this.#o.label(m.fromModule), m.fromOutput);
      const rec = this.#inflight.get(m.endpoint);
      if (rec !== undefined && rec.message.seq === m.seq) this.#forget(m.endpoint, rec);
      this.schedule(m.endpoint);
    }
    for (const [endpoint, rec] of this.#inflight) {
      if (t - rec.sentAtMs >= this.#o.ackTimeoutMs) {
        this.#forget(endpoint, rec);
        this.#o.metrics.messagesRedelivered.inc({ to: this.#o.label(rec.moduleId), to_route_input: rec.inputName });
        this.#o.warnOnce(`redeliver:${endpoint}`, { endpoint, seq: rec.message.seq }, 'input delivery not acknowledged in time; sending again');
        this.schedule(endpoint);
      }
    }
  }

  /** The connection went away: what was in flight on it will be sent again on the next connection. */
  dropClient(client: Client): void {
    for (const [endpoint, rec] of this.#inflight) if (rec.client === client) this.#forget(endpoint, rec);
  }

  clear(): void {
    this.#inflight.clear();
    this.#inflightByTopic.clear();
  }

  #forget(endpoint: string, record: Inflight): void {
    this.#inflight.delete(endpoint);
    this.#inflightByTopic.delete(record.topic);
  }
}
