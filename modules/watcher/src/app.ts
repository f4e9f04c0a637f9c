import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import {
  createRepeatLimiter,
  EdgeMLError,
  EMPTY_PAYLOAD_SCHEMA,
  errorCode,
  errorMessage,
  isWithin,
  jsonMethod,
  MODULE_ENDPOINTS,
  parseMessage,
  parseShareFileEvent,
  SCHEMAS,
  sendAlert,
  type IncomingMessage,
  type ModuleApp,
  type ModuleDeps, sha256File } from '@edgeml/shared';
import { createChokidarSource, type EventSource } from './chokidar-source.js';
import type { WatcherConfig } from './config.js';
import { Ledger } from './ledger.js';
import { createWatcherMetrics } from './metrics.js';
import type { CompletionResult } from './acknowledgements.js';
import type { HashFile } from './intake.js';
import type { ScanSummary } from './inventory-scan.js';
import { Reconciler } from './reconciler.js';
import { REPROCESS_PAYLOAD_SCHEMA, type ReprocessReport, type ReprocessRequest } from './reprocess.js';

export const WATCHER_MODULE_NAME = 'watcher';
const INPUTS = MODULE_ENDPOINTS.watcher.inputs;

/** Test seams; production uses the defaults. */
export interface WatcherAppOptions {
  /** Streams a file through SHA-256. Default: shared `sha256File`. */
  readonly hashFile?: HashFile;
  /** Ledger location. Default: `<state>/watcher/ledger.sqlite`. */
  readonly ledgerFile?: string;
  /** Filesystem events on (default) or off (inventory only: what a lost-event share looks like). */
  readonly events?: boolean;
}

export interface WatcherApp extends ModuleApp<WatcherConfig> {
  /** The `rescan` method: a full inventory now; resolves with its summary. */
  rescan(): Promise<ScanSummary>;
  /** The `reprocess` method: dead letters back to the inbox, their ledger entries reset. */
  reprocess(request: ReprocessRequest): Promise<ReprocessReport>;
}

/** Outcome of one `shareEvents` message. */
export type ShareEventResult = 'checking' | 'refused' | 'invalid';

/**
 * Builds the watcher: the reconciler over a durable ledger, chokidar events as hints, inputs
 * `completed` and `shareEvents`, the `rescan` method and a periodic `status` reported property.
 */
export function createWatcherApp(deps: ModuleDeps, options: WatcherAppOptions = {}): WatcherApp {
  const log = deps.logger.child({ component: 'watcher' });
  const metrics = createWatcherMetrics(deps.registry);
  const limiter = createRepeatLimiter(60_000);
  const nowMs = (): number => deps.now().getTime();
  let config: WatcherConfig | undefined;
  let ledger: Ledger | undefined;
  let reconciler: Reconciler | undefined;
  let source: EventSource | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  let started = false;
  let stopping: Promise<void> | undefined;
  const handlers = new Set<Promise<unknown>>();

  const reportStatus = (): void => {
    if (reconciler === undefined || stopping !== undefined) return;
    const s = reconciler.status();
    const patch = {
      status: {
        items: s['items'],
        inFlight: s['inFlight'],
        backpressure: s['backpressure'],
        unstable: s['unstable'],
        lastInventoryAt: (s['lastInventory'] as { at?: string } | null)?.at ?? null,
        at: deps.now().toISOString(),
      },
    };
    deps.edge.updateReported(patch).catch((err: unknown) => {
      if (limiter('report').log) log.warn({ err }, 'could not report status');
    });
  };

  const startStatusTimer = (cfg: WatcherConfig): void => {
    if (statusTimer !== undefined) clearInterval(statusTimer);
    statusTimer = setInterval(reportStatus, cfg.statusReportIntervalMs);
    statusTimer.unref();
  };

  /**
   * (Re)starts the event source. Not awaited to `ready`: chokidar walks the whole tree first
   * (about 2 minutes for 100,000 files on the dev VM), and the inventory already covers that time.
   */
  const startSource = async (cfg: WatcherConfig): Promise<void> => {
    const previous = source;
    source = undefined;
    await previous?.close();
    if (options.events === false || !cfg.useEvents || reconciler === undefined || stopping !== undefined) return;
    const r = reconciler;
    const started = nowMs();
    const next = createChokidarSource({
      root: r.inboxReal,
      usePolling: cfg.usePolling,
      pollingIntervalMs: cfg.pollingIntervalMs,
      onPath: (p) => r.hint(p),
      onRemoved: (p) => r.hint(p),
      onError: (err) => {
        const { log: yes, suppressed } = limiter('chokidar');
        if (yes) log.warn({ err, suppressed }, 'filesystem events error; the inventory still finds every file');
      },
    });
    source = next;
    void next.ready.then(() => log.info({ usePolling: cfg.usePolling, readyMs: nowMs() - started }, 'filesystem events ready'));
  };

  /** Every input handler ends in one outcome; nothing here throws. */
  const rejectInput = (input: string, err: unknown): void => {
    const code = errorCode(err);
    metrics.inputRejected.inc({ input, code });
    const { log: yes, suppressed } = limiter(`reject:${input}:${code}`);
    if (!yes) return;
    const problems = (err as EdgeMLError).details?.['problems'];
    log.warn({ input, code, problems, suppressed }, `${input} message rejected: ${errorMessage(err).slice(0, 500)}`);
    void sendAlert(deps.edge, log, { severity: 'warning', code, message: `malformed message on input ${input}: ${errorMessage(err).slice(0, 1000)}`, details: { input, suppressed } }, deps.now);
  };

  const track = <T>(p: Promise<T>): Promise<T> => {
    handlers.add(p);
    void p.finally(() => handlers.delete(p));
    return p;
  };

  const onCompleted = async (msg: IncomingMessage): Promise<CompletionResult | 'invalid' | 'notRecorded'> => {
    let completion;
    try {
      completion = parseMessage(msg.body, SCHEMAS.completion);
    } catch (err: unknown) {
      rejectInput(INPUTS.completed, err);
      return 'invalid';
    }
    if (reconciler === undefined || stopping !== undefined) {
      log.warn({ id: completion.id, part: completion.part }, 'completion arrived while stopping; not recorded (the file is re-emitted after its timeout)');
      return 'notRecorded';
    }
    try {
      const result = await reconciler.handleCompletion(completion);
      metrics.completions.inc({ result });
      if (result === 'unknownId') {
        if (limiter('unknown-id').log) log.warn({ id: completion.id, part: completion.part, module: completion.module }, 'completion for a content id this watcher never emitted; ignored');
      } else {
        log.debug({ id: completion.id, part: completion.part, outcome: completion.outcome, result }, 'completion recorded');
      }
      return result;
    } catch (err: unknown) {
      log.error({ err, id: completion.id, part: completion.part }, 'completion could not be recorded; the file is re-emitted after its timeout');
      return 'notRecorded';
    }
  };

  const onShareEvent = (msg: IncomingMessage): ShareEventResult => {
    let event;
    try {
      event = parseShareFileEvent(msg.body);
    } catch (err: unknown) {
      rejectInput(INPUTS.shareEvents, err);
      return 'invalid';
    }
    const rel = event.ShareRelativeFilePath.replace(/\\/g, '/').replace(/^\/+/, '');
    const abs = path.resolve(deps.paths.share, rel);
    if (rel.includes('\u0000') || !isWithin(deps.paths.inbox, abs) || abs === deps.paths.inbox) {
      rejectInput(INPUTS.shareEvents, new EdgeMLError('PATH_OUTSIDE_ROOT', `FileEvent path ${JSON.stringify(rel.slice(0, 200))} is not inside the inbox (paths are relative to the share root)`));
      return 'refused';
    }
    log.debug({ changeType: event.ChangeType, path: rel, share: event.ShareName }, 'share event; checking the path');
    reconciler?.hint(path.join(reconciler.inboxReal, path.relative(deps.paths.inbox, abs)));
    return 'checking';
  };

  const app: WatcherApp = {
    async configure(next, previous) {
      config = next;
      if (!started || reconciler === undefined) return;
      reconciler.configure(next);
      if (previous === undefined || previous.useEvents !== next.useEvents || previous.usePolling !== next.usePolling || previous.pollingIntervalMs !== next.pollingIntervalMs) {
        await startSource(next);
      }
      if (previous?.statusReportIntervalMs !== next.statusReportIntervalMs) startStatusTimer(next);
      log.info({ include: next.include, exclude: next.exclude, markerMode: next.markerMode, afterCompletion: next.afterCompletion }, 'watcher configuration in force');
    },

    async start() {
      if (started) return;
      if (config === undefined) throw new EdgeMLError('CONFIG_INVALID', 'start() before configure()');
      const cfg = config;
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
        hashFile: options.hashFile ?? sha256File,
        config: cfg,
        onBackpressure: () => reportStatus(),
      });
      deps.edge.onInput(INPUTS.completed, (msg) => track(onCompleted(msg)).then(() => undefined));
      deps.edge.onInput(INPUTS.shareEvents, (msg) => {
        onShareEvent(msg);
        return Promise.resolve();
      });
      deps.edge.onMethod('rescan', jsonMethod({ schema: EMPTY_PAYLOAD_SCHEMA, logger: log, handler: () => app.rescan() }));
      deps.edge.onMethod('reprocess', jsonMethod<ReprocessRequest>({ schema: REPROCESS_PAYLOAD_SCHEMA, logger: log, handler: (p) => app.reprocess(p) }));
      started = true;
      // Events before the first inventory, so nothing written while it walks goes unnoticed.
      await startSource(cfg);
      reconciler.start();
      startStatusTimer(cfg);
      reportStatus();
      log.info({ inbox: deps.paths.inbox, ledger: ledger.file }, 'watcher started');
    },

    stop(signal) {
      stopping ??= (async () => {
        if (statusTimer !== undefined) clearInterval(statusTimer);
        await source?.close();
        await reconciler?.stop(signal);
        const deadline = new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
        await Promise.race([Promise.allSettled([...handlers]), deadline]);
        ledger?.close();
      })();
      return stopping;
    },

    status() {
      if (reconciler === undefined) return { state: 'starting' };
      try {
        return { state: stopping === undefined ? 'running' : 'stopping', ...reconciler.status() };
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
      if (reconciler === undefined || stopping !== undefined) return Promise.reject(new EdgeMLError('ABORTED', 'the watcher is not running'));
      return reconciler.rescan();
    },

    reprocess(request) {
      if (reconciler === undefined || stopping !== undefined) return Promise.reject(new EdgeMLError('ABORTED', 'the watcher is not running'));
      return reconciler.reprocess(request);
    },
  };
  return app;
}
