/**
 * The life of one connection: the mqtt.js client built on the first connect (and reconnecting by
 * itself from then on), a first connect that waits until the broker accepts or the caller aborts,
 * connection events for the listeners, and the closing sequence.
 */
import type { MqttClient } from 'mqtt';
import { EdgeMLError, errorMessage } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type { Mqtt5Settings } from '../mqtt5-settings.js';
import type { InboundAcks } from './inbound-acks.js';
import type { Mqtt5Credentials } from './credentials.js';

export interface ConnectionState {
  connected: boolean;
  sessionPresent?: boolean;
  reason?: string;
}

/** The listeners of every connect and every loss. */
export class ConnectionEvents {
  readonly #listeners: ((s: ConnectionState) => void)[] = [];

  on(listener: (s: ConnectionState) => void): void {
    this.#listeners.push(listener);
  }

  emit(state: ConnectionState): void {
    for (const l of this.#listeners) l(state);
  }
}

export interface Mqtt5SessionOptions {
  readonly settings: Mqtt5Settings;
  readonly logger: Logger;
  /** Builds the mqtt.js client (not connected yet); called once, on the first connect. */
  readonly build: () => MqttClient;
  readonly acks: InboundAcks;
  readonly credentials: Mqtt5Credentials;
}

/** How long close() waits for handled messages to be acknowledged. */
const CLOSE_ACK_WAIT_MS = 2_000;

export class Mqtt5Session {
  readonly #o: Mqtt5SessionOptions;
  #client: MqttClient | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: Mqtt5SessionOptions) {
    this.#o = options;
  }

  /** Connects, retrying until `signal` aborts. @throws EdgeMLError ABORTED, EDGE_CONNECT_FAILED */
  connect(signal?: AbortSignal): Promise<{ sessionPresent: boolean }> {
    if (this.#closing !== undefined) return Promise.reject(new EdgeMLError('EDGE_CONNECT_FAILED', 'the MQTT connection is closed'));
    if (signal?.aborted === true) return Promise.reject(new EdgeMLError('ABORTED', 'connect aborted'));
    let c: MqttClient;
    try {
      c = this.#client ??= this.#o.build();
    } catch (err: unknown) {
      return Promise.reject(new EdgeMLError('EDGE_CONNECT_FAILED', `MQTT connection cannot be set up: ${errorMessage(err)}`, { cause: err }));
    }
    const { settings, logger } = this.#o;
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
  }

  /** The client to send on. @throws EdgeMLError EDGE_SEND_FAILED before the first connect or once closing */
  require(what: string): MqttClient {
    if (this.#client === undefined || this.#closing !== undefined) throw new EdgeMLError('EDGE_SEND_FAILED', `${what}: the MQTT connection is not open`);
    return this.#client;
  }

  /** The client once built, closing or not (for what is done on the way out). */
  get client(): MqttClient | undefined {
    return this.#client;
  }

  /** Acknowledges what has been handled (bounded), then sends DISCONNECT and closes. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#o.credentials.stop();
      const c = this.#client;
      if (c === undefined) return;
      await this.#o.acks.drain(CLOSE_ACK_WAIT_MS);
      await c.endAsync(false).catch((err: unknown) => this.#o.logger.warn({ err }, `MQTT disconnect failed: ${errorMessage(err)}`));
    })();
    return this.#closing;
  }
}
