/**
 * The suite on an MQTT 5 broker, on one machine: Mosquitto (TLS + passwords), each module as one or
 * more child processes with the environment the Kubernetes manifests give its pods (the MQTT 5
 * transport, a mounted configuration file instead of the twin, a leader lease for the watcher), and
 * the shared data folder standing in for the ReadWriteMany volume. Replicas of a module share its
 * subscriptions (`$share/…`); each replica has a stable client id (`<module>-<n>`, as a StatefulSet
 * pod name), so a killed replica restarted by its policy resumes its persistent session.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createMqtt5Connection, createMqtt5Operator, dataPaths, DEFAULT_TOPIC_PREFIX, EdgeMLError, errorMessage, sleep, parseMqtt5Settings, type DataPaths, type Logger, type Mqtt5Connection, type Mqtt5Operator } from '@edgeml/shared';
import { installBundledModels } from '@edgeml/inferencer';
import { freePort, ModuleProcess, type ModuleProcessState } from '@edgeml/runtime';
import { startMosquitto, type MosquittoBroker } from './mosquitto.js';

export const SUITE_MODULES = ['uploader', 'aggregator', 'inferencer', 'transformer', 'watcher'] as const;
export type SuiteModule = (typeof SUITE_MODULES)[number];

/** The MQTT user the modules and the operator use locally. */
export const LOCAL_MQTT_USER = 'edgeml';

export interface MqttSuiteOptions {
  readonly repoRoot: string;
  readonly workDir: string;
  /** Replicas per module (default 1 each; the watcher is a single leader whatever is asked: extra replicas stand by). */
  readonly replicas?: Partial<Record<SuiteModule, number>>;
  /** Desired properties per module, merged over the manifest's `properties.desired` into its configuration file. */
  readonly config?: Partial<Record<SuiteModule, Record<string, unknown>>>;
  /** Extra environment for every module process. */
  readonly env?: Readonly<Record<string, string>>;
  /** Default: the repository's deployment.template.json (its routes give the topics, its twins the configuration). */
  readonly manifestFile?: string;
  readonly logger: Logger;
}

export interface ReplicaHandle {
  readonly module: SuiteModule;
  readonly index: number;
  /** Its MQTT client id and lease identity. */
  readonly id: string;
  readonly metricsPort: number;
  readonly process: ModuleProcess;
}

export interface MqttSuite {
  readonly broker: MosquittoBroker;
  readonly paths: DataPaths;
  readonly workDir: string;
  readonly replicas: readonly ReplicaHandle[];
  /** An operator connection (method invocation, status). */
  readonly operator: Mqtt5Operator;
  /** The configuration file a module's replicas watch. */
  configFile(module: SuiteModule): string;
  /** Environment of an MQTT client that connects like the modules do (for test subscribers). */
  clientEnv(clientId: string): Record<string, string>;
  /** A raw connection with the modules' credentials (callers close it). */
  connect(clientId: string, options?: { cleanStart?: boolean }): Promise<Mqtt5Connection>;
  states(): ModuleProcessState[];
  stop(): Promise<void>;
}

const INHERITED_ENV = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The `properties.desired` of each module in a deployment manifest. */
async function manifestDesired(file: string): Promise<Record<string, Record<string, unknown>>> {
  const doc = JSON.parse(await readFile(file, 'utf8')) as unknown;
  const content = isObject(doc) && isObject(doc['modulesContent']) ? doc['modulesContent'] : {};
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, value] of Object.entries(content)) {
    if (name.startsWith('$') || !isObject(value)) continue;
    const desired = value['properties.desired'];
    if (isObject(desired)) out[name] = desired;
  }
  return out;
}

/** Waits for a replica's readiness probe (connected, configured, subscribed). @throws EdgeMLError TIMEOUT */
export async function waitReady(replica: ReplicaHandle, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${replica.metricsPort}/health/ready`, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > until) throw new EdgeMLError('TIMEOUT', `${replica.id} not ready within ${timeoutMs} ms`);
    await sleep(250);
  }
}

export async function startMqttSuite(options: MqttSuiteOptions): Promise<MqttSuite> {
  const { logger } = options;
  const workDir = path.resolve(options.workDir);
  const manifestFile = options.manifestFile ?? path.join(options.repoRoot, 'deployment.template.json');
  const paths = dataPaths(path.join(workDir, 'data'));
  const logsDir = path.join(workDir, 'logs');
  const configDir = path.join(workDir, 'config');
  for (const d of [paths.inbox, paths.failed, paths.processed, paths.staging, paths.models, paths.cloudshare, logsDir, configDir]) await mkdir(d, { recursive: true });
  await installBundledModels(paths.models);

  const password = randomBytes(18).toString('base64url');
  const broker = await startMosquitto({ dir: path.join(workDir, 'broker'), users: { [LOCAL_MQTT_USER]: password } });
  const desired = await manifestDesired(manifestFile);
  const configFile = (m: SuiteModule): string => path.join(configDir, `${m}.json`);
  for (const m of SUITE_MODULES) {
    await writeFile(configFile(m), JSON.stringify({ ...(desired[m] ?? {}), ...(options.config?.[m] ?? {}) }, null, 2));
  }

  const clientEnv = (clientId: string): Record<string, string> => ({
    EDGEML_EDGE_TRANSPORT: 'mqtt5',
    AIO_BROKER_HOSTNAME: broker.host,
    AIO_BROKER_TCP_PORT: String(broker.port),
    AIO_MQTT_USE_TLS: 'true',
    AIO_TLS_CA_FILE: broker.pki.caFile,
    AIO_MQTT_USERNAME: LOCAL_MQTT_USER,
    AIO_MQTT_PASSWORD_FILE: broker.passwordFile(LOCAL_MQTT_USER),
    AIO_MQTT_CLIENT_ID: clientId,
    EDGEML_MQTT_ROUTES_FILE: manifestFile,
  });
  // For the operator command (npm run edge:mqtt -- --workdir DIR …): how to reach this broker.
  await writeFile(path.join(workDir, 'operator.env'), Object.entries(clientEnv('')).filter(([k]) => k !== 'AIO_MQTT_CLIENT_ID').map(([k, v]) => `${k}=${v}\n`).join(''));
  const connectAs = async (clientId: string, opts: { cleanStart?: boolean } = {}): Promise<Mqtt5Connection> => {
    const settings = parseMqtt5Settings('operator', { ...clientEnv(clientId), AIO_MQTT_SESSION_EXPIRY: '0' });
    const connection = createMqtt5Connection({ settings, logger: logger.child({ component: 'mqtt-client', clientId }), cleanStart: opts.cleanStart ?? true });
    await connection.connect(AbortSignal.timeout(15_000));
    return connection;
  };

  const replicas: ReplicaHandle[] = [];
  for (const module of SUITE_MODULES) {
    const count = Math.max(1, options.replicas?.[module] ?? 1);
    for (let index = 0; index < count; index++) {
      const id = `${module}-${index}`;
      const metricsPort = await freePort();
      const env: Record<string, string> = {};
      for (const key of INHERITED_ENV) {
        const v = process.env[key];
        if (v !== undefined) env[key] = v;
      }
      Object.assign(env, clientEnv(id), {
        EDGEML_DATA_ROOT: paths.root,
        EDGEML_METRICS_PORT: String(metricsPort),
        EDGEML_CONFIG_FILE: configFile(module),
        EDGEML_CONFIG_POLL_MS: '500',
        EDGEML_DEVICE_ID: 'mqtt-local',
        EDGEML_LOG_LEVEL: process.env['EDGEML_LOG_LEVEL'] ?? 'info',
        ...(module === 'watcher' ? { EDGEML_LEADER_LEASE: 'file', EDGEML_LEADER_IDENTITY: id, AIO_MQTT_CLIENT_ID: 'watcher' } : {}),
        ...(options.env ?? {}),
      });
      const proc = new ModuleProcess(
        {
          name: id,
          command: process.execPath,
          args: [path.join(options.repoRoot, 'modules', module, 'dist', 'main.js')],
          cwd: options.repoRoot,
          env,
          restartPolicy: 'always',
          logFile: path.join(logsDir, `${id}.log`),
        },
        logger.child({ component: 'supervisor' }),
      );
      replicas.push({ module, index, id, metricsPort, process: proc });
    }
  }
  // Consumers first, the watcher once they are ready: a broker keeps nothing for an input whose
  // subscriber has never connected (on Kubernetes the watcher's re-emission covers a first start).
  for (const r of replicas) if (r.module !== 'watcher') r.process.start();
  await Promise.all(replicas.filter((r) => r.module !== 'watcher').map((r) => waitReady(r, 180_000)));
  for (const r of replicas) if (r.module === 'watcher') r.process.start();

  const operatorConnection = await connectAs(`operator-${randomBytes(4).toString('hex')}`);
  const operator = createMqtt5Operator(operatorConnection, DEFAULT_TOPIC_PREFIX);
  let stopping: Promise<void> | undefined;
  return {
    broker,
    paths,
    workDir,
    replicas,
    operator,
    configFile,
    clientEnv,
    connect: connectAs,
    states: () => replicas.map((r) => r.process.snapshot()),
    stop() {
      stopping ??= (async () => {
        await Promise.all(replicas.map((r) => r.process.stop(20_000)));
        await operatorConnection.close().catch((err: unknown) => logger.warn({ err }, `operator disconnect failed: ${errorMessage(err)}`));
        await broker.stop();
      })();
      return stopping;
    },
  };
}
