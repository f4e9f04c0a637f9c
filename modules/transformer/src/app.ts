import { EdgeMLError, MODULE_ENDPOINTS, createRepeatLimiter, type ModuleApp, type ModuleDeps } from '@edgeml/shared';
import { createChainIntake } from './chain/intake.js';
import { createCropStep } from './chain/crop-step.js';
import { createOrientStep } from './chain/orient-step.js';
import type { TransformerConfig } from './config.js';
import { createDispatcher } from './dispatch.js';
import { configureSharp } from './image/sharp.js';
import { TensorWorkerPool, type TensorEncoder } from './image/tensor-pool.js';
import { createIntake } from './intake.js';
import { createImageHandler } from './items/image.js';
import { createRawHandler } from './items/raw.js';
import { createTableHandler } from './items/table.js';
import { createDuckDbEngine } from './table/duckdb.js';
import type { ItemDeps } from './items/types.js';
import { createTransformerMetrics } from './metrics.js';
import { Outputs } from './outputs.js';
import { WorkSlots } from './slots.js';
import { StatusBook, StatusReporter } from './status.js';

/** The app plus a test hook: resolves once nothing is in flight or queued. */
export interface TransformerApp extends ModuleApp<TransformerConfig> {
  idle(): Promise<void>;
}

/** Parts a test or benchmark may swap; production uses the defaults. */
export interface TransformerParts {
  /** Builds tensor files; default: a {@link TensorWorkerPool} sized by image.tensorWorkers. */
  readonly tensors?: TensorEncoder;
}

/**
 * Builds the transformer: input `files` → outputs `tensors`, `artifacts`, and for dead letters and
 * deferrals `completed` (+ `alerts`); inputs `detections` and `orientations` (inference chains) →
 * outputs `crops` and `tensors`. Composition root only: the parts below hold the logic.
 *
 *   intake (parse, duplicates, bounded wait queue) → slots → dispatch (resolve, kind) →
 *   items/image (image/: sharp stages, tensor worker threads) | items/table | items/raw →
 *   outputs (send, dead letter, defer);  status (counts, reports)
 *   chain/intake → slots → chain/crop-step (image/crop.ts, the same sharp stages and workers) | chain/orient-step
 */
export function createTransformerApp(deps: ModuleDeps, parts: TransformerParts = {}): TransformerApp {
  const { edge, paths, now } = deps;
  const logger = deps.logger.child({ component: 'transformer' });
  const metrics = createTransformerMetrics(deps.registry);
  const shouldLog = createRepeatLimiter(60_000, () => now().getTime());
  const work = new AbortController();

  let config: TransformerConfig | undefined;
  let started = false;
  let stopping: Promise<void> | undefined;
  const cfg = (): TransformerConfig => {
    if (config === undefined) throw new EdgeMLError('INTERNAL', 'transformer used before configure()');
    return config;
  };

  const book = new StatusBook(metrics, now);
  const slots = new WorkSlots(cfg, { inFlight: metrics.inFlight, queued: metrics.queued });
  const snapshot = () => book.snapshot({ inFlight: slots.active, queued: slots.queued });
  const reporter = new StatusReporter({ edge, logger, now, snapshot, shouldLog });
  const outputs = new Outputs({ edge, logger, book, now, signal: work.signal });
  const itemDeps: ItemDeps = { paths, outputs, metrics, logger, now, signal: work.signal };
  // Threads start on the first image; the twin's image.tensorWorkers sizes the pool.
  const tensors = parts.tensors ?? new TensorWorkerPool({ threads: 1 });
  // DuckDB (CSV → Parquet) starts on the first table, with the twin's memory limit and threads.
  const tableEngine = createDuckDbEngine(() => ({ memoryLimitBytes: cfg().table.engineMemoryLimitBytes, threads: cfg().table.engineThreads }));
  const dispatch = createDispatcher({
    paths,
    handlers: { image: createImageHandler({ ...itemDeps, tensors }), table: createTableHandler({ ...itemDeps, tableEngine }), raw: createRawHandler(itemDeps) },
    outputs,
    book,
    metrics,
    logger,
    signal: work.signal,
  });
  const isStopping = (): boolean => stopping !== undefined;
  const onFile = createIntake({ book, slots, outputs, logger, shouldLog, config: cfg, isStopping, run: dispatch });
  const chain = createChainIntake({
    book,
    slots,
    outputs,
    logger,
    shouldLog,
    config: cfg,
    isStopping,
    signal: work.signal,
    crop: createCropStep({ ...itemDeps, tensors }),
    orient: createOrientStep(itemDeps),
  });

  return {
    configure(next, previous) {
      configureSharp({ vipsThreads: next.image.vipsThreads });
      tensors.setThreads(next.image.tensorWorkers);
      config = next;
      if (started && previous?.statusReportIntervalMs !== next.statusReportIntervalMs) reporter.schedule(next.statusReportIntervalMs);
      // A larger maxConcurrentItems lets waiting items start now.
      slots.admitWaiting();
      return Promise.resolve();
    },
    start() {
      const c = cfg();
      edge.onInput(MODULE_ENDPOINTS.transformer.inputs.files, onFile);
      edge.onInput(MODULE_ENDPOINTS.transformer.inputs.detections, chain.onDetection);
      edge.onInput(MODULE_ENDPOINTS.transformer.inputs.orientations, chain.onOrientation);
      started = true;
      reporter.schedule(c.statusReportIntervalMs);
      logger.info({ maxConcurrentItems: c.maxConcurrentItems, profiles: Object.keys(c.image.profiles) }, 'transformer started');
      return Promise.resolve();
    },
    stop(signal) {
      stopping ??= (async () => {
        reporter.cancel();
        // Queued items leave without running: the watcher re-emits them.
        slots.cancelWaiting();
        if (slots.active > 0) {
          const deadline = new Promise<void>((resolve) => {
            if (signal.aborted) resolve();
            else signal.addEventListener('abort', () => resolve(), { once: true });
          });
          await Promise.race([slots.idle(), deadline]);
        }
        // Whatever is still running is cancelled (table conversions check between batches).
        work.abort(new EdgeMLError('ABORTED', 'transformer stopping'));
        await tensors.close();
        tableEngine.close();
        reporter.report();
      })();
      return stopping;
    },
    // `counts` is the shape every module's getStatus shares (the local runtime's live view reads it).
    status: () => ({ ...snapshot(), counts: book.counts(), activity: book.activity.summary() }),
    ready() {
      const reasons: string[] = [];
      if (config === undefined) reasons.push('not configured');
      if (!started) reasons.push('not started');
      if (stopping !== undefined) reasons.push('stopping');
      return { ready: reasons.length === 0, reasons };
    },
    idle: () => slots.idle(),
  };
}
