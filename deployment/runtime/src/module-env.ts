import path from 'node:path';
import type { EdgeHub } from '@edgeml/edge-hub';

/** The workload API version the azure-iot SDKs speak (edgelet's `2018-06-28`). */
export const WORKLOAD_API_VERSION = '2018-06-28';

/** Unix socket paths are limited to ~107 bytes; fall back to a short path in the OS temp dir. */
export function workloadSocketPath(workDir: string, pid: number): string {
  const preferred = path.join(workDir, 'run', 'workload.sock');
  if (Buffer.byteLength(preferred) < 100) return preferred;
  return path.join('/tmp', `edgeml-${pid}-workload.sock`);
}

/**
 * The `IOTEDGE_*` variables edgeAgent gives a module: `ModuleClient.fromEnvironment` (every azure-iot SDK) then
 * authenticates through the workload API (token signing, trust bundle) and connects to the hub.
 */
export function workloadEnv(hub: EdgeHub, moduleId: string, workloadSocket: string): Record<string, string> {
  return {
    IOTEDGE_WORKLOADURI: `unix://${workloadSocket}`,
    IOTEDGE_DEVICEID: hub.deviceId,
    IOTEDGE_MODULEID: moduleId,
    IOTEDGE_IOTHUBHOSTNAME: hub.iotHubHostName,
    IOTEDGE_AUTHSCHEME: 'sasToken',
    IOTEDGE_MODULEGENERATIONID: `gen-${moduleId}-1`,
    IOTEDGE_GATEWAYHOSTNAME: hub.gatewayHostName,
    IOTEDGE_APIVERSION: WORKLOAD_API_VERSION,
  };
}
