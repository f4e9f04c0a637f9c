/** Test helpers: a real hub on ephemeral ports in a temp dir, and real ModuleClients through the adapter. */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createEdgeClientFromEnvironment, createLogger, type DesiredUpdate, type EdgeClient, type IncomingMessage, type Logger } from '@edgeml/shared';
import { createEdgeHub, createModuleSasToken, type EdgeHub, type EdgeHubOptions } from '@edgeml/edge-hub';
import mqtt, { type MqttClient } from 'mqtt';

export const logger: Logger = createLogger({ name: 'edge-hub-test', level: process.env['EDGEML_TEST_LOG'] ?? 'silent' });

/**
 * An edge client's log lines, kept so that a test can tell which recovery path ran: `count` counts the
 * lines whose message contains `msg`, `countExact` those whose message is `msg`.
 */
export function captureLog(name: string): { count(msg: string): number; countExact(msg: string): number; logger: Logger } {
  const lines: Array<{ msg?: string }> = [];
  return {
    count: (msg) => lines.filter((l) => l.msg?.includes(msg) === true).length,
    countExact: (msg) => lines.filter((l) => l.msg === msg).length,
    logger: createLogger({ name, level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s) as { msg?: string }) } }),
  };
}

export function manifest(options: {
  modules: string[];
  routes: Record<string, string | { route: string; priority?: number; timeToLiveSecs?: number }>;
  desired?: Record<string, Record<string, unknown>>;
  timeToLiveSecs?: number;
  maxSizeBytes?: number;
}): Record<string, unknown> {
  const modulesContent: Record<string, unknown> = {
    $edgeAgent: {
      'properties.desired': {
        schemaVersion: '1.1',
        runtime: { type: 'docker', settings: { minDockerVersion: 'v1.25', loggingOptions: '' } },
        systemModules: {},
        modules: Object.fromEntries(options.modules.map((m) => [m, { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: `${m}:dev` } }])),
      },
    },
    $edgeHub: {
      'properties.desired': {
        schemaVersion: '1.2',
        routes: options.routes,
        storeAndForwardConfiguration: {
          timeToLiveSecs: options.timeToLiveSecs ?? 7200,
          ...(options.maxSizeBytes === undefined ? {} : { storeLimits: { maxSizeBytes: options.maxSizeBytes } }),
        },
      },
    },
  };
  for (const [m, d] of Object.entries(options.desired ?? {})) modulesContent[m] = { 'properties.desired': d };
  return { modulesContent };
}

export async function tempDir(prefix = 'edgeml-hub-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function startHub(options: Omit<EdgeHubOptions, 'logger' | 'port'> & { port?: number }): Promise<EdgeHub> {
  const hub = await createEdgeHub({ port: 0, logger, ...options });
  await hub.start();
  return hub;
}

/** Connection-string path, as modules under the local runtime run (nothing read from process.env). */
export async function connectModule(hub: EdgeHub, moduleId: string, env: Record<string, string> = hub.moduleEnv(moduleId)): Promise<EdgeClient> {
  const client = await createEdgeClientFromEnvironment(logger.child({ moduleId }), env, {
    openBackoff: { initialDelayMs: 50, maxDelayMs: 500 },
    twinReadTimeoutMs: 3000,
  });
  await client.open(AbortSignal.timeout(20_000));
  return client;
}

/** Collects input messages of one input and lets a test wait for N of them. */
export function collectInputs(client: EdgeClient, inputName: string): { messages: IncomingMessage[]; waitFor(n: number, timeoutMs?: number): Promise<IncomingMessage[]> } {
  const messages: IncomingMessage[] = [];
  const waiters: Array<() => void> = [];
  client.onInput(inputName, (m) => {
    messages.push(m);
    for (const w of waiters.splice(0)) w();
    return Promise.resolve();
  });
  return {
    messages,
    waitFor: (n, timeoutMs = 10_000) => waitUntil(() => messages.length >= n, timeoutMs, `${n} messages on ${inputName} (have ${messages.length})`).then(() => messages),
  };
}

export function collectDesired(client: EdgeClient): DesiredUpdate[] {
  const updates: DesiredUpdate[] = [];
  client.onDesired((u) => updates.push(u));
  return updates;
}

export async function waitUntil(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A raw MQTT 3.1.1 client (mqtt.js 5) presenting `moduleId`'s real credentials, or tampered ones. */
export async function rawClient(
  hub: EdgeHub,
  moduleId: string,
  options: { clientId?: string; usernameModule?: string; expirySecs?: number; key?: string; keepAck?: boolean; token?: string } = {},
): Promise<MqttClient> {
  const cs = hub.moduleEnv(moduleId)['EdgeHubConnectionString'] ?? '';
  const key = options.key ?? /SharedAccessKey=([^;]+)/.exec(cs)?.[1] ?? '';
  const token =
    options.token ??
    createModuleSasToken({ hostName: hub.iotHubHostName, deviceId: hub.deviceId, moduleId, keyBase64: key, expirySecs: options.expirySecs ?? Math.floor(Date.now() / 1000) + 3600 });
  return mqtt.connectAsync(`mqtts://localhost:${hub.port}`, {
    protocolVersion: 4,
    clientId: options.clientId ?? `${hub.deviceId}/${moduleId}`,
    username: `${hub.iotHubHostName}/${hub.deviceId}/${options.usernameModule ?? moduleId}/?api-version=2021-04-12`,
    password: token,
    clean: false,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ca: readFileSync(hub.caCertificateFile),
  });
}
