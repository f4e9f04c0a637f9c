/**
 * The edge client's life: open (connect, subscribe methods and inputs, first desired document), the
 * connection events its listeners see (only while open), the status published again after each
 * reconnect, and a clean stop that leaves this replica's shares before disconnecting.
 */
import { EdgeMLError, errorMessage } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type { ConnectionListener } from '../types.js';
import type { Mqtt5Connection } from '../mqtt5-connection.js';
import type { DesiredFeed } from './desired.js';
import type { Mqtt5Inputs } from './inputs.js';
import type { Mqtt5Methods } from './methods.js';
import type { ReportedStatus } from './reported.js';
import type { EdgeClientState } from './state.js';

export interface Mqtt5EdgeSessionOptions {
  readonly connection: Mqtt5Connection;
  readonly logger: Logger;
  readonly state: EdgeClientState;
  readonly methods: Mqtt5Methods;
  readonly inputs: Mqtt5Inputs;
  readonly desired: DesiredFeed;
  readonly reported: ReportedStatus;
  /** This replica's status topic (logged on open). */
  readonly statusTopic: string;
}

export class Mqtt5EdgeSession {
  readonly #o: Mqtt5EdgeSessionOptions;
  readonly #listeners: ConnectionListener[] = [];
  #closing: Promise<void> | undefined;

  constructor(options: Mqtt5EdgeSessionOptions) {
    this.#o = options;
  }

  /** @throws EdgeMLError EDGE_CONNECT_FAILED (closed; a subscription refused), ABORTED */
  async open(signal?: AbortSignal): Promise<void> {
    const { connection, logger, state, methods, inputs, desired } = this.#o;
    if (this.#closing !== undefined) throw new EdgeMLError('EDGE_CONNECT_FAILED', 'edge client is closed');
    if (state.isOpen) return;
    const started = Date.now();
    await connection.connect(signal === undefined ? state.signal : AbortSignal.any([signal, state.signal]));
    await methods.subscribe();
    await inputs.subscribeRegistered();
    state.markOpen();
    for (const l of this.#listeners) l({ connected: true });
    await desired.start();
    logger.info({ elapsedMs: Date.now() - started, clientId: connection.clientId, statusTopic: this.#o.statusTopic }, 'connected to the MQTT broker');
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const { connection, state, desired } = this.#o;
      state.endLifetime();
      desired.close();
      const wasOpen = state.markClosed();
      // A broker keeps handing a share of new messages to an offline persistent session (Mosquitto
      // does, measured), where they wait until that replica returns. A replica that stops cleanly
      // (scale-down, rolling update) therefore leaves its shares first; what was already queued for
      // it stays in its session for its return, and the watcher re-emits anything that never comes.
      if (wasOpen) await connection.unsubscribe([...state.shares]);
      await connection.close();
      if (wasOpen) for (const l of this.#listeners) l({ connected: false, reason: 'closed' });
    })();
    return this.#closing;
  }

  onConnectionChange(listener: ConnectionListener): void {
    this.#listeners.push(listener);
  }

  /** The connection's events, passed on while open. */
  connectionChanged(s: { connected: boolean; reason?: string }): void {
    if (!this.#o.state.isOpen) return;
    for (const l of this.#listeners) l(s.connected ? { connected: true } : { connected: false, ...(s.reason === undefined ? {} : { reason: s.reason }) });
    // The broker may have lost retained messages (Azure IoT Operations keeps them in memory by default).
    // A failure here (the link dropped again, the broker refused) is no reason to stop the module: the
    // document goes out again with the next update or reconnect.
    if (s.connected) {
      this.#o.reported.publish().catch((err: unknown) => this.#o.logger.warn({ err }, `status not published again after the reconnect: ${errorMessage(err)}; it goes out with the next update or reconnect`));
    }
  }
}
