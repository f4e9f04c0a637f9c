/**
 * The watcher's composition root: the durable ledger, the reconciler (the pipeline from inbox to
 * `files`), the disk budget, chokidar events as hints, the inputs, the methods and the `status`
 * reported property, wired together. No logic of its own beyond the lifecycle.
 */
import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { EdgeMLError, EMPTY_PAYLOAD_SCHEMA, errorMessage, jsonMethod, type ModuleApp, type ModuleDeps } from '@edgeml/shared';
import type { WatcherConfig } from './config.js';
import { DiskBudget, statVolume, type StatVolume } from './disk-budget.js';
import { EventFeed } from './event-feed.js';
import { Inputs } from './inputs.js';
import { hashInboxFile, type HashFile } from './hash-file.js';
import type { ScanSummary } from './inventory-scan.js';
import { Ledger } from './ledger.js';
import { createLimitedLog } from './limited-log.js';
import { createWatcherMetrics } from './metrics.js';
import { Reconciler } from './reconciler.js';
import { ReportedStatus } from './reported-status.js';
import { REPROCESS_PAYLOAD_SCHEMA, type ReprocessReport, type ReprocessRequest } from './reprocess.js';

export const WATCHER_MODULE_NAME = 'watcher';

export type { ShareEventResult } from './inputs.js';

/** Test seams; production uses the defaults. */
export interface WatcherAppOptions {
  /** Streams a file through SHA-256. Default: {@link hashInboxFile}. */
  readonly hashFile?: HashFile;
  /** Ledger location. Default: `<state>/watcher/ledger.sqlite`. */
  readonly ledgerFile?: string;
  /** Filesystem events on (default) or off (inventory only: what a lost-event share looks like). */
  readonly events?: boolean;
  /** Size and free space of the data volume. Default: `statfs(2)`. */
  readonly statVolume?: StatVolume;
}

export interface WatcherApp extends ModuleApp<WatcherConfig> {
  /** The `rescan` method: a full inventory now; resolves with its summary. */
  rescan(): Promise<ScanSummary>;
  /** The `reprocess` method: dead letters back to the inbox, their ledger entries reset. */
  reprocess(request: ReprocessRequest): Promise<ReprocessReport>;
}

/**
 * Builds the watcher: the reconciler over a durable ledger, chokidar events as hints, inputs
 * `completed` and `shareEvents`, the methods `rescan` and `reprocess`, a disk budget, and a
 * periodic `status` reported property.
 */
export function createWatcherApp(deps: ModuleDeps, options: WatcherAppOptions = {}): WatcherApp {
  const log = deps.logger.child({ component: 'watcher' });
  const limited = createLimitedLog(log);
  const metrics = createWatcherMetrics(deps.registry);
  const nowMs = (): number => deps.now().getTime();
  let config: WatcherConfig | undefined;
  let ledger: Ledger | undefined;
  let reconciler: Reconciler | undefined;
  let started = false;
  let stopping: Promise<void> | undefined;

  const running = (): Reconciler | undefined => (stopping === undefined ? reconciler : undefined);
  const mustConfig = (): WatcherConfig => {
    if (config === undefined) throw new EdgeMLError('CONFIG_INVALID', 'start() before configure()');
    return config;
  };
  const reported = new ReportedStatus({ edge: deps.edge, log, now: deps.now, read: () => (running() === undefined ? undefined : app.status()) });
  const disk = new DiskBudget({
    paths: deps.paths,
    statVolume: options.statVolume ?? statVolume,
    edge: deps.edge,
    log,
    limited,
    metrics,
    now: nowMs,
    config: mustConfig,
    onChange: () => {
      reconciler?.wake();
      reported.report();
    },
  });
  const inputs = new Inputs({ paths: deps.paths, edge: deps.edge, log, metrics, now: deps.now, reconciler: running });
  const events = new EventFeed({ log, limited, now: nowMs, enabled: options.events !== false });

  const app: WatcherApp = {
    async configure(next, previous) {
      config = next;
      if (!started || reconciler === undefined) return;
      reconciler.configure(next);
      disk.reconfigure();
      if (EventFeed.changed(previous, next)) await events.restart(next, running);
      if (previous?.statusReportIntervalMs !== next.statusReportIntervalMs) reported.every(next.statusReportIntervalMs);
      log.info({ include: next.include, exclude: next.exclude, markerMode: next.markerMode, afterCompletion: next.afterCompletion }, 'watcher configuration in force');
    },

    async start() {
      if (started) return;
      const cfg = mustConfig();
      for (const dir of [deps.paths.inbox, deps.paths.failed, deps.paths.processed]) await mkdir(dir, { recursive: true });
      const inboxReal = await realpath(deps.paths.inbox);
      ledger = Ledger.open(options.ledgerFile ?? path.join(deps.paths.state(WATCHER_MODULE_NAME), 'ledger.sqlite'));
      reconciler = new Reconciler({
        paths: deps.paths,
        inboxReal,
        ledger,
        edge: deps.edge,
        logger: log,
        metrics,
        now: nowMs,
        hashFile: options.hashFile ?? hashInboxFile,
        config: cfg,
        intakeOpen: () => disk.intakeOpen,
        onBackpressure: () => reported.report(),
      });
      inputs.register();
      deps.edge.onMethod('rescan', jsonMethod({ schema: EMPTY_PAYLOAD_SCHEMA, logger: log, handler: () => app.rescan() }));
      deps.edge.onMethod('reprocess', jsonMethod<ReprocessRequest>({ schema: REPROCESS_PAYLOAD_SCHEMA, logger: log, handler: (p) => app.reprocess(p) }));
      started = true;
      // The watermark is known before the first emission.
      await disk.start();
      // Events before the first inventory, so nothing written while it walks goes unnoticed.
      await events.restart(cfg, running);
      reconciler.start();
      reported.every(cfg.statusReportIntervalMs);
      reported.report();
      log.info({ inbox: deps.paths.inbox, ledger: ledger.file }, 'watcher started');
    },

    stop(signal) {
      stopping ??= (async () => {
        reported.stop();
        disk.stop();
        await events.close();
        await reconciler?.stop(signal);
        const deadline = new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
        await Promise.race([Promise.allSettled(inputs.pending()), deadline]);
        ledger?.close();
      })();
      return stopping;
    },

    status() {
      if (reconciler === undefined) return { state: 'starting' };
      try {
        const s = reconciler.status();
        const staging = disk.staging();
        return {
          state: stopping === undefined ? 'running' : 'stopping',
          ...s,
          // Staging in counts too, so the runtime's per-module line shows it beside the file counts.
          counts: { ...(s['counts'] as Record<string, number>), stagingFiles: staging?.files ?? 0, stagingBytes: staging?.bytes ?? 0 },
          intakeDeferred: !disk.intakeOpen,
          events: events.state,
          disk: disk.status(),
          staging,
        };
      } catch (err: unknown) {
        // The ledger is closed once stopped; a status call racing the stop still gets an answer.
        return { state: 'stopped', error: errorMessage(err) };
      }
    },

    ready() {
      const reasons: string[] = [];
      if (!started) reasons.push('watcher not started');
      if (stopping !== undefined) reasons.push('watcher stopping');
      return { ready: reasons.length === 0, reasons };
    },

    rescan() {
      const r = running();
      if (r === undefined) return Promise.reject(new EdgeMLError('ABORTED', 'the watcher is not running'));
      return r.rescan();
    },

    reprocess(request) {
      const r = running();
      if (r === undefined) return Promise.reject(new EdgeMLError('ABORTED', 'the watcher is not running'));
      return r.reprocess(request);
    },
  };
  return app;
}
