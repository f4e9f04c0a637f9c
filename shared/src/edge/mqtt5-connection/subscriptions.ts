/** Subscribing (QoS 1, a refusal is an error) and unsubscribing (best effort, on the way out). */
import { EdgeMLError, errorMessage } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type { Mqtt5Session } from './session.js';

export class Mqtt5Subscriptions {
  readonly #session: Mqtt5Session;
  readonly #logger: Logger;

  constructor(session: Mqtt5Session, logger: Logger) {
    this.#session = session;
    this.#logger = logger;
  }

  /** @throws EdgeMLError EDGE_CONNECT_FAILED when the broker refuses one; EDGE_SEND_FAILED when not connected */
  async subscribe(filters: readonly string[]): Promise<void> {
    if (filters.length === 0) return;
    const c = this.#session.require('subscribe');
    let granted: { topic: string; qos: number }[];
    try {
      granted = await c.subscribeAsync([...filters], { qos: 1 });
    } catch (err: unknown) {
      throw new EdgeMLError('EDGE_CONNECT_FAILED', `subscribe failed: ${errorMessage(err)}`, { cause: err });
    }
    const refused = granted.filter((g) => g.qos >= 0x80);
    if (refused.length > 0) throw new EdgeMLError('EDGE_CONNECT_FAILED', `the broker refused subscriptions: ${refused.map((g) => `${g.topic} (0x${g.qos.toString(16)})`).join(', ')}`);
  }

  /** Failures are logged, not thrown; nothing is sent while disconnected. */
  async unsubscribe(filters: readonly string[]): Promise<void> {
    const c = this.#session.client;
    if (filters.length === 0 || c === undefined || !c.connected) return;
    try {
      await c.unsubscribeAsync([...filters]);
    } catch (err: unknown) {
      this.#logger.warn({ err, filters }, `unsubscribe failed: ${errorMessage(err)}`);
    }
  }
}
