/**
 * The MQTT side: an aedes broker on a TLS server (`noDelay`, wire notes §9). aedes handles the protocol
 * and clean=false sessions; every decision is the hooks' (session-hooks.ts). Nothing a module publishes
 * is fanned out: only the hub's own writes (`client.publish`, which carry no clientId) reach a connection.
 */
import type { Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket, type Subscription } from 'aedes';
import type { Logger } from '@edgeml/shared';
import type { TlsMaterial } from './certs.js';

export interface BrokerHooks {
  /** Decides a CONNECT; a refusal answers CONNACK 5 (not authorized) with `reason` logged. */
  authenticate(client: Client, username: string | undefined, password: Buffer | undefined): { ok: true } | { ok: false; reason: string };
  /** Whether the connection may hold this subscription (a refusal answers SUBACK 0x80). */
  authorizeSubscribe(client: Client, topic: string): boolean;
  /**
   * Takes a PUBLISH. `done(null)` lets aedes PUBACK it (after persistence, for what must survive a kill);
   * `done(error)` refuses it and closes the connection (no PUBACK: the SDK sends it again).
   */
  publish(client: Client | null, packet: PublishPacket, done: (err: Error | null) => void): void;
  clientReady(client: Client): void;
  /** `graceful`: the connection ended with a DISCONNECT packet (not a dropped socket). */
  clientDisconnect(client: Client, graceful: boolean): void;
  subscribe(subscriptions: Subscription[], client: Client): void;
  unsubscribe(topics: string[], client: Client): void;
  /** A PUBACK for a packet the hub wrote; `packet` is the original packet as aedes stored it. */
  ack(packet: { topic?: string; payload?: Buffer | string; brokerCounter?: number; messageId?: number } | undefined, client: Client): void;
}

export interface Broker {
  readonly port: number;
  /** The broker counter the next packet written will carry: aedes numbers packets as it creates them. */
  nextBrokerCounter(): number | undefined;
  /** Closes every connection at once, then the broker. */
  close(): Promise<void>;
}

interface AedesPersistence {
  outgoingStream(c: Client): AsyncIterable<unknown>;
  outgoingClearMessageId(c: Client, p: unknown): Promise<unknown>;
}

type PublishCall = (packet: PublishPacket, client: Client | null | ((err?: Error) => void), done?: (err?: Error) => void) => void;

/**
 * Everything a module publishes is taken by the hooks (`authorizePublish`, before aedes acknowledges it)
 * and forwarded to nobody (`authorizeForward`). aedes still ran its publish pipeline for each one: a packet
 * copy, the retained check, the offline-session and the subscriber matches over the topic, the `publish`
 * event, all finding nothing to do (measured: a few µs per message). Publishes with a client skip it;
 * the broker's own (`$SYS` notices, no client) keep it.
 */
function bypassPublishPipeline(broker: Aedes): void {
  const target = broker as unknown as { publish: PublishCall };
  const publish = target.publish.bind(broker);
  target.publish = (packet, client, done) => {
    if (client !== null && typeof client === 'object') {
      if (done !== undefined) process.nextTick(done);
      return;
    }
    publish(packet, client, done);
  };
}

export async function startBroker(options: { tls: TlsMaterial; port: number; host: string; logger: Logger; hooks: BrokerHooks }): Promise<Broker> {
  const { hooks, logger } = options;
  const broker = await Aedes.createBroker({
    // clientId is `<device>/<module>`, longer than aedes's default limit of 23.
    maxClientsIdLength: 256,
    authenticate: (client, username, password, done) => {
      const verdict = hooks.authenticate(client, username, password);
      if (verdict.ok) {
        done(null, true);
        return;
      }
      done(Object.assign(new Error(verdict.reason), { returnCode: 5 as const }), false);
    },
    authorizeSubscribe: (client, sub, done) => done(null, hooks.authorizeSubscribe(client, sub.topic) ? sub : null),
    authorizePublish: (client, packet, done) => hooks.publish(client, packet, (err) => done(err ?? undefined)),
    authorizeForward: (_client, packet: AedesPublishPacket) => ('clientId' in packet && packet.clientId !== undefined ? null : packet),
  });
  bypassPublishPipeline(broker);
  const persistence = (broker as unknown as { persistence?: AedesPersistence }).persistence;
  broker.on('clientReady', (client) => hooks.clientReady(client));
  broker.on('clientDisconnect', (client) => {
    // Store-and-forward is the only source of redelivery: drop aedes's own copy of unacknowledged
    // deliveries, or it would replay them on reconnect as well.
    if (persistence !== undefined && !client.clean) {
      void (async () => {
        for await (const p of persistence.outgoingStream(client)) await persistence.outgoingClearMessageId(client, p);
      })().catch((err: unknown) => logger.debug({ err }, 'clearing the session outgoing queue failed'));
    }
    // aedes sets _disconnected only when it received a DISCONNECT packet (lib/handlers/index.js).
    hooks.clientDisconnect(client, (client as unknown as { _disconnected?: boolean })._disconnected === true);
  });
  broker.on('subscribe', (subs, client) => hooks.subscribe(subs, client));
  broker.on('unsubscribe', (topics, client) => hooks.unsubscribe(topics, client));
  broker.on('ack', (packet, client) => hooks.ack(packet as Parameters<BrokerHooks['ack']>[0], client));
  broker.on('clientError', (client, err) => logger.debug({ clientId: client.id, err }, 'client error'));
  broker.on('connectionError', (client, err) => logger.debug({ clientId: client.id, err }, 'connection error'));

  // Every accepted TCP socket, from before its TLS handshake: close() must destroy one still in its
  // handshake too, or server.close() waits for it while its module CONNECTs to the closing broker (a hub
  // restart then never finished, and the module sat on the old broker).
  const sockets = new Set<Socket>();
  const server: TlsServer = createTlsServer({ key: options.tls.serverKeyPem, cert: options.tls.serverCertificatePem, noDelay: true }, (socket: TLSSocket) => broker.handle(socket));
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', (err) => logger.debug({ err }, 'TLS handshake failed'));
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  let closing: Promise<void> | undefined;
  return {
    port,
    nextBrokerCounter: () => {
      const counter = (broker as unknown as { counter?: unknown }).counter;
      return typeof counter === 'number' ? counter + 1 : undefined;
    },
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((r) => server.close(() => r()));
        for (const s of sockets) s.destroy();
        await closed;
        await new Promise<void>((r) => broker.close(() => r()));
      })();
      return closing;
    },
  };
}
