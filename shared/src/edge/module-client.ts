/**
 * The real {@link EdgeClient}: azure-iot-device's ModuleClient over MQTT. This is the only file in
 * the suite that loads azure-iot-device / azure-iot-device-mqtt; its parts in module-client/ use the
 * SDK's types only (they get the client, and `new Message`, from here).
 *
 * Facts this adapter is built on (docs/reference/moduleclient-wire-notes.md, "wire notes"):
 * - the first `open()` is never retried by the SDK (§2), so we retry it with our own backoff;
 * - after a connection loss the SDK reconnects silently (no app-level event, §7) and, after a
 *   broker restart, desired patches sent while it was away are lost: so every (re)connect is
 *   followed by a full twin re-read, delivered as `{ kind: 'full' }`;
 * - registering any SDK listener opens a connection (§4), so listeners are only attached once
 *   `open()` has connected;
 * - `getTwin()` and reported updates have no timeout in the SDK (§7), so we add one;
 * - when the SDK gives up (its final `disconnect`, at once on a TCP reset, §7) we reopen with our own
 *   backoff, and then subscribe inputs, methods and desired patches again ourselves (resubscribe.ts):
 *   `open()` subscribes nothing, and a hub without the module's session would otherwise send none;
 *   after the SDK's own reconnects we subscribe desired patches again, which it never does (§7).
 *
 * The parts, in module-client/: session.ts (open with retries, close that lets running input handlers
 * finish), sdk-events.ts (the SDK's connection and desired-patch events), recovery.ts (subscribing again
 * and the twin re-read after a reconnect; the reopen after the SDK's final disconnect), twin.ts (full
 * twin reads, coalesced re-reads), inputs.ts, outputs.ts, methods.ts, reported.ts, desired.ts and
 * connection.ts (the module's listeners), timeout.ts, options.ts (timings), state.ts (what the parts share).
 */
import { readFile } from 'node:fs/promises';
// azure-iot-device is CommonJS: under ESM named imports type-check but fail at runtime (STYLE #13).
import azureIotDevice from 'azure-iot-device';
import azureIotDeviceMqtt from 'azure-iot-device-mqtt';
import type { ModuleClient as SdkModuleClient } from 'azure-iot-device';
import { EdgeMLError, errorMessage } from '../errors.js';
import { createRepeatLimiter, type Logger } from '../logging.js';
import type { EdgeClient } from './types.js';
import { ConnectionStatus } from './module-client/connection.js';
import { DesiredListeners } from './module-client/desired.js';
import { ModuleInputs } from './module-client/inputs.js';
import { ModuleMethods } from './module-client/methods.js';
import { resolveTimings, type ModuleClientOptions } from './module-client/options.js';
import { ModuleOutputs } from './module-client/outputs.js';
import { Recovery } from './module-client/recovery.js';
import { ReportedProperties } from './module-client/reported.js';
import { listenToSdk } from './module-client/sdk-events.js';
import { ModuleClientSession } from './module-client/session.js';
import { ModuleClientState } from './module-client/state.js';
import { TwinReader } from './module-client/twin.js';

export { MODULE_CLIENT_DEFAULTS, type ModuleClientOptions } from './module-client/options.js';

const { ModuleClient, Message, IotEdgeAuthenticationProvider, ConnectionString } = azureIotDevice;
const { Mqtt } = azureIotDeviceMqtt;

/** The environment variables the edge (workload API) path needs; GATEWAYHOSTNAME is optional. */
const EDGE_ENV_REQUIRED = [
  'IOTEDGE_WORKLOADURI',
  'IOTEDGE_DEVICEID',
  'IOTEDGE_MODULEID',
  'IOTEDGE_IOTHUBHOSTNAME',
  'IOTEDGE_AUTHSCHEME',
  'IOTEDGE_MODULEGENERATIONID',
] as const;

/**
 * Builds the edge client from the environment, without connecting (`open(signal)` connects).
 *
 * - `EdgeHubConnectionString` (or `IotHubConnectionString`) set: the connection-string path, with
 *   the CA PEM read from `EdgeModuleCACertificateFile` when set (the local edge hub and tests; several
 *   modules can live in one process because nothing is read from `process.env`).
 * - otherwise the production path: `IOTEDGE_WORKLOADURI`, `IOTEDGE_DEVICEID`, `IOTEDGE_MODULEID`,
 *   `IOTEDGE_IOTHUBHOSTNAME`, `IOTEDGE_AUTHSCHEME` (= sasToken), `IOTEDGE_MODULEGENERATIONID`, optional
 *   `IOTEDGE_GATEWAYHOSTNAME`; the CA comes from the workload API trust bundle and tokens are signed
 *   by the workload API. These are the steps `ModuleClient.fromEnvironment(Mqtt)` takes, done from the
 *   injected `env` rather than `process.env` (which `fromEnvironment` reads, and where a stray
 *   connection string would silently switch paths).
 *
 * @throws EdgeMLError CONFIG_INVALID (every missing/invalid variable listed, or the CA file unreadable),
 *   EDGE_CONNECT_FAILED (the workload API trust bundle could not be fetched).
 */
export async function createEdgeClientFromEnvironment(
  logger: Logger,
  env: Readonly<Record<string, string | undefined>>,
  options: ModuleClientOptions = {},
): Promise<EdgeClient> {
  const connectionString = nonEmpty(env['EdgeHubConnectionString']) ?? nonEmpty(env['IotHubConnectionString']);
  if (connectionString !== undefined) {
    let parsed: { DeviceId?: string; ModuleId?: string; SharedAccessKey?: string };
    try {
      parsed = ConnectionString.parse(connectionString) as typeof parsed;
    } catch (err: unknown) {
      throw new EdgeMLError('CONFIG_INVALID', 'EdgeHubConnectionString does not parse', { cause: err });
    }
    const problems: string[] = [];
    if (nonEmpty(parsed.DeviceId) === undefined) problems.push('EdgeHubConnectionString has no DeviceId');
    if (nonEmpty(parsed.ModuleId) === undefined) problems.push('EdgeHubConnectionString has no ModuleId');
    if (nonEmpty(parsed.SharedAccessKey) === undefined) problems.push('EdgeHubConnectionString has no SharedAccessKey (modules support SAS keys only)');
    if (problems.length > 0) throw new EdgeMLError('CONFIG_INVALID', problems.join('; '));
    const caFile = nonEmpty(env['EdgeModuleCACertificateFile']);
    let ca: string | undefined;
    if (caFile !== undefined) {
      try {
        ca = await readFile(caFile, 'utf8');
      } catch (err: unknown) {
        throw new EdgeMLError('CONFIG_INVALID', `EdgeModuleCACertificateFile ${caFile} cannot be read: ${errorMessage(err)}`, { cause: err });
      }
    }
    const client = ModuleClient.fromConnectionString(connectionString, Mqtt);
    // setOptions replaces the transport options object (wire notes §2): `ca` goes in this one call.
    if (ca !== undefined) await client.setOptions({ ca });
    logger.info({ path: 'connectionString', deviceId: parsed.DeviceId, moduleId: parsed.ModuleId, caFile }, 'edge client created');
    return wrapModuleClient(client, { deviceId: parsed.DeviceId ?? '', moduleId: parsed.ModuleId ?? '', logger, options });
  }

  const missing = EDGE_ENV_REQUIRED.filter((k) => nonEmpty(env[k]) === undefined).map((k) => `${k} is not set`);
  const authScheme = env['IOTEDGE_AUTHSCHEME'];
  if (authScheme !== undefined && authScheme !== '' && authScheme.toLowerCase() !== 'sastoken') missing.push(`IOTEDGE_AUTHSCHEME is ${authScheme}; only sasToken is supported`);
  if (missing.length > 0) {
    throw new EdgeMLError('CONFIG_INVALID', `no EdgeHubConnectionString and the IoT Edge environment is incomplete: ${missing.join('; ')}`);
  }
  const authConfig = {
    workloadUri: env['IOTEDGE_WORKLOADURI'] ?? '',
    deviceId: env['IOTEDGE_DEVICEID'] ?? '',
    moduleId: env['IOTEDGE_MODULEID'] ?? '',
    iothubHostName: env['IOTEDGE_IOTHUBHOSTNAME'] ?? '',
    authScheme: env['IOTEDGE_AUTHSCHEME'] ?? '',
    generationId: env['IOTEDGE_MODULEGENERATIONID'] ?? '',
    ...(nonEmpty(env['IOTEDGE_GATEWAYHOSTNAME']) === undefined ? {} : { gatewayHostName: env['IOTEDGE_GATEWAYHOSTNAME'] ?? '' }),
  };
  const provider = new IotEdgeAuthenticationProvider(authConfig);
  const ca = await new Promise<string>((resolve, reject) => {
    provider.getTrustBundle((err, bundle) => {
      if (err !== undefined && err !== null) reject(new EdgeMLError('EDGE_CONNECT_FAILED', `workload API trust bundle: ${errorMessage(err)}`, { cause: err }));
      else resolve(bundle ?? '');
    });
  });
  const client = ModuleClient.fromAuthenticationProvider(provider, Mqtt);
  await client.setOptions({ ca });
  logger.info({ path: 'workloadApi', deviceId: authConfig.deviceId, moduleId: authConfig.moduleId, workloadUri: authConfig.workloadUri }, 'edge client created');
  return wrapModuleClient(client, { deviceId: authConfig.deviceId, moduleId: authConfig.moduleId, logger, options });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** Wires the parts (see the file comment) to the SDK client. */
function wrapModuleClient(
  client: SdkModuleClient,
  ctx: { deviceId: string; moduleId: string; logger: Logger; options: ModuleClientOptions },
): EdgeClient {
  const { logger } = ctx;
  const timings = resolveTimings(ctx.options);
  const shouldLog = createRepeatLimiter();
  const state = new ModuleClientState();
  const connection = new ConnectionStatus(logger);
  const desired = new DesiredListeners(logger);
  const twin = new TwinReader({ client, logger, state, desired, timings });
  const inputs = new ModuleInputs({ client, logger, shouldLog, state });
  const methods = new ModuleMethods({ client, logger, state });
  const outputs = new ModuleOutputs({ client, state, newMessage: (body) => new Message(body) });
  const reported = new ReportedProperties({ state, twin, reportedUpdateTimeoutMs: timings.reportedUpdateTimeoutMs });
  const recovery = new Recovery({ client, logger, shouldLog, state, twin, inputs, methods, timings });
  const session = new ModuleClientSession({ client, logger, shouldLog, state, connection, twin, inputs, methods, timings });
  listenToSdk({ client, logger, shouldLog, state, connection, desired, recovery });
  return {
    deviceId: ctx.deviceId,
    moduleId: ctx.moduleId,
    open: (signal) => session.open(signal),
    close: () => session.close(),
    onInput: (inputName, handler) => inputs.register(inputName, handler),
    sendOutput: (outputName, message) => outputs.send(outputName, message),
    onMethod: (methodName, handler) => methods.register(methodName, handler),
    onDesired: (listener) => desired.on(listener),
    updateReported: (patch) => reported.update(patch),
    onConnectionChange: (listener) => connection.on(listener),
  };
}
