/**
 * PUBACK reason codes of our own QoS 1 publishes. mqtt.js reports a 0x10 PUBACK (accepted, no
 * subscriber matched) as plain success and keeps the reason to itself, so the reason is taken from the
 * received packet by message id, and the message id from the publish callback it went out under.
 */
import type { Packet } from 'mqtt';
import type { OutgoingTable } from './internals.js';

export class PubackReasons {
  readonly #reasons = new Map<number, number>();
  readonly #publishIds = new WeakMap<object, number>();

  /** Every packet received ('packetreceive'). */
  received(packet: Packet): void {
    if (packet.cmd === 'puback' && packet.messageId !== undefined) this.#reasons.set(packet.messageId, packet.reasonCode ?? 0);
  }

  /** Every packet about to be sent, with mqtt.js's table of publishes in flight. */
  sending(packet: Packet, outgoing: OutgoingTable): void {
    if (packet.cmd === 'publish' && packet.qos === 1 && packet.messageId !== undefined) {
      const callback = outgoing[packet.messageId]?.cb;
      if (callback !== undefined) this.#publishIds.set(callback, packet.messageId);
    }
  }

  /** The reason code of the PUBACK that completed the publish of `callback` (0 when none is known); forgotten once read. */
  take(callback: object): number {
    const id = this.#publishIds.get(callback);
    const reasonCode = id === undefined ? 0 : (this.#reasons.get(id) ?? 0);
    if (id !== undefined) this.#reasons.delete(id);
    return reasonCode;
  }
}
