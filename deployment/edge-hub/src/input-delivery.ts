/**
 * Delivery to module inputs. Each input (`<module>/<input>`) has up to `maxInFlightPerInput` messages
 * sent and not yet acknowledged, in the store's order (priority, then FIFO); each PUBACK removes its
 * message from store-and-forward and lets the next one go. When the oldest is not acknowledged within
 * the ack timeout, everything in flight on that input is sent again in order (so order holds per input
 * even then); expired messages are dropped. A module gets messages only while connected AND listening
 * on that connection (connections.ts): a message that arrives before the SDK's listener exists is acked
 * and lost (wire notes §11.5).
 */
import type { Client } from 'aedes';
import type { ModuleConnections } from './connections.js';
import type { HubCounters } from './counters.js';
import type { ForwardQueue } from './forward-queue.js';
import { InputQueue, type InflightDelivery } from './input-queue.js';
import type { HubMetrics } from './metrics.js';
import { encodeInputBag, inputTopic } from './property-bag.js';
import type { StoredMessage } from './store.js';

export interface InputDeliveryOptions {
  readonly queue: ForwardQueue;
  readonly connections: ModuleConnections;
  readonly metrics: HubMetrics;
  readonly counters: HubCounters;
  readonly deviceId: string;
  readonly label: (moduleId: string) => string;
  readonly now: () => number;
  readonly ackTimeoutMs: number;
  /** Messages sent and not yet acknowledged per input. */
  readonly maxInFlightPerInput: number;
  /** The broker counter the next packet written will carry (aedes numbers packets as it creates them). */
  readonly nextBrokerCounter: () => number | undefined;
  readonly warnOnce: (key: string, fields: Record<string, unknown>, msg: string) => void;
  /** False while the hub stops (nothing new is sent). */
  readonly accepting: () => boolean;
  /** False once the store is closed (acknowledgements are no longer recorded). */
  readonly storeOpen: () => boolean;
}

export class InputDelivery {
  readonly #o: InputDeliveryOptions;
  readonly #inputs = new Map<string, InputQueue>();
  readonly #byCounter = new Map<number, InflightDelivery>();
  readonly #scheduled = new Set<string>();
  readonly #load: (endpoint: string, after: Parameters<ForwardQueue['load']>[2], limit: number) => StoredMessage[];

  constructor(options: InputDeliveryOptions) {
    this.#o = options;
    this.#load = (endpoint, after, limit) => options.queue.load(endpoint, options.now(), after, limit);
  }

  /** Messages just committed to store-and-forward: they join their inputs, which are pumped at once. */
  committed(messages: readonly StoredMessage[]): void {
    const touched = new Set<string>();
    for (const m of messages) {
      this.#input(m.endpoint).add(m);
      touched.add(m.endpoint);
    }
    for (const e of touched) this.pump(e);
  }

  /** Sends the next messages of `endpoint` up to the window, when its module can take them. */
  pump(endpoint: string): void {
    const { connections } = this.#o;
    if (!this.#o.accepting()) return;
    const q = this.#input(endpoint);
    if (q.inflight.length >= this.#o.maxInFlightPerInput) return;
    const client = connections.clientOf(q.moduleId);
    if (client === undefined || !connections.takesInputs(q.moduleId)) return;
    const nowMs = this.#o.now();
    while (q.inflight.length < this.#o.maxInFlightPerInput) {
      const message = q.next(nowMs, this.#load);
      if (message === undefined) return;
      this.#send(q, client, message, nowMs);
    }
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

  /** Schedules every input of `moduleId` that has messages (it connected or subscribed). */
  scheduleModule(moduleId: string): void {
    if (!this.#o.storeOpen()) return;
    const endpoints = new Set([...this.#o.queue.endpoints(), ...this.#inputs.keys()]);
    for (const e of endpoints) if (e.startsWith(`${moduleId}/`)) this.schedule(e);
  }

  /** aedes's `ack` event: the module acknowledged a delivery. */
  onAck(packet: { topic?: string; payload?: Buffer | string; brokerCounter?: number } | undefined, client: Client): void {
    if (packet === undefined || !this.#o.storeOpen()) return;
    const d = this.#find(packet, client);
    if (d === undefined || this.#o.connections.identityOf(client)?.moduleId !== d.queue.moduleId) return;
    this.#forget(d);
    this.#o.queue.remove(d.message);
    this.#o.counters.sent++;
    const m = d.message;
    // Module ids hold no newline; the endpoint's length separates it from the output name, which may.
    this.#o.metrics.sentTally.add(`${m.priority}\n${m.fromModule}\n${d.queue.endpoint.length}\n${d.queue.endpoint}${m.fromOutput}`, () => ({
      from: this.#o.label(m.fromModule),
      to: this.#o.label(d.queue.moduleId),
      from_route_output: m.fromOutput,
      to_route_input: d.queue.inputName,
      priority: String(m.priority),
    }));
    this.pump(d.queue.endpoint);
  }

  /** Drops expired messages; sends again, in order, what an input did not acknowledge in time. */
  sweep(): void {
    if (!this.#o.storeOpen()) return;
    const t = this.#o.now();
    for (const m of this.#o.queue.removeExpired(t)) {
      this.#o.counters.drop('ttl_expiry', this.#o.label(m.fromModule), m.fromOutput);
      const q = this.#inputs.get(m.endpoint);
      if (q === undefined) continue;
      q.drop(m.seq);
      const d = q.inflight.find((x) => x.message.seq === m.seq);
      if (d !== undefined) this.#forget(d);
      this.schedule(m.endpoint);
    }
    for (const q of this.#inputs.values()) {
      const oldest = q.inflight[0];
      if (oldest === undefined || t - oldest.sentAtMs < this.#o.ackTimeoutMs) continue;
      const again = [...q.inflight];
      for (const d of again) this.#forget(d);
      q.putBack(again);
      this.#o.metrics.messagesRedelivered.inc({ to: this.#o.label(q.moduleId), to_route_input: q.inputName }, again.length);
      this.#o.warnOnce(`redeliver:${q.endpoint}`, { endpoint: q.endpoint, seq: oldest.message.seq, inFlight: again.length }, 'input delivery not acknowledged in time; sending again');
      this.schedule(q.endpoint);
    }
  }

  /** The connection went away: what was in flight on it is sent again on the next connection. */
  dropClient(client: Client): void {
    for (const q of this.#inputs.values()) {
      const lost = q.inflight.filter((d) => d.client === client);
      if (lost.length === 0) continue;
      for (const d of lost) this.#forget(d);
      q.putBack(lost);
    }
  }

  clear(): void {
    this.#inputs.clear();
    this.#byCounter.clear();
  }

  #input(endpoint: string): InputQueue {
    let q = this.#inputs.get(endpoint);
    if (q === undefined) {
      q = new InputQueue(endpoint);
      this.#inputs.set(endpoint, q);
    }
    return q;
  }

  #send(q: InputQueue, client: Client, message: StoredMessage, nowMs: number): void {
    const topic = inputTopic(this.#o.deviceId, q.moduleId, q.inputName, encodeInputBag(message.properties, message.systemProperties));
    // client.publish wraps the message in a packet numbered ++broker.counter synchronously; the PUBACK's
    // original packet carries that number back, so a late ack of an earlier copy cannot complete this one.
    const d: InflightDelivery = { message, queue: q, client, topic, sentAtMs: nowMs, brokerCounter: this.#o.nextBrokerCounter() };
    q.inflight.push(d);
    if (d.brokerCounter !== undefined) this.#byCounter.set(d.brokerCounter, d);
    this.#o.connections.send(client, topic, message.body, 1, (err) => {
      if (err === undefined || !q.inflight.includes(d)) return;
      // Not written (the connection is closing): it goes back to wait for the next connection.
      this.#forget(d);
      q.putBack([d]);
    });
  }

  /** The delivery a PUBACK completes: by broker counter, else (a packet stored without one) by topic and body. */
  #find(packet: { topic?: string; payload?: Buffer | string; brokerCounter?: number }, client: Client): InflightDelivery | undefined {
    // A counter that matches nothing is the ack of a copy already given up on (sent again since).
    if (packet.brokerCounter !== undefined) return this.#byCounter.get(packet.brokerCounter);
    for (const q of this.#inputs.values()) {
      const d = q.inflight.find((x) => x.client === client && x.topic === packet.topic && (!Buffer.isBuffer(packet.payload) || packet.payload.equals(x.message.body)));
      if (d !== undefined) return d;
    }
    return undefined;
  }

  #forget(d: InflightDelivery): void {
    const i = d.queue.inflight.indexOf(d);
    if (i >= 0) d.queue.inflight.splice(i, 1);
    if (d.brokerCounter !== undefined && this.#byCounter.get(d.brokerCounter) === d) this.#byCounter.delete(d.brokerCounter);
  }
}
