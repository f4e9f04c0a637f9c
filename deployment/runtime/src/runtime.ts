import { mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { createEdgeHub, startWorkloadApi, type EdgeHub } from '@edgeml/edge-hub';
import { installBundledModels } from '@edgeml/inferencer';
import { dataPaths, errorMessage, sleep, type DataPaths, type Logger } from '@edgeml/shared';
import { startAzurite, type AzuriteHandle } from './azurite.js';
import { startControlApi } from './control-api.js';
import { readEnvFile } from './env-file.js';
import { countLines } from './journal.js';
import { loadManifest, mapContainerPath, type RuntimeManifest } from './manifest.js';
import { workloadEnv, workloadSocketPath } from './module-env.js';
import { defaultHubPort, freePort } from './ports.js';
import { removeRuntimeInfo, writeRuntimeInfo } from './runtime-info.js';
import { generateSamples } from './samples.js';
import { isIdle, moduleCounts, openItems, watcherCounts } from './status.js';
import { ModuleProcess, type ModuleProcessState } from './supervisor.js';

export interface LocalRuntimeOptions {
  /** Repository root: where modules/<name>/dist/main.js live. */
  readonly repoRoot: string;
  /** Work folder (default `<repo>/.edge`). */
  readonly workDir: string;
  /** Default `<repo>/deployment.template.json`. */
  readonly manifestFile?: string;
  /** Default `<repo>/.env`. */
  readonly envFile?: string;
  /** Generate sample data into an empty inbox. Default true. */
  readonly demo?: boolean;
  /** Hub MQTT port; 0 picks a free one. Default 8883 when free, otherwise a free port. */
  readonly hubPort?: number;
  /** Port of the hub's Prometheus `/metrics` (edgeHub's names). Default 0: a free port, in runtime.json and the status. */
  readonly hubMetricsPort?: number;
  /** Environment the runtime itself sees (secrets for the manifest's `$VARS`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  /** Per-module stop deadline. Default 15 000 ms. */
  readonly stopDeadlineMs?: number;
}

export interface RuntimeStatus {
  readonly elapsedMs: number;
  readonly processes: readonly ModuleProcessState[];
  /** getStatus payload per module (or `{ error }`). */
  readonly modules: Readonly<Record<string, unknown>>;
  readonly hub: ReturnType<EdgeHub['stats']> & { readonly port: number; readonly metricsPort: number | null };
  readonly upstreamCount: number;
}

export interface RunSummary {
  readonly filesSeen: number;
  readonly transformed: number;
  /** Inference results, a chain's per-crop steps included. */
  readonly inferred: number;
  /** Per-file chain results (the aggregator's): one per image a chain ran on. */
  readonly chainResults: number;
  readonly uploaded: number;
  readonly completed: number;
  readonly deadLettered: number;
  readonly deadLetteredByReason: Readonly<Record<string, number>>;
  readonly unaccounted: number;
  readonly upstreamMessages: number;
  readonly blobs: number;
  readonly restarts: Readonly<Record<string, number>>;
  readonly wallTimeMs: number;
  readonly ok: boolean;
}

export interface LocalRuntime {
  readonly hub: EdgeHub;
  readonly paths: DataPaths;
  readonly workDir: string;
  readonly azurite: AzuriteHandle | undefined;
  readonly manifest: RuntimeManifest;
  readonly processes: ReadonlyMap<string, ModuleProcess>;
  readonly controlUrl: string;
  /** Blob endpoint the uploader writes to (Azurite or the configured account). */
  readonly storageConnectionString: string | undefined;
  status(): Promise<RuntimeStatus>;
  /** Resolves once the watcher reports idle (every stable file completed or dead-lettered). */
  waitUntilIdle(options?: { signal?: AbortSignal; pollMs?: number; settleMs?: number }): Promise<void>;
  summary(): Promise<RunSummary>;
  /**
   * Stops the edge hub, waits `downMs` (default 0), and starts a new hub on the same work folder and
   * port (the workload API stays up, as aziot-edged does): queued messages, twins and identities
   * survive; modules reconnect on their own. `hub` then returns the new instance (listeners
   * registered on the old one are gone).
   */
  restartHub(options?: { downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

/** Environment variables a module process inherits from the runtime (besides the manifest's env). */
const INHERITED_ENV = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ', 'SYSTEMROOT', 'NODE_EXTRA_CA_CERTS'];

/** Counts the watcher's dead-letter records (`*.error.json` anywhere under share/failed) by their `code`. */
async function deadLettersByCode(failedDir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const entries = await readdir(failedDir, { recursive: true }).catch(() => [] as string[]);
  for (const rel of entries) {
    if (!rel.endsWith('.error.json')) continue;
    try {
      const doc = JSON.parse(await readFile(path.join(failedDir, rel), 'utf8')) as { code?: unknown };
      const code = typeof doc.code === 'string' ? doc.code : 'UNKNOWN';
      out[code] = (out[code] ?? 0) + 1;
    } catch {
      out['UNREADABLE_RECORD'] = (out['UNREADABLE_RECORD'] ?? 0) + 1;
    }
  }
  return out;
}

/** The variables through which the uploader gets real storage credentials (a value or a secret file). */
export const STORAGE_CREDENTIAL_VARIABLES = [
  'EDGEML_STORAGE_CONNECTION_STRING',
  'EDGEML_STORAGE_CONTAINER_SAS_URL',
  'EDGEML_STORAGE_CONNECTION_STRING_FILE',
  'EDGEML_STORAGE_CONTAINER_SAS_URL_FILE',
] as const;

/** True when the environment names a storage account for the uploader, so no Azurite is started. */
export function storageConfigured(vars: Readonly<Record<string, string | undefined>>): boolean {
  return STORAGE_CREDENTIAL_VARIABLES.some((name) => (vars[name] ?? '') !== '');
}

/**
 * Starts the whole suite on this machine the way an IoT Edge device would run it: the local edge
 * hub with the manifest's routes and twins, the workload API, Azurite (unless real storage is
 * configured), and each module as a child process with the environment edgeAgent would give it.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const started = Date.now();
  const logger = options.logger;
  const workDir = path.resolve(options.workDir);
  const dataDir = path.join(workDir, 'data');
  const logsDir = path.join(workDir, 'logs');
  for (const d of [workDir, dataDir, logsDir, path.join(workDir, 'hub'), path.join(workDir, 'run')]) await mkdir(d, { recursive: true });

  const fileVars = await readEnvFile(options.envFile ?? path.join(options.repoRoot, '.env'));
  const vars: Record<string, string | undefined> = { ...fileVars, ...options.env };

  let azurite: AzuriteHandle | undefined;
  if (!storageConfigured(vars)) {
    azurite = await startAzurite({ location: path.join(workDir, 'azurite'), logFile: path.join(logsDir, 'azurite.log'), logger });
    vars['EDGEML_STORAGE_CONNECTION_STRING'] = azurite.connectionString;
  } else {
    logger.info('using the storage account configured in the environment / .env');
  }

  const manifest = await loadManifest(options.manifestFile ?? path.join(options.repoRoot, 'deployment.template.json'), vars);
  if (manifest.unresolved.length > 0) logger.warn({ variables: manifest.unresolved }, 'manifest variables without a value (set them in .env)');

  const paths = dataPaths(dataDir);
  for (const d of [paths.inbox, paths.failed, paths.processed, paths.staging, paths.models, paths.cloudshare]) await mkdir(d, { recursive: true });
  await installBundledModels(paths.models);
  if (options.demo !== false) {
    const existing = (await readdir(paths.inbox)).filter((n) => !n.startsWith('.'));
    if (existing.length === 0) {
      const samples = await generateSamples(paths.inbox);
      logger.info({ images: samples.images.length, tables: samples.tables.length }, 'inbox was empty: generated sample data');
    }
  }

  const hubPort = options.hubPort ?? (await defaultHubPort());
  const deviceId = vars['EDGEML_DEVICE_ID'] ?? 'edgeml-dev';
  const iotHubHostName = 'edgeml-local.azure-devices.net';
  const newHub = (port: number, metricsPort: number): Promise<EdgeHub> =>
    createEdgeHub({ workDir: path.join(workDir, 'hub'), manifest: manifest.resolved, deviceId, iotHubHostName, port, metricsPort, logger: logger.child({ component: 'edge-hub' }) });
  // `let`: restartHub() replaces it (a stopped hub cannot start again); every closure below reads the current one.
  let hub = await newHub(hubPort, options.hubMetricsPort ?? 0);
  await hub.start();
  const workloadSocket = workloadSocketPath(workDir, process.pid);
  // The workload API stands for aziot-edged, which outlives edgeHub restarts: it signs with whichever hub is current.
  const currentHub = new Proxy({} as EdgeHub, { get: (_target, prop) => Reflect.get(hub, prop) as unknown });
  const workload = await startWorkloadApi({ socketPath: workloadSocket, hub: currentHub, logger: logger.child({ component: 'workload-api' }) });

  const processes = new Map<string, ModuleProcess>();
  const metricsPorts: Record<string, number> = {};
  for (const m of manifest.modules) {
    if (m.status !== 'running') continue;
    const entry = path.join(options.repoRoot, 'modules', m.name, 'dist', 'main.js');
    const env: Record<string, string> = {};
    for (const key of INHERITED_ENV) {
      const v = process.env[key];
      if (v !== undefined) env[key] = v;
    }
    for (const [k, v] of Object.entries(m.env)) env[k] = v.startsWith('/data') ? mapContainerPath(v, dataDir) : v;
    const dataBind = m.binds.find((b) => b.containerPath === '/data');
    env['EDGEML_DATA_ROOT'] = dataBind !== undefined || env['EDGEML_DATA_ROOT'] === undefined ? dataDir : env['EDGEML_DATA_ROOT'];
    metricsPorts[m.name] = await freePort();
    env['EDGEML_METRICS_PORT'] = String(metricsPorts[m.name]);
    Object.assign(env, workloadEnv(hub, m.name, workloadSocket));
    const proc = new ModuleProcess(
      {
        name: m.name,
        command: process.execPath,
        args: [entry],
        cwd: options.repoRoot,
        env,
        restartPolicy: m.restartPolicy,
        logFile: path.join(logsDir, `${m.name}.log`),
        healthUrl: `http://127.0.0.1:${metricsPorts[m.name]}/health/live`,
      },
      logger.child({ component: 'supervisor' }),
    );
    processes.set(m.name, proc);
    proc.start();
  }

  const status = async (): Promise<RuntimeStatus> => {
    const modules: Record<string, unknown> = {};
    await Promise.all(
      [...processes.keys()].map(async (name) => {
        try {
          const r = await hub.invokeMethod(name, 'getStatus', null, { responseTimeoutMs: 5_000 });
          modules[name] = r.status === 200 ? r.payload : { error: `getStatus answered ${r.status}`, status: r.status, payload: r.payload };
        } catch (err: unknown) {
          modules[name] = { error: errorMessage(err) };
        }
      }),
    );
    return {
      elapsedMs: Date.now() - started,
      processes: [...processes.values()].map((p) => p.snapshot()),
      modules,
      hub: { ...hub.stats(), port: hub.port, metricsPort: hub.metricsPort ?? null },
      upstreamCount: await countLines(hub.upstreamJournalFile),
    };
  };

  const countBlobs = async (): Promise<number> => {
    const cs = vars['EDGEML_STORAGE_CONNECTION_STRING'];
    if (cs === undefined || cs === '') return -1;
    const service = BlobServiceClient.fromConnectionString(cs);
    let n = 0;
    for await (const container of service.listContainers()) {
      for await (const _blob of service.getContainerClient(container.name).listBlobsFlat()) n++;
    }
    return n;
  };

  // The control API lets the `edgeml` CLI talk to this running instance.
  const control = await startControlApi({ hub: () => hub, status: () => status(), summary: () => summary(), logger: logger.child({ component: 'control-api' }) });
  const controlUrl = control.url;
  await writeRuntimeInfo(workDir, {
    mode: 'suite',
    pid: process.pid,
    controlUrl,
    hubPort: hub.port,
    hubMetricsPort: hub.metricsPort ?? null,
    caCertificateFile: hub.caCertificateFile,
    workloadUri: `unix://${workloadSocket}`,
    upstreamJournal: hub.upstreamJournalFile,
    logsDir,
    dataDir,
    blobEndpoint: azurite?.blobEndpoint ?? null,
    metricsPorts,
    startedAt: new Date(started).toISOString(),
  });

  const summary = async (): Promise<RunSummary> => {
    const s = await status();
    const w = watcherCounts(s.modules['watcher']);
    const reasons = await deadLettersByCode(paths.failed);
    const t = moduleCounts(s.modules['transformer']);
    const inf = moduleCounts(s.modules['inferencer']);
    const up = moduleCounts(s.modules['uploader']);
    const agg = moduleCounts(s.modules['aggregator']);
    const detected = w?.detected ?? 0;
    const restarts: Record<string, number> = {};
    for (const p of s.processes) restarts[p.name] = p.restarts;
    const unaccounted = w === undefined ? -1 : openItems(w);
    return {
      filesSeen: detected,
      transformed: t['forwarded'] ?? 0,
      inferred: inf['results'] ?? 0,
      chainResults: agg['results'] ?? 0,
      uploaded: up['uploaded'] ?? 0,
      completed: w?.completed ?? 0,
      deadLettered: w?.deadLettered ?? 0,
      deadLetteredByReason: reasons,
      unaccounted,
      upstreamMessages: s.upstreamCount,
      blobs: await countBlobs().catch(() => -1),
      restarts,
      wallTimeMs: Date.now() - started,
      ok: unaccounted === 0,
    };
  };

  let stopping: Promise<void> | undefined;
  return {
    get hub() {
      return hub;
    },
    paths,
    workDir,
    azurite,
    manifest,
    processes,
    controlUrl,
    storageConnectionString: vars['EDGEML_STORAGE_CONNECTION_STRING'],
    status,
    summary,
    async waitUntilIdle(o = {}) {
      const pollMs = o.pollMs ?? 1_000;
      const settleMs = o.settleMs ?? 3_000;
      let idleSince: number | undefined;
      for (;;) {
        const r = await hub.invokeMethod('watcher', 'getStatus', null, { responseTimeoutMs: 5_000 }).catch(() => undefined);
        if (r !== undefined && r.status === 200 && isIdle(r.payload)) {
          idleSince ??= Date.now();
          // Idle must hold for a moment: a file may become stable between two polls.
          if (Date.now() - idleSince >= settleMs) return;
        } else idleSince = undefined;
        await sleep(pollMs, o.signal);
      }
    },
    async restartHub(o = {}) {
      if (stopping !== undefined) throw new Error('the runtime is stopping');
      const port = hub.port;
      const metricsPort = hub.metricsPort ?? 0;
      await hub.stop();
      if ((o.downMs ?? 0) > 0) await sleep(o.downMs ?? 0);
      // Same work folder (store-and-forward queue, twins, identities) and the same ports the modules and scrapers were given.
      hub = await newHub(port, metricsPort);
      await hub.start();
      logger.info({ port, downMs: o.downMs ?? 0 }, 'edge hub restarted');
    },
    stop() {
      stopping ??= (async () => {
        const deadline = options.stopDeadlineMs ?? 15_000;
        // Reverse startup order: consumers of the watcher's output stop after it.
        for (const proc of [...processes.values()].reverse()) await proc.stop(deadline);
        await control.close();
        await removeRuntimeInfo(workDir);
        await workload.close();
        await hub.stop();
        await azurite?.stop();
      })();
      return stopping;
    },
  };
}
