/**
 * The mqtt.js internals this adapter hooks into (see mqtt5-connection.ts): they are not part of
 * mqtt.js's API, so the exact mqtt version is pinned and the redelivery test covers them.
 */
import type { MqttClient, Packet } from 'mqtt';

export interface ClientInternals {
  handleMessage: (packet: Packet, callback: (err?: Error) => void) => void;
  handleAuth: (packet: Packet, callback: (err?: Error | null, packet?: Packet) => void) => void;
  _sendPacket: (packet: Packet, cb?: (err?: Error) => void, cbStorePut?: unknown, noStore?: boolean) => void;
}

/** mqtt.js's table of QoS 1 publishes in flight, by message id; `cb` is the callback given to `publish`. */
export type OutgoingTable = Record<number, { cb?: object } | undefined>;

export function internals(c: MqttClient): ClientInternals {
  return c as unknown as ClientInternals;
}

export function outgoingTable(c: MqttClient): OutgoingTable {
  return (c as unknown as { outgoing: OutgoingTable }).outgoing;
}
