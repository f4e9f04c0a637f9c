/**
 * Acknowledge after handling. mqtt.js sends PUBACK as soon as a QoS 1 message is read; here the PUBACK
 * of a message waits until its handler has finished. Handlers of up to `receiveMaximum` messages run
 * at once; PUBACKs still leave in arrival order, as MQTT 5 §4.6 requires. A replica killed mid-handler
 * has not acknowledged the message, so the broker hands it to the same persistent session when the
 * replica comes back.
 */
import type { Packet } from 'mqtt';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type { Mqtt5Received } from '../mqtt5-connection.js';
import { fromWireProperties } from './wire.js';

export class InboundAcks {
  readonly #logger: Logger;
  #handler: ((m: Mqtt5Received) => Promise<void>) | undefined;
  // Acknowledgements are per connection: after a reconnect, a message id names another message.
  #generation = 0;
  #chain: Promise<void> = Promise.resolve();
  /** By message id: the handling of a QoS 1 message whose PUBACK has not been asked for yet. */
  readonly #handling = new Map<number, Promise<void>>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** The handler of every received message (the last one set). */
  setHandler(handler: (m: Mqtt5Received) => Promise<void>): void {
    this.#handler = handler;
  }

  /** mqtt.js's handleMessage: starts the handler and lets mqtt.js read the next packet at once. */
  receive(packet: Packet, callback: (err?: Error) => void): void {
    if (packet.cmd !== 'publish') return callback();
    const publish = packet;
    const run = this.#handler === undefined ? Promise.resolve() : this.#handler({ topic: publish.topic, payload: Buffer.from(publish.payload), properties: fromWireProperties(publish) });
    const settled = run.catch((err: unknown) => this.#logger.error({ err, topic: publish.topic }, `input handler threw: ${errorMessage(err)}`));
    if (publish.qos === 1 && publish.messageId !== undefined) this.#handling.set(publish.messageId, settled);
    // Let mqtt.js read the next packet now; the PUBACK it is about to send is held (see hold).
    callback();
  }

  /**
   * For a packet mqtt.js is about to send: a PUBACK of a message still being handled is held, `cb`
   * called at once, and `sendLater` called with it once its handler and every earlier PUBACK are done,
   * unless the connection was replaced meanwhile. false: not held, the caller sends it now.
   */
  hold(packet: Packet, cb: ((err?: Error) => void) | undefined, sendLater: (packet: Packet) => void): boolean {
    const id = packet.cmd === 'puback' ? packet.messageId : undefined;
    const done = id === undefined ? undefined : this.#handling.get(id);
    if (id === undefined || done === undefined) return false;
    this.#handling.delete(id);
    const gen = this.#generation;
    this.#chain = Promise.all([this.#chain, done]).then(() => {
      if (gen === this.#generation) sendLater(packet);
    });
    cb?.();
    return true;
  }

  /** A new connection (CONNACK): nothing held before it is acknowledged on it. */
  connected(): void {
    this.#generation++;
    this.#chain = Promise.resolve();
    this.#handling.clear();
  }

  /** The connection closed: what was held for it is not sent. */
  disconnected(): void {
    this.#generation++;
  }

  /** Resolves once what has been handled so far is acknowledged, or after `ms` (a stuck handler must not hold shutdown). */
  async drain(ms: number): Promise<void> {
    await Promise.race([this.#chain, new Promise((r) => setTimeout(r, ms).unref())]);
  }
}
