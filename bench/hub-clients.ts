/**
 * The benchmarks' mqtt.js clients on the local edge hub: connected as one of its modules (a SAS token from
 * the module's key, the IoT Hub username), with the options both hub benchmarks give their clients.
 * Imported once the benchmark runs under the `@edgeml/source` condition (see its re-exec).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { createModuleSasToken, type EdgeHub } from '@edgeml/edge-hub';

/** QoS 1 sessions kept (clean=false) as the IoT SDK uses them; no reconnect: a drop ends the run. */
export const BENCH_CLIENT_OPTIONS = { protocolVersion: 4 as const, clean: false, reconnectPeriod: 0 };

export function connectHubModule(hub: EdgeHub, moduleId: string, ca: Buffer): Promise<MqttClient> {
  const key = /SharedAccessKey=([^;]+)/.exec(hub.moduleEnv(moduleId)['EdgeHubConnectionString'] ?? '')?.[1] ?? '';
  const password = createModuleSasToken({ hostName: hub.iotHubHostName, deviceId: hub.deviceId, moduleId, keyBase64: key, expirySecs: Math.floor(Date.now() / 1000) + 3600 });
  return mqtt.connectAsync(`mqtts://localhost:${hub.port}`, {
    ...BENCH_CLIENT_OPTIONS,
    ca,
    clientId: `${hub.deviceId}/${moduleId}`,
    username: `${hub.iotHubHostName}/${hub.deviceId}/${moduleId}/?api-version=2021-04-12`,
    password,
  });
}
