/**
 * The local runtime behind `npm start`: the suite on this machine the way an IoT Edge device would
 * run it. This file is its composition root; the parts are work-folder.ts (folders, models, sample
 * data), storage.ts (Azurite or the configured account), hub-host.ts (the edge hub, replaced on
 * restart), module-launch.ts (the module processes, supervised by supervisor.ts), run-status.ts
 * (status and summary), until-idle.ts, control-api.ts and runtime-info.ts (how the CLI finds it).
 */
import path from 'node:path';
import { startWorkloadApi, type EdgeHub } from '@edgeml/edge-hub';
import type { DataPaths, Logger } from '@edgeml/shared';
import type { AzuriteHandle } from './azurite.js';
import { startControlApi } from './control-api.js';
import { readEnvFile } from './env-file.js';
import { HubHost } from './hub-host.js';
import { loadManifest, type RuntimeManifest } from './manifest.js';
import { workloadSocketPath } from './module-env.js';
import { launchModules } from './module-launch.js';
import { defaultHubPort } from './ports.js';
import { collectStatus, summarise, type RunSummary, type RuntimeStatus } from './run-status.js';
import { removeRuntimeInfo, writeRuntimeInfo } from './runtime-info.js';
import { startStorage } from './storage.js';
import type { ModuleProcess } from './supervisor.js';
import { waitUntilIdle } from './until-idle.js';
import { prepareData, prepareWorkFolder } from './work-folder.js';

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

/**
 * Starts the whole suite on this machine the way an IoT Edge device would run it: the local edge
 * hub with the manifest's routes and twins, the workload API, Azurite (unless real storage is
 * configured), and each module as a child process with the environment edgeAgent would give it.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const started = Date.now();
  const logger = options.logger;
  const { workDir, dataDir, logsDir, hubDir } = await prepareWorkFolder(options.workDir);
  const vars: Record<string, string | undefined> = { ...(await readEnvFile(options.envFile ?? path.join(options.repoRoot, '.env'))), ...options.env };
  const azurite = await startStorage(vars, workDir, logsDir, logger);
  const manifest = await loadManifest(options.manifestFile ?? path.join(options.repoRoot, 'deployment.template.json'), vars);
  if (manifest.unresolved.length > 0) logger.warn({ variables: manifest.unresolved }, 'manifest variables without a value (set them in .env)');
  const paths = await prepareData(dataDir, options.demo !== false, logger);

  const hubPort = options.hubPort ?? (await defaultHubPort());
  const deviceId = vars['EDGEML_DEVICE_ID'] ?? 'edgeml-dev';
  const hubs = await HubHost.start({
    workDir: hubDir,
    manifest: manifest.resolved,
    deviceId,
    iotHubHostName: 'edgeml-local.azure-devices.net',
    port: hubPort,
    metricsPort: options.hubMetricsPort ?? 0,
    logger,
  });
  const workloadSocket = workloadSocketPath(workDir, process.pid);
  // The workload API stands for aziot-edged, which outlives edgeHub restarts: it signs with whichever hub is current.
  const workload = await startWorkloadApi({ socketPath: workloadSocket, hub: hubs.follower(), logger: logger.child({ component: 'workload-api' }) });
  const { processes, metricsPorts } = await launchModules({ manifest, repoRoot: options.repoRoot, dataDir, logsDir, hub: hubs.current, workloadSocket, logger });

  const storageConnectionString = vars['EDGEML_STORAGE_CONNECTION_STRING'];
  const status = (): Promise<RuntimeStatus> => collectStatus(hubs.current, processes, started);
  const summary = async (): Promise<RunSummary> => summarise(await status(), paths.failed, storageConnectionString, started);
  // The control API lets the `edgeml` CLI talk to this running instance.
  const control = await startControlApi({ hub: () => hubs.current, status: () => status(), summary: () => summary(), logger: logger.child({ component: 'control-api' }) });
  const hub = hubs.current;
  await writeRuntimeInfo(workDir, {
    mode: 'suite',
    pid: process.pid,
    controlUrl: control.url,
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

  let stopping: Promise<void> | undefined;
  return {
    get hub() {
      return hubs.current;
    },
    paths,
    workDir,
    azurite,
    manifest,
    processes,
    controlUrl: control.url,
    storageConnectionString,
    status,
    summary,
    waitUntilIdle: (o = {}) => waitUntilIdle(() => hubs.current, o),
    async restartHub(o = {}) {
      if (stopping !== undefined) throw new Error('the runtime is stopping');
      await hubs.restart(o.downMs ?? 0);
    },
    stop() {
      stopping ??= (async () => {
        const deadline = options.stopDeadlineMs ?? 15_000;
        // Reverse startup order: consumers of the watcher's output stop after it.
        for (const proc of [...processes.values()].reverse()) await proc.stop(deadline);
        await control.close();
        await removeRuntimeInfo(workDir);
        await workload.close();
        await hubs.stop();
        await azurite?.stop();
      })();
      return stopping;
    },
  };
}
