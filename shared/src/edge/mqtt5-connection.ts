/**
 * One MQTT 5 connection: this file and its parts in mqtt5-connection/ are the only code in the suite
 * that imports the `mqtt` package.
 *
 * What it adds to mqtt.js, and why:
 * - **Acknowledge after handling.** mqtt.js sends PUBACK as soon as a QoS 1 message is read. Here
 *   the PUBACK of a message waits until its handler has finished (handlers of up to `receiveMaximum`
 *   messages run at once; PUBACKs still leave in arrival order, as MQTT 5 §4.6 requires). A replica
 *   killed mid-handler has not acknowledged the message, so the broker hands it to the same
 *   persistent session when the replica comes back. This uses mqtt.js internals (`handleMessage`,
 *   `_sendPacket`), pinned by the exact version and covered by the redelivery test.
 * - **Credentials re-read on every connect**: the K8S-SAT token, the password file and the TLS
 *   files are read again before each reconnect, so a rotated file is used without a restart; a
 *   rotated SAT is also sent on the live connection (AUTH, reason 0x19 re-authenticate), because
 *   the Azure IoT Operations broker closes the connection when the token it accepted expires.
 * - **A first connect that retries until aborted**, with errors logged once per repeat.
 *
 * The parts, in mqtt5-connection/: session.ts (build on first connect, connect, close, connection
 * events), client.ts (the mqtt.js client and the hooks below), inbound-acks.ts (acknowledge after
 * handling), puback-reasons.ts and publish.ts (publishes and their PUBACK reason codes),
 * subscriptions.ts, credentials.ts (files re-read, SAT), wire.ts (property mapping), internals.ts.
 */
import { createRepeatLimiter, type Logger } from '../logging.js';
import type { Mqtt5Settings } from './mqtt5-settings.js';
import { buildClient } from './mqtt5-connection/client.js';
import { Mqtt5Credentials } from './mqtt5-connection/credentials.js';
import { InboundAcks } from './mqtt5-connection/inbound-acks.js';
import { PubackReasons } from './mqtt5-connection/puback-reasons.js';
import { Mqtt5Publisher } from './mqtt5-connection/publish.js';
import { ConnectionEvents, Mqtt5Session } from './mqtt5-connection/session.js';
import { Mqtt5Subscriptions } from './mqtt5-connection/subscriptions.js';

export { SAT_AUTH_METHOD } from './mqtt5-connection/credentials.js';

/** MQTT 5 PUBLISH properties the suite uses. */
export interface Mqtt5MessageProperties {
  readonly contentType?: string;
  readonly correlationData?: Buffer;
  readonly responseTopic?: string;
  readonly userProperties?: Readonly<Record<string, string>>;
  /** true: the payload is UTF-8 text. */
  readonly payloadIsUtf8?: boolean;
  readonly messageExpirySeconds?: number;
}

export interface Mqtt5Received {
  readonly topic: string;
  readonly payload: Buffer;
  readonly properties: Mqtt5MessageProperties;
}

export interface Mqtt5Publication {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1;
  readonly retain?: boolean;
  readonly properties?: Mqtt5MessageProperties;
}

export interface Mqtt5ConnectionOptions {
  readonly settings: Mqtt5Settings;
  readonly logger: Logger;
  /** Clean start: false (the default) resumes the persistent session, so queued QoS 1 messages survive a restart. */
  readonly cleanStart?: boolean;
  /** Published by the broker when the connection is lost without a DISCONNECT. */
  readonly will?: Mqtt5Publication;
  /** Delay between reconnect attempts. Default 1000 ms. */
  readonly reconnectDelayMs?: number;
  /** How often the SAT file is checked for rotation. Default 30 000 ms. */
  readonly tokenCheckMs?: number;
}

export interface Mqtt5Connection {
  readonly clientId: string;
  /** Connects, retrying until `signal` aborts. Resolves with whether the broker resumed our session. @throws EdgeMLError ABORTED, EDGE_CONNECT_FAILED */
  connect(signal?: AbortSignal): Promise<{ sessionPresent: boolean }>;
  /**
   * QoS 1 resolves on PUBACK with its reason code (0 accepted; 0x10 accepted but no subscriber matched,
   * i.e. nobody will ever receive it). @throws EdgeMLError EDGE_SEND_FAILED (not connected, refused by the broker)
   */
  publish(publication: Mqtt5Publication): Promise<{ reasonCode: number }>;
  /** QoS 1 subscriptions. @throws EdgeMLError EDGE_CONNECT_FAILED when the broker refuses one */
  subscribe(filters: readonly string[]): Promise<void>;
  /** Best effort: failures are logged, not thrown (used on the way out). */
  unsubscribe(filters: readonly string[]): Promise<void>;
  /** The handler of every received message; its PUBACK is sent when the returned promise settles. */
  onMessage(handler: (message: Mqtt5Received) => Promise<void>): void;
  /** Every connect (with whether the session was resumed) and every loss. */
  onConnectionChange(listener: (state: { connected: boolean; sessionPresent?: boolean; reason?: string }) => void): void;
  /** Sends DISCONNECT and closes. Idempotent. */
  close(): Promise<void>;
}

/** Wires the parts (see the file comment); the mqtt.js client is built on the first connect. */
export function createMqtt5Connection(options: Mqtt5ConnectionOptions): Mqtt5Connection {
  const { settings, logger } = options;
  const shouldLog = createRepeatLimiter();
  const credentials = new Mqtt5Credentials({ settings, logger, shouldLog });
  const acks = new InboundAcks(logger);
  const reasons = new PubackReasons();
  const events = new ConnectionEvents();
  const build = () => buildClient({ options, shouldLog, credentials, acks, reasons, events });
  const session = new Mqtt5Session({ settings, logger, build, acks, credentials });
  const publisher = new Mqtt5Publisher(session, reasons);
  const subscriptions = new Mqtt5Subscriptions(session, logger);
  return {
    clientId: settings.clientId,
    connect: (signal) => session.connect(signal),
    publish: (p) => publisher.publish(p),
    subscribe: (filters) => subscriptions.subscribe(filters),
    unsubscribe: (filters) => subscriptions.unsubscribe(filters),
    onMessage: (handler) => acks.setHandler(handler),
    onConnectionChange: (listener) => events.on(listener),
    close: () => session.close(),
  };
}
