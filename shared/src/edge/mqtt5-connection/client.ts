/**
 * Builds the mqtt.js client of one connection (manual connect; mqtt.js reconnects by itself from then
 * on) and hooks the parts into it: received messages and held PUBACKs (inbound-acks.ts), PUBACK reason
 * codes (puback-reasons.ts), credentials re-read before each reconnect and the SAT exchange
 * (credentials.ts), connection events.
 */
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { errorMessage } from '../../errors.js';
import type { createRepeatLimiter } from '../../logging.js';
import type { Mqtt5ConnectionOptions } from '../mqtt5-connection.js';
import { credentialOptions, type Mqtt5Credentials } from './credentials.js';
import type { InboundAcks } from './inbound-acks.js';
import { internals, outgoingTable } from './internals.js';
import type { PubackReasons } from './puback-reasons.js';
import type { ConnectionEvents } from './session.js';
import { toWireProperties } from './wire.js';

export interface ClientParts {
  readonly options: Mqtt5ConnectionOptions;
  readonly shouldLog: ReturnType<typeof createRepeatLimiter>;
  readonly credentials: Mqtt5Credentials;
  readonly acks: InboundAcks;
  readonly reasons: PubackReasons;
  readonly events: ConnectionEvents;
}

export function buildClient(parts: ClientParts): MqttClient {
  const c = mqtt.connect({ ...clientOptions(parts), manualConnect: true });
  installHooks(c, parts);
  forwardEvents(c, parts);
  parts.credentials.watchRotation(c, parts.options.tokenCheckMs ?? 30_000);
  return c;
}

/** Reads the credential files (synchronously; a missing one throws). */
function clientOptions({ options, credentials }: ClientParts): IClientOptions {
  const { settings, will } = options;
  return {
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
      ...credentials.connectProperties(),
    },
    ...credentialOptions(settings),
    ...(will === undefined ? {} : { will: { topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain ?? false, properties: toWireProperties(will.properties) ?? {} } }),
  };
}

function installHooks(c: MqttClient, { acks, reasons, credentials }: ClientParts): void {
  const hooks = internals(c);
  hooks.handleMessage = (packet, callback) => acks.receive(packet, callback);
  const send = hooks._sendPacket.bind(c);
  const outgoing = outgoingTable(c);
  c.on('packetreceive', (packet) => reasons.received(packet));
  hooks._sendPacket = (packet, cb, cbStorePut, noStore) => {
    reasons.sending(packet, outgoing);
    const held = acks.hold(packet, cb, (p) => {
      if (c.connected) send(p);
    });
    if (!held) send(packet, cb, cbStorePut, noStore);
  };
  hooks.handleAuth = credentials.answerAuth;
}

function forwardEvents(c: MqttClient, { options, shouldLog, credentials, acks, events }: ClientParts): void {
  c.on('reconnect', () => credentials.refresh(c));
  c.on('connect', (connack) => {
    acks.connected();
    events.emit({ connected: true, sessionPresent: connack.sessionPresent });
  });
  c.on('close', () => {
    acks.disconnected();
    events.emit({ connected: false, reason: 'connection closed' });
  });
  c.on('error', (err) => {
    const r = shouldLog(`error:${(err as { code?: unknown }).code ?? err.message}`);
    if (r.log) options.logger.warn({ err, suppressed: r.suppressed }, `MQTT connection error: ${errorMessage(err)}`);
  });
}
