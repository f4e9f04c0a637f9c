/**
 * One MQTT 5 connection: the only file in the suite that imports the `mqtt` package.
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
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import mqtt from 'mqtt';
import type { IClientOptions, IClientPublishOptions, IPublishPacket, MqttClient, Packet } from 'mqtt';
import { EdgeMLError, errorMessage } from '../errors.js';
import { createRepeatLimiter, type Logger } from '../logging.js';
import type { Mqtt5Settings } from './mqtt5-settings.js';

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

/** K8S-SAT: the Azure IoT Operations broker's enhanced-authentication method name. */
export const SAT_AUTH_METHOD = 'K8S-SAT';
const REASON_REAUTHENTICATE = 0x19;
const REASON_CONTINUE = 0x18;

function toWireProperties(p: Mqtt5MessageProperties | undefined): IClientPublishOptions['properties'] {
  if (p === undefined) return undefined;
  return {
    ...(p.contentType === undefined ? {} : { contentType: p.contentType }),
    ...(p.correlationData === undefined ? {} : { correlationData: p.correlationData }),
    ...(p.responseTopic === undefined ? {} : { responseTopic: p.responseTopic }),
    ...(p.userProperties === undefined ? {} : { userProperties: { ...p.userProperties } }),
    ...(p.payloadIsUtf8 === undefined ? {} : { payloadFormatIndicator: p.payloadIsUtf8 }),
    ...(p.messageExpirySeconds === undefined ? {} : { messageExpiryInterval: p.messageExpirySeconds }),
  };
}

function fromWireProperties(packet: IPublishPacket): Mqtt5MessageProperties {
  const p = packet.properties ?? {};
  const user: Record<string, string> = {};
  // A repeated user property arrives as an array; the last value wins, as a twin-style map keeps one.
  for (const [k, v] of Object.entries(p.userProperties ?? {})) user[k] = Array.isArray(v) ? String(v[v.length - 1]) : String(v);
  return {
    ...(p.contentType === undefined ? {} : { contentType: p.contentType }),
    ...(p.correlationData === undefined ? {} : { correlationData: Buffer.from(p.correlationData) }),
    ...(p.responseTopic === undefined ? {} : { responseTopic: p.responseTopic }),
    userProperties: user,
    ...(p.payloadFormatIndicator === undefined ? {} : { payloadIsUtf8: p.payloadFormatIndicator }),
    ...(p.messageExpiryInterval === undefined ? {} : { messageExpirySeconds: p.messageExpiryInterval }),
  };
}

/** Reads the files the settings name, synchronously: mqtt.js builds CONNECT right after its `reconnect` event. */
function credentialOptions(settings: Mqtt5Settings): Partial<IClientOptions> {
  const out: Partial<IClientOptions> = {};
  if (settings.caFile !== undefined) out.ca = readFileSync(settings.caFile);
  const auth = settings.auth;
  if (auth.kind === 'password') {
    out.username = auth.username;
    if (auth.passwordFile !== undefined) out.password = readFileSync(auth.passwordFile);
  } else if (auth.kind === 'x509') {
    out.cert = readFileSync(auth.certFile);
    out.key = readFileSync(auth.keyFile);
    // Passed through to tls.connect by mqtt.js, which does not declare it.
    if (auth.keyPasswordFile !== undefined) Object.assign(out, { passphrase: readFileSync(auth.keyPasswordFile, 'utf8').trim() });
  }
  return out;
}

/** The mqtt.js internals this adapter hooks into (see the file comment). */
interface ClientInternals {
  handleMessage: (packet: Packet, callback: (err?: Error) => void) => void;
  handleAuth: (packet: Packet, callback: (err?: Error | null, packet?: Packet) => void) => void;
  _sendPacket: (packet: Packet, cb?: (err?: Error) => void, cbStorePut?: unknown, noStore?: boolean) => void;
}

function internals(c: MqttClient): ClientInternals {
  return c as unknown as ClientInternals;
}

export function createMqtt5Connection(options: Mqtt5ConnectionOptions): Mqtt5Connection {
  const { settings, logger } = options;
  const shouldLog = createRepeatLimiter();
  const connectionListeners: ((s: { connected: boolean; sessionPresent?: boolean; reason?: string }) => void)[] = [];
  let handler: ((m: Mqtt5Received) => Promise<void>) | undefined;
  let client: MqttClient | undefined;
  let closing: Promise<void> | undefined;
  let tokenTimer: NodeJS.Timeout | undefined;
  let lastToken: Buffer | undefined;
  // Acknowledgements are per connection: after a reconnect, a message id names another message.
  let generation = 0;
  let ackChain: Promise<void> = Promise.resolve();
  const handling = new Map<number, Promise<void>>();
  // PUBACK reason codes by message id, and the message id each publish callback went out under
  // (mqtt.js reports a 0x10 PUBACK as plain success and keeps the reason to itself).
  const pubackReasons = new Map<number, number>();
  const publishIds = new WeakMap<object, number>();

  const readToken = (): Buffer => {
    if (settings.auth.kind !== 'sat') return Buffer.alloc(0);
    const token = readFileSync(settings.auth.tokenFile);
    lastToken = token;
    return token;
  };

  const refreshCredentials = (c: MqttClient): void => {
    try {
      Object.assign(c.options, credentialOptions(settings));
      if (settings.auth.kind === 'sat') c.options.properties = { ...c.options.properties, authenticationMethod: SAT_AUTH_METHOD, authenticationData: readToken() };
    } catch (err: unknown) {
      const r = shouldLog('credentials');
      if (r.log) logger.warn({ err, suppressed: r.suppressed }, `credential files cannot be read; reconnecting with the previous ones: ${errorMessage(err)}`);
    }
  };

  const checkTokenRotation = async (c: MqttClient): Promise<void> => {
    if (settings.auth.kind !== 'sat') return;
    let token: Buffer;
    try {
      token = await readFile(settings.auth.tokenFile);
    } catch (err: unknown) {
      logger.warn({ err, file: settings.auth.tokenFile }, 'SAT file cannot be read');
      return;
    }
    // An empty read is a file being rewritten in place (truncated, not yet written): the next check sees the token.
    if (token.length === 0 || (lastToken !== undefined && token.equals(lastToken))) return;
    lastToken = token;
    c.options.properties = { ...c.options.properties, authenticationData: token };
    if (!c.connected) return;
    logger.info('SAT rotated; re-authenticating on the live connection');
    internals(c)._sendPacket({ cmd: 'auth', reasonCode: REASON_REAUTHENTICATE, properties: { authenticationMethod: SAT_AUTH_METHOD, authenticationData: token } } as Packet);
  };

  const build = (): MqttClient => {
    const initial: IClientOptions = {
      protocolVersion: 5,
      host: settings.host,
      port: settings.port,
      protocol: settings.useTls ? 'mqtts' : 'mqtt',
      clientId: settings.clientId,
      clean: options.cleanStart ?? false,
      keepalive: settings.keepAliveSeconds,
      reconnectPeriod: options.reconnectDelayMs ?? 1_000,
      connectTimeout: 30_000,
      rejectUnauthorized: true,
      resubscribe: true,
      properties: {
        sessionExpiryInterval: settings.sessionExpirySeconds,
        receiveMaximum: settings.receiveMaximum,
        ...(settings.auth.kind === 'sat' ? { authenticationMethod: SAT_AUTH_METHOD, authenticationData: readToken() } : {}),
      },
      ...credentialOptions(settings),
      ...(options.will === undefined
        ? {}
        : { will: { topic: options.will.topic, payload: options.will.payload, qos: options.will.qos, retain: options.will.retain ?? false, properties: toWireProperties(options.will.properties) ?? {} } }),
    };
    const c = mqtt.connect({ ...initial, manualConnect: true });
    const hooks = internals(c);

    hooks.handleMessage = (packet, callback) => {
      if (packet.cmd !== 'publish') return callback();
      const publish = packet;
      const run = handler === undefined ? Promise.resolve() : handler({ topic: publish.topic, payload: Buffer.from(publish.payload), properties: fromWireProperties(publish) });
      const settled = run.catch((err: unknown) => logger.error({ err, topic: publish.topic }, `input handler threw: ${errorMessage(err)}`));
      if (publish.qos === 1 && publish.messageId !== undefined) handling.set(publish.messageId, settled);
      // Let mqtt.js read the next packet now; the PUBACK it is about to send is held below.
      callback();
    };
    const send = hooks._sendPacket.bind(c);
    const outgoing = (c as unknown as { outgoing: Record<number, { cb?: object } | undefined> }).outgoing;
    c.on('packetreceive', (packet) => {
      if (packet.cmd === 'puback' && packet.messageId !== undefined) pubackReasons.set(packet.messageId, packet.reasonCode ?? 0);
    });
    hooks._sendPacket = (packet, cb, cbStorePut, noStore) => {
      if (packet.cmd === 'publish' && packet.qos === 1 && packet.messageId !== undefined) {
        const callback = outgoing[packet.messageId]?.cb;
        if (callback !== undefined) publishIds.set(callback, packet.messageId);
      }
      const id = packet.cmd === 'puback' ? packet.messageId : undefined;
      const done = id === undefined ? undefined : handling.get(id);
      if (id === undefined || done === undefined) return send(packet, cb, cbStorePut, noStore);
      handling.delete(id);
      const gen = generation;
      ackChain = Promise.all([ackChain, done]).then(() => {
        if (gen === generation && c.connected) send(packet);
      });
      cb?.();
    };
    hooks.handleAuth = (packet, callback) => {
      if (packet.cmd === 'auth' && packet.reasonCode === REASON_CONTINUE && settings.auth.kind === 'sat') {
        // The broker asks again (transient): answer with a fresh read of the token.
        return callback(null, { cmd: 'auth', reasonCode: REASON_CONTINUE, properties: { authenticationMethod: SAT_AUTH_METHOD, authenticationData: readToken() } } as Packet);
      }
      callback(null);
    };

    c.on('reconnect', () => refreshCredentials(c));
    c.on('connect', (connack) => {
      generation++;
      ackChain = Promise.resolve();
      handling.clear();
      for (const l of connectionListeners) l({ connected: true, sessionPresent: connack.sessionPresent });
    });
    c.on('close', () => {
      generation++;
      for (const l of connectionListeners) l({ connected: false, reason: 'connection closed' });
    });
    c.on('error', (err) => {
      const r = shouldLog(`error:${(err as { code?: unknown }).code ?? err.message}`);
      if (r.log) logger.warn({ err, suppressed: r.suppressed }, `MQTT connection error: ${errorMessage(err)}`);
    });
    if (settings.auth.kind === 'sat') {
      tokenTimer = setInterval(() => void checkTokenRotation(c), options.tokenCheckMs ?? 30_000);
      tokenTimer.unref();
    }
    return c;
  };

  const requireClient = (what: string): MqttClient => {
    if (client === undefined || closing !== undefined) throw new EdgeMLError('EDGE_SEND_FAILED', `${what}: the MQTT connection is not open`);
    return client;
  };

  return {
    clientId: settings.clientId,

    connect(signal) {
      if (closing !== undefined) return Promise.reject(new EdgeMLError('EDGE_CONNECT_FAILED', 'the MQTT connection is closed'));
      if (signal?.aborted === true) return Promise.reject(new EdgeMLError('ABORTED', 'connect aborted'));
      let c: MqttClient;
      try {
        c = client ??= build();
      } catch (err: unknown) {
        return Promise.reject(new EdgeMLError('EDGE_CONNECT_FAILED', `MQTT connection cannot be set up: ${errorMessage(err)}`, { cause: err }));
      }
      return new Promise((resolve, reject) => {
        const onAbort = (): void => {
          c.removeListener('connect', onConnect);
          reject(new EdgeMLError('ABORTED', 'connect aborted'));
        };
        const onConnect = (connack: { sessionPresent: boolean }): void => {
          signal?.removeEventListener('abort', onAbort);
          logger.info({ host: settings.host, port: settings.port, clientId: settings.clientId, sessionPresent: connack.sessionPresent }, 'connected to the MQTT broker');
          resolve({ sessionPresent: connack.sessionPresent });
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        c.once('connect', onConnect);
        if (!c.connected) c.connect();
      });
    },

    publish(p) {
      const c = requireClient(`publish on ${p.topic}`);
      return new Promise((resolve, reject) => {
        const callback = (err?: Error): void => {
          const id = publishIds.get(callback);
          const reasonCode = id === undefined ? 0 : (pubackReasons.get(id) ?? 0);
          if (id !== undefined) pubackReasons.delete(id);
          if (err === undefined || err === null) return resolve({ reasonCode });
          // 0x80 and above: refused (0x87 not authorized, 0x97 quota exceeded).
          const code = (err as { code?: unknown }).code;
          reject(new EdgeMLError('EDGE_SEND_FAILED', `publish on ${p.topic} failed: ${errorMessage(err)}`, { cause: err, ...(typeof code === 'number' ? { details: { reasonCode: code } } : {}) }));
        };
        c.publish(p.topic, p.payload, { qos: p.qos, retain: p.retain ?? false, properties: toWireProperties(p.properties) ?? {} }, callback);
      });
    },

    async subscribe(filters) {
      if (filters.length === 0) return;
      const c = requireClient('subscribe');
      let granted: { topic: string; qos: number }[];
      try {
        granted = await c.subscribeAsync([...filters], { qos: 1 });
      } catch (err: unknown) {
        throw new EdgeMLError('EDGE_CONNECT_FAILED', `subscribe failed: ${errorMessage(err)}`, { cause: err });
      }
      const refused = granted.filter((g) => g.qos >= 0x80);
      if (refused.length > 0) throw new EdgeMLError('EDGE_CONNECT_FAILED', `the broker refused subscriptions: ${refused.map((g) => `${g.topic} (0x${g.qos.toString(16)})`).join(', ')}`);
    },

    async unsubscribe(filters) {
      const c = client;
      if (filters.length === 0 || c === undefined || !c.connected) return;
      try {
        await c.unsubscribeAsync([...filters]);
      } catch (err: unknown) {
        logger.warn({ err, filters }, `unsubscribe failed: ${errorMessage(err)}`);
      }
    },

    onMessage(h) {
      handler = h;
    },

    onConnectionChange(listener) {
      connectionListeners.push(listener);
    },

    close() {
      closing ??= (async () => {
        if (tokenTimer !== undefined) clearInterval(tokenTimer);
        const c = client;
        if (c === undefined) return;
        // Acknowledge what has been handled before saying goodbye (bounded: a stuck handler must not hold shutdown).
        await Promise.race([ackChain, new Promise((r) => setTimeout(r, 2_000).unref())]);
        await c.endAsync(false).catch((err: unknown) => logger.warn({ err }, `MQTT disconnect failed: ${errorMessage(err)}`));
      })();
      return closing;
    },
  };
}
