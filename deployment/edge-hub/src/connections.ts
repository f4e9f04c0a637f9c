/**
 * Which module is connected on which MQTT connection, and which features its session holds (inputs,
 * methods, twin responses, desired patches: from its subscriptions, persisted so that a hub restart keeps
 * clean=false sessions). Every write to a module goes through `send`: to one connection, never through
 * topic routing (wire notes §7, §9).
 */
import type { Client, PublishPacket } from 'aedes';
import type { Logger } from '@edgeml/shared';
import type { HubMetrics } from './metrics.js';
import type { ModuleIdentity } from './sas.js';
import type { HubStore } from './store.js';
import { subscriptionFeature, type SubscriptionFeature } from './topics.js';

/** The number space of the hub's QoS 0 writes (see `send`). */
const QOS0_BROKER_ID = 'edgeml-hub-direct';

/**
 * Input deliveries go to a connection once it subscribed to its inputs itself: the persisted session
 * says "inputs wanted", but a new process resuming a clean=false session has no listener until its
 * SUBSCRIBE, and the SDK acknowledges a message that arrives before then and drops it (wire notes
 * §11.5). The SDK subscribes again after a dropped connection and after a broker restart, but not after
 * its SAS renewal (every 45 min): DISCONNECT, then CONNECT at once, and no SUBSCRIBE (wire notes §3).
 * So a connection that follows a DISCONNECT of a connection that was taking inputs within this grace
 * resumes at once. A killed process sends no DISCONNECT, and a stopped one is restarted after ≥ 1 s
 * (the supervisor's delay alone), so neither is taken for a renewal.
 */
export const RESUME_GRACE_MS = 500;

export class ModuleConnections {
  readonly #byModule = new Map<string, Client>();
  readonly #identities = new WeakMap<Client, ModuleIdentity>();
  readonly #features = new Map<string, Set<SubscriptionFeature>>();
  /** Connections whose module listens to its inputs now (subscribed on this connection, or resumed). */
  readonly #inputsReady = new WeakSet<Client>();
  /** When each module's last connection ended with a DISCONNECT while it was taking inputs. */
  readonly #lastGracefulClose = new Map<string, number>();
  readonly #now: () => number;
  readonly #store: HubStore;
  readonly #metrics: HubMetrics;
  readonly #logger: Logger;
  readonly #label: (moduleId: string) => string;

  constructor(options: { store: HubStore; moduleIds: readonly string[]; metrics: HubMetrics; logger: Logger; label: (moduleId: string) => string; now: () => number }) {
    this.#store = options.store;
    this.#now = options.now;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#label = options.label;
    for (const m of options.moduleIds) this.#features.set(m, options.store.getFeatures(m));
  }

  /** Remembers who an authenticated connection is (before it is ready). */
  identify(client: Client, identity: ModuleIdentity): void {
    this.#identities.set(client, identity);
  }

  identityOf(client: Client | null): ModuleIdentity | undefined {
    return client === null ? undefined : this.#identities.get(client);
  }

  clientOf(moduleId: string): Client | undefined {
    return this.#byModule.get(moduleId);
  }

  connectedIds(): string[] {
    return [...this.#byModule.keys()].sort();
  }

  /** The connection is ready: it becomes the module's connection (replacing an older one). */
  attach(client: Client): ModuleIdentity | undefined {
    const id = this.#identities.get(client);
    if (id === undefined) return undefined;
    const previous = this.#byModule.get(id.moduleId);
    const closedAtMs = this.#lastGracefulClose.get(id.moduleId);
    this.#lastGracefulClose.delete(id.moduleId);
    if (previous === undefined && closedAtMs !== undefined && this.#now() - closedAtMs <= RESUME_GRACE_MS) this.#inputsReady.add(client);
    this.#byModule.set(id.moduleId, client);
    this.#metrics.connectSuccess.inc({ id: this.#label(id.moduleId) });
    this.#metrics.connectedClients.set(this.#byModule.size);
    this.#logger.info({ moduleId: id.moduleId, replaced: previous !== undefined && previous !== client }, 'module connected');
    return id;
  }

  /**
   * The connection went away (`graceful`: with a DISCONNECT); the module stays connected when a newer
   * connection replaced this one.
   */
  detach(client: Client, graceful: boolean): ModuleIdentity | undefined {
    const id = this.#identities.get(client);
    if (id === undefined) return undefined;
    if (this.#byModule.get(id.moduleId) === client) {
      this.#byModule.delete(id.moduleId);
      if (graceful && this.#inputsReady.has(client)) this.#lastGracefulClose.set(id.moduleId, this.#now());
      else this.#lastGracefulClose.delete(id.moduleId);
    }
    this.#metrics.disconnects.inc({ id: this.#label(id.moduleId) });
    this.#metrics.connectedClients.set(this.#byModule.size);
    this.#logger.info({ moduleId: id.moduleId }, 'module disconnected');
    return id;
  }

  isConnected(moduleId: string): boolean {
    return this.#byModule.has(moduleId);
  }

  /** The module's current connection takes input messages (see {@link RESUME_GRACE_MS}). */
  takesInputs(moduleId: string): boolean {
    const client = this.#byModule.get(moduleId);
    return client !== undefined && this.#inputsReady.has(client);
  }

  hasFeature(moduleId: string, feature: SubscriptionFeature): boolean {
    return this.#features.get(moduleId)?.has(feature) ?? false;
  }

  /** Records the features `filters` enable (or, with `add` false, disable); returns the module's identity. */
  updateFeatures(client: Client, filters: readonly string[], add: boolean): ModuleIdentity | undefined {
    const id = this.#identities.get(client);
    if (id === undefined) return undefined;
    let set = this.#features.get(id.moduleId);
    if (set === undefined) {
      set = new Set();
      this.#features.set(id.moduleId, set);
    }
    const before = set.size;
    for (const f of filters) {
      const feature = subscriptionFeature(id, f);
      if (feature === undefined) continue;
      if (add) set.add(feature);
      else set.delete(feature);
      if (feature === 'inputs') {
        if (add) this.#inputsReady.add(client);
        else this.#inputsReady.delete(client);
      }
    }
    if (set.size !== before) this.#store.putFeatures(id.moduleId, set);
    this.#logger.debug({ moduleId: id.moduleId, topics: filters, add, inputsReady: this.#inputsReady.has(client) }, add ? 'module subscribed' : 'module unsubscribed');
    return id;
  }

  /** Writes one packet to one connection. QoS 0 unless stated; `done` gets the write error, if any. */
  send(client: Client, topic: string, payload: Buffer | string, qos: 0 | 1 = 0, done?: (err?: Error) => void): void {
    const packet = { cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload, qos, retain: false, dup: false } as PublishPacket;
    // aedes drops, silently, any packet to a connection whose number (brokerId, brokerCounter) is not above
    // the last it wrote there ("dedupe"). A QoS 1 packet is checked a microtask later (after its session
    // enqueue), a QoS 0 one at once: an input delivery followed in the same turn by a twin reply or a method
    // request was dropped, and its input waited for the 30 s ack timeout. QoS 0 writes count apart.
    if (qos === 0) Object.assign(packet, { brokerId: QOS0_BROKER_ID });
    client.publish(packet, (err?: Error) => {
      if (err !== undefined && err !== null) this.#logger.debug({ err, topic: topic.slice(0, 120) }, 'write to module failed');
      done?.(err ?? undefined);
    });
  }

  clear(): void {
    this.#byModule.clear();
  }
}
