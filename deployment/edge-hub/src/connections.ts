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

export class ModuleConnections {
  readonly #byModule = new Map<string, Client>();
  readonly #identities = new WeakMap<Client, ModuleIdentity>();
  readonly #features = new Map<string, Set<SubscriptionFeature>>();
  /**
   * Connections that subscribed to their inputs themselves. The persisted features say what the session
   * wants, but a new process resuming a clean=false session has no listener until its SUBSCRIBE: the SDK
   * acks a message that arrives before then and drops it (wire notes §11.5). The SDK subscribes again
   * after every reconnect it makes (azure-iot-device re-enables input messages on a disconnect), so
   * waiting for that SUBSCRIBE never stalls a living module.
   */
  readonly #inputsSubscribed = new WeakSet<Client>();
  readonly #store: HubStore;
  readonly #metrics: HubMetrics;
  readonly #logger: Logger;
  readonly #label: (moduleId: string) => string;

  constructor(options: { store: HubStore; moduleIds: readonly string[]; metrics: HubMetrics; logger: Logger; label: (moduleId: string) => string }) {
    this.#store = options.store;
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
    this.#byModule.set(id.moduleId, client);
    this.#metrics.connectSuccess.inc({ id: this.#label(id.moduleId) });
    this.#metrics.connectedClients.set(this.#byModule.size);
    this.#logger.info({ moduleId: id.moduleId, replaced: previous !== undefined && previous !== client }, 'module connected');
    return id;
  }

  /** The connection went away; the module stays connected when a newer connection replaced this one. */
  detach(client: Client): ModuleIdentity | undefined {
    const id = this.#identities.get(client);
    if (id === undefined) return undefined;
    if (this.#byModule.get(id.moduleId) === client) this.#byModule.delete(id.moduleId);
    this.#metrics.disconnects.inc({ id: this.#label(id.moduleId) });
    this.#metrics.connectedClients.set(this.#byModule.size);
    this.#logger.info({ moduleId: id.moduleId }, 'module disconnected');
    return id;
  }

  isConnected(moduleId: string): boolean {
    return this.#byModule.has(moduleId);
  }

  hasFeature(moduleId: string, feature: SubscriptionFeature): boolean {
    return this.#features.get(moduleId)?.has(feature) ?? false;
  }

  /** The module's current connection can take input messages: it subscribed to them on this connection. */
  takesInputs(moduleId: string): boolean {
    const client = this.#byModule.get(moduleId);
    return client !== undefined && this.#inputsSubscribed.has(client);
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
        if (add) this.#inputsSubscribed.add(client);
        else this.#inputsSubscribed.delete(client);
      }
    }
    if (set.size !== before) this.#store.putFeatures(id.moduleId, set);
    return id;
  }

  /** Writes one packet to one connection. QoS 0 unless stated; `done` gets the write error, if any. */
  send(client: Client, topic: string, payload: Buffer | string, qos: 0 | 1 = 0, done?: (err?: Error) => void): void {
    const packet = { cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload, qos, retain: false, dup: false } as PublishPacket;
    client.publish(packet, (err?: Error) => {
      if (err !== undefined && err !== null) this.#logger.debug({ err, topic: topic.slice(0, 120) }, 'write to module failed');
      done?.(err ?? undefined);
    });
  }

  clear(): void {
    this.#byModule.clear();
  }
}
