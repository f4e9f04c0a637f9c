/** The suite's MQTT 5 PUBLISH properties to and from mqtt.js's names for them. */
import type { IClientPublishOptions, IPublishPacket } from 'mqtt';
import type { Mqtt5MessageProperties } from '../mqtt5-connection.js';

export function toWireProperties(p: Mqtt5MessageProperties | undefined): IClientPublishOptions['properties'] {
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

export function fromWireProperties(packet: IPublishPacket): Mqtt5MessageProperties {
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
