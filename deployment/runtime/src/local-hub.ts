import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createEdgeHub, createModuleSasToken, startWorkloadApi, type EdgeHub } from '@edgeml/edge-hub';
import type { Logger } from '@edgeml/shared';
import { startControlApi } from './control-api.js';
import { readEnvFile } from './env-file.js';
import { countLines } from './journal.js';
import { loadManifest, mapContainerPath } from './manifest.js';
import { WORKLOAD_API_VERSION, workloadEnv, workloadSocketPath } from './module-env.js';
import { defaultHubPort } from './ports.js';
import { removeRuntimeInfo, writeRuntimeInfo } from './runtime-info.js';

/** Lifetime of the MQTT password (a module SAS token) printed for raw MQTT clients. */
export const MQTT_PASSWORD_LIFETIME_SECS = 24 * 60 * 60;

export interface LocalHubOptions {
  readonly workDir: string;
  readonly manifestFile: string;
  /** Values for the manifest's `$VARS`; absent → only `env`. */
  readonly envFile?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  /** MQTT over TLS; default 8883 when free, else a free port; 0 = a free port. */
  readonly hubPort?: number;
  /** Prometheus `/metrics`; default 0 (a free port). */
  readonly metricsPort?: number;
  /** Clock for the MQTT password's expiry (ms since the epoch); default Date.now. */
  readonly now?: () => number;
}

/** How one module of the manifest connects to the hub, in any language. */
export interface ModuleConnection {
  readonly moduleId: string;
  /** `<workdir>/env/<module>.env` (0600): `KEY='value'` lines of `env` and the `EDGEML_HUB_MQTT_*` values. */
  readonly envFile: string;
  /**
   * What edgeAgent would give the module: the manifest's `env` (the `/data` volume mapped into the work folder),
   * `EdgeHubConnectionString` + `EdgeModuleCACertificateFile` (the connection-string path of every azure-iot SDK),
   * and the `IOTEDGE_*` workload-API variables (the production path). Either path reaches this hub.
   */
  readonly env: Readonly<Record<string, string>>;
  /** For a raw MQTT 3.1.1 client (mosquitto_pub/sub): TLS to host:port with this identity. */
  readonly mqtt: {
    readonly host: string;
    readonly port: number;
    readonly clientId: string;
    readonly username: string;
    /** A module SAS token, valid until `passwordExpiresAt`. */
    readonly password: string;
    readonly passwordExpiresAt: string;
    readonly caFile: string;
  };
}

export interface LocalHub {
  readonly hub: EdgeHub;
  readonly manifestFile: string;
  readonly workDir: string;
  readonly controlUrl: string;
  readonly workloadUri: string;
  readonly modules: readonly ModuleConnection[];
  /** Idempotent. */
  stop(): Promise<void>;
}

/** A value single-quoted for a POSIX shell and dotenv readers (`'` inside becomes `'\''`). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function sharedAccessKey(connectionString: string): string {
  const key = /(?:^|;)SharedAccessKey=([^;]+)/.exec(connectionString)?.[1];
  if (key === undefined) throw new Error('the hub gave a connection string without SharedAccessKey');
  return key;
}

/**
 * The local edge hub alone, for modules in any language run by hand: the hub with the manifest's routes and
 * twins, the workload API and the control API (CLI, curl); no module is started, no Azurite. Each module of
 * the manifest gets an env file to start it with.
 */
export async function startLocalHub(options: LocalHubOptions): Promise<LocalHub> {
  const started = (options.now ?? Date.now)();
  const workDir = path.resolve(options.workDir);
  const dataDir = path.join(workDir, 'data');
  for (const d of ['hub', 'run', 'env', 'logs', 'data']) await mkdir(path.join(workDir, d), { recursive: true });
  const vars = { ...(options.envFile === undefined ? {} : await readEnvFile(options.envFile)), ...options.env };
  const manifest = await loadManifest(options.manifestFile, vars);
  const hub = await createEdgeHub({
    workDir: path.join(workDir, 'hub'),
    manifest: manifest.resolved,
    port: options.hubPort ?? (await defaultHubPort()),
    metricsPort: options.metricsPort ?? 0,
    logger: options.logger.child({ component: 'edge-hub' }),
  });
  await hub.start();
  const workloadSocket = workloadSocketPath(workDir, process.pid);
  const workload = await startWorkloadApi({ socketPath: workloadSocket, hub, logger: options.logger.child({ component: 'workload-api' }) });
  const status = async (): Promise<unknown> => ({
    mode: 'hub',
    elapsedMs: (options.now ?? Date.now)() - started,
    processes: [],
    modules: {},
    hub: { ...hub.stats(), port: hub.port, metricsPort: hub.metricsPort ?? null },
    upstreamCount: await countLines(hub.upstreamJournalFile),
  });
  const control = await startControlApi({ hub: () => hub, status, logger: options.logger.child({ component: 'control-api' }) });

  const expirySecs = Math.floor(started / 1000) + MQTT_PASSWORD_LIFETIME_SECS;
  const modules: ModuleConnection[] = [];
  for (const moduleId of hub.moduleIds) {
    const fromManifest = manifest.modules.find((m) => m.name === moduleId)?.env ?? {};
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(fromManifest)) env[k] = v.startsWith('/data') ? mapContainerPath(v, dataDir) : v;
    Object.assign(env, hub.moduleEnv(moduleId), workloadEnv(hub, moduleId, workloadSocket));
    const mqtt = {
      host: 'localhost',
      port: hub.port,
      clientId: `${hub.deviceId}/${moduleId}`,
      username: `${hub.iotHubHostName}/${hub.deviceId}/${moduleId}/?api-version=${WORKLOAD_API_VERSION}`,
      password: createModuleSasToken({ hostName: hub.iotHubHostName, deviceId: hub.deviceId, moduleId, keyBase64: sharedAccessKey(env['EdgeHubConnectionString'] ?? ''), expirySecs }),
      passwordExpiresAt: new Date(expirySecs * 1000).toISOString(),
      caFile: hub.caCertificateFile,
    };
    const envFile = path.join(workDir, 'env', `${moduleId}.env`);
    const lines = [
      `# ${moduleId}: the environment to start this module with (local edge hub in ${workDir}).`,
      ...Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`),
      `# Raw MQTT (mosquitto_pub/sub): TLS, MQTT 3.1.1; the password is a SAS token valid until ${mqtt.passwordExpiresAt}.`,
      `EDGEML_HUB_MQTT_HOST=${shellQuote(mqtt.host)}`,
      `EDGEML_HUB_MQTT_PORT=${shellQuote(String(mqtt.port))}`,
      `EDGEML_HUB_MQTT_CLIENT_ID=${shellQuote(mqtt.clientId)}`,
      `EDGEML_HUB_MQTT_USERNAME=${shellQuote(mqtt.username)}`,
      `EDGEML_HUB_MQTT_PASSWORD=${shellQuote(mqtt.password)}`,
      `EDGEML_HUB_MQTT_CAFILE=${shellQuote(mqtt.caFile)}`,
    ];
    await writeFile(envFile, `${lines.join('\n')}\n`, { mode: 0o600 });
    await chmod(envFile, 0o600);
    modules.push({ moduleId, envFile, env, mqtt });
  }

  await writeRuntimeInfo(workDir, {
    mode: 'hub',
    pid: process.pid,
    controlUrl: control.url,
    hubPort: hub.port,
    hubMetricsPort: hub.metricsPort ?? null,
    caCertificateFile: hub.caCertificateFile,
    workloadUri: `unix://${workloadSocket}`,
    upstreamJournal: hub.upstreamJournalFile,
    logsDir: path.join(workDir, 'logs'),
    manifest: options.manifestFile,
    startedAt: new Date(started).toISOString(),
  });
  options.logger.info({ port: hub.port, modules: hub.moduleIds, manifest: options.manifestFile }, 'local edge hub running alone');

  let stopping: Promise<void> | undefined;
  return {
    hub,
    manifestFile: options.manifestFile,
    workDir,
    controlUrl: control.url,
    workloadUri: `unix://${workloadSocket}`,
    modules,
    stop() {
      stopping ??= (async () => {
        await control.close();
        await removeRuntimeInfo(workDir);
        await workload.close();
        await hub.stop();
      })();
      return stopping;
    },
  };
}
