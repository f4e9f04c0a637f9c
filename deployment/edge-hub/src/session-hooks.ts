/**
 * What the hub does with each MQTT event of a module connection: CONNECT authentication, subscription
 * authorisation and session features, and the dispatch of every PUBLISH (output events to the intake,
 * twin requests and method responses to their services, anything else refused).
 */
import type { Client, PublishPacket, Subscription } from 'aedes';
import { authenticateConnect, type ConnectPolicy } from './auth.js';
import type { BrokerHooks } from './broker.js';
import type { ModuleConnections } from './connections.js';
import type { DirectMethods } from './direct-methods.js';
import type { EventIntake } from './event-intake.js';
import type { InputDelivery } from './input-delivery.js';
import type { HubMetrics } from './metrics.js';
import { classifyPublish, subscriptionFeature } from './topics.js';
import type { TwinService } from './twin-service.js';

export interface SessionHookParts {
  readonly policy: ConnectPolicy;
  readonly connections: ModuleConnections;
  readonly intake: EventIntake;
  readonly delivery: InputDelivery;
  readonly twins: TwinService;
  readonly methods: DirectMethods;
  readonly metrics: HubMetrics;
  readonly label: (moduleId: string) => string;
  readonly now: () => number;
  readonly warnOnce: (key: string, fields: Record<string, unknown>, msg: string) => void;
  /** False once the store is closed: publishes are refused. */
  readonly storeOpen: () => boolean;
}

export function createSessionHooks(p: SessionHookParts): BrokerHooks {
  const { connections, metrics } = p;
  return {
    authenticate(client, username, password) {
      const verdict = authenticateConnect(p.policy, client.id, username, password, Math.floor(p.now() / 1000));
      if (verdict.ok) {
        connections.identify(client, verdict.identity);
        return { ok: true };
      }
      metrics.connectFailed.inc({ id: client.id, reason: verdict.reason });
      p.warnOnce(`auth:${client.id}:${verdict.reason}`, { clientId: client.id, reason: verdict.reason }, 'CONNECT refused');
      return verdict;
    },

    authorizeSubscribe(client, topic) {
      const id = connections.identityOf(client);
      if (id !== undefined && subscriptionFeature(id, topic) !== undefined) return true;
      metrics.refusedPublishes.inc({ id: client.id, reason: 'subscribe_refused' });
      p.warnOnce(`sub:${client.id}:${topic}`, { clientId: client.id, topic }, 'SUBSCRIBE refused: not one of the module own topics');
      return false;
    },

    publish(client: Client | null, packet: PublishPacket, done) {
      const id = connections.identityOf(client);
      if (client === null || id === undefined) return done(new Error('not authenticated'));
      if (!p.storeOpen()) return done(new Error('edge hub stopping'));
      packet.retain = false;
      const kind = classifyPublish(id, packet.topic);
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      switch (kind.kind) {
        case 'event':
          // PUBACK once persisted (group commit) and journaled: see event-intake.ts.
          return p.intake.handle(id, kind.bag, payload, done);
        case 'twinGet':
          p.twins.handleGet(client, id, kind.rid);
          return done(null);
        case 'twinReported':
          p.twins.handleReported(client, id, kind.rid, payload);
          return done(null);
        case 'methodResponse':
          p.methods.handleResponse(id, kind.status, kind.rid, payload);
          return done(null);
        case 'refused':
          metrics.refusedPublishes.inc({ id: p.label(id.moduleId), reason: 'unauthorized_topic' });
          p.warnOnce(`pub:${id.moduleId}:${kind.reason}`, { moduleId: id.moduleId, topic: packet.topic.slice(0, 200), reason: kind.reason }, 'PUBLISH refused; closing the connection');
          return done(new Error(kind.reason));
      }
    },

    clientReady(client) {
      const id = connections.attach(client);
      if (id === undefined) return;
      p.twins.catchUp(client, id.moduleId);
      p.delivery.scheduleModule(id.moduleId);
    },

    clientDisconnect(client, graceful) {
      const id = connections.detach(client, graceful);
      if (id === undefined) return;
      p.delivery.dropClient(client);
      if (connections.isConnected(id.moduleId)) p.delivery.scheduleModule(id.moduleId);
    },

    subscribe(subs: Subscription[], client) {
      const id = connections.updateFeatures(
        client,
        subs.map((s) => s.topic),
        true,
      );
      if (id === undefined) return;
      // A desired patch made between the module's twin GET and this SUBSCRIBE was not pushed (no
      // subscription yet): send the difference from the document the GET returned.
      if (subs.some((s) => subscriptionFeature(id, s.topic) === 'desired')) p.twins.catchUp(client, id.moduleId);
      if (connections.takesInputs(id.moduleId)) p.delivery.scheduleModule(id.moduleId);
    },

    unsubscribe(topics, client) {
      connections.updateFeatures(client, topics, false);
    },

    ack(packet, client) {
      p.delivery.onAck(packet, client);
    },
  };
}
