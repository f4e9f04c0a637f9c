/** Our publishes: QoS 1 resolves on PUBACK with its reason code; a refusal rejects with it. */
import { EdgeMLError, errorMessage } from '../../errors.js';
import type { Mqtt5Publication } from '../mqtt5-connection.js';
import type { PubackReasons } from './puback-reasons.js';
import type { Mqtt5Session } from './session.js';
import { toWireProperties } from './wire.js';

export class Mqtt5Publisher {
  readonly #session: Mqtt5Session;
  readonly #reasons: PubackReasons;

  constructor(session: Mqtt5Session, reasons: PubackReasons) {
    this.#session = session;
    this.#reasons = reasons;
  }

  /** @throws EdgeMLError EDGE_SEND_FAILED (synchronously when not connected; rejected when the broker refuses) */
  publish(p: Mqtt5Publication): Promise<{ reasonCode: number }> {
    const c = this.#session.require(`publish on ${p.topic}`);
    return new Promise((resolve, reject) => {
      const callback = (err?: Error): void => {
        const reasonCode = this.#reasons.take(callback);
        if (err === undefined || err === null) return resolve({ reasonCode });
        // 0x80 and above: refused (0x87 not authorized, 0x97 quota exceeded).
        const code = (err as { code?: unknown }).code;
        reject(new EdgeMLError('EDGE_SEND_FAILED', `publish on ${p.topic} failed: ${errorMessage(err)}`, { cause: err, ...(typeof code === 'number' ? { details: { reasonCode: code } } : {}) }));
      };
      c.publish(p.topic, p.payload, { qos: p.qos, retain: p.retain ?? false, properties: toWireProperties(p.properties) ?? {} }, callback);
    });
  }
}
