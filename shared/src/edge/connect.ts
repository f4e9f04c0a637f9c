/**
 * Transport selection: the one place that decides, from the environment, whether a module talks to
 * edgeHub (IoT Edge, `npm start`) or to an MQTT 5 broker (Kubernetes with Azure IoT Operations, or
 * Mosquitto locally). Module code never knows which.
 *
 * `EDGEML_EDGE_TRANSPORT`: `edgehub` (default) or `mqtt5`. The MQTT 5 settings are in mqtt5-settings.ts.
 */
import { readFile } from 'node:fs/promises';
import { EdgeMLError, errorMessage } from '../errors.js';
import type { Logger } from '../logging.js';
import { createConfigFileSource } from './config-file-source.js';
import { createEdgeClientFromEnvironment } from './module-client.js';
import { createMqtt5EdgeClient } from './mqtt5-client.js';
import { createMqtt5Connection } from './mqtt5-connection.js';
import { parseMqtt5Settings, type Env } from './mqtt5-settings.js';
import { planTopics, routesFromDocument, type TopicPlan } from './topics.js';
import type { EdgeClient } from './types.js';

export const EDGE_TRANSPORTS = ['edgehub', 'mqtt5'] as const;
export type EdgeTransport = (typeof EDGE_TRANSPORTS)[number];

/** @throws EdgeMLError CONFIG_INVALID for an unknown transport name. */
export function selectedTransport(env: Env): EdgeTransport {
  const raw = (env['EDGEML_EDGE_TRANSPORT'] ?? '').trim().toLowerCase();
  if (raw === '') return 'edgehub';
  if ((EDGE_TRANSPORTS as readonly string[]).includes(raw)) return raw as EdgeTransport;
  throw new EdgeMLError('CONFIG_INVALID', `EDGEML_EDGE_TRANSPORT must be one of ${EDGE_TRANSPORTS.join(', ')} (got "${raw}")`);
}

/**
 * Reads a deployment manifest (or a bare routes object) and returns its topic plan.
 * @throws EdgeMLError CONFIG_INVALID (unreadable, not JSON), ROUTE_COMPILE_ERROR (untranslatable routes)
 */
export async function loadTopicPlan(file: string, prefix: string): Promise<TopicPlan> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (err: unknown) {
    throw new EdgeMLError('CONFIG_INVALID', `routes file ${file} cannot be read as JSON: ${errorMessage(err)}`, { cause: err });
  }
  return planTopics(routesFromDocument(doc), prefix);
}

/**
 * Builds the edge client the environment asks for, without connecting (`open(signal)` connects).
 * `moduleName` is the module's own name (its topics on MQTT 5; edgeHub reads it from IOTEDGE_MODULEID).
 * @throws EdgeMLError CONFIG_INVALID, ROUTE_COMPILE_ERROR
 */
export async function connectEdgeClient(logger: Logger, env: Env, moduleName?: string): Promise<EdgeClient> {
  const transport = selectedTransport(env);
  if (transport === 'edgehub') return createEdgeClientFromEnvironment(logger, env);
  const moduleId = moduleName ?? env['IOTEDGE_MODULEID'] ?? '';
  if (moduleId === '') throw new EdgeMLError('CONFIG_INVALID', 'the MQTT 5 transport needs the module name');
  const settings = parseMqtt5Settings(moduleId, env);
  const plan = await loadTopicPlan(settings.routesFile, settings.topicPrefix);
  const connection = createMqtt5Connection({ settings, logger: logger.child({ component: 'mqtt5' }) });
  const desired = settings.configFile === undefined ? undefined : createConfigFileSource({ file: settings.configFile, pollMs: settings.configPollMs, logger });
  logger.info(
    { transport, host: settings.host, port: settings.port, tls: settings.useTls, auth: settings.auth.kind, clientId: settings.clientId, configFile: settings.configFile, subscriptions: plan.inputs[moduleId]?.map((s) => s.subscription) ?? [] },
    'edge client created (MQTT 5)',
  );
  return createMqtt5EdgeClient({ connection, deviceId: settings.deviceId, moduleId, plan, ...(desired === undefined ? {} : { desired }), logger });
}
