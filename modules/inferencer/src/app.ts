/**
 * The inferencer's composition root: builds its parts and wires them; the logic lives in the parts.
 *
 *   tensors ──► intake (parse, check, bounded admission or `deferred`) ──► batcher (per model lane)
 *           ──► execution (read tensor files into one batch buffer) ──► session worker (run + post-process)
 *           ──► outputs (result, or completion + alert) ──► staging (tensor file removed)
 *   twin ──► models/serving (store → verify → session → warm-up → swap)   methods ──► reloadModel
 *   configure ──► configuration (pool size, rollout, swap, bounds)   start / stop ──► lifecycle (input, drain, close)
 */
import { setMaxListeners } from 'node:events';
import { ActivityWindow, type ModuleApp, type ModuleDeps } from '@edgeml/shared';
import { createAdmission, type Admission } from './admission.js';
import { createBatcher, type Batcher, type BatcherClock } from './batcher.js';
import { INFERENCER_DEFAULTS, type InferencerConfig } from './config.js';
import { Configuration } from './configuration.js';
import { createBatchRunner, profileOfKey, type ItemResult, type QueuedTensor } from './execution.js';
import { Intake } from './intake.js';
import { LaneDepth } from './lane-depth.js';
import { Lifecycle } from './lifecycle.js';
import { RolloutDecisions } from './rollout/decisions.js';
import { RolloutManager } from './rollout/manager.js';
import { ModelServing } from './models/serving.js';
import { createFileModelStore } from './models/store.js';
import { Outputs } from './outputs.js';
import { createSessionPool, type SessionPool } from './session/pool.js';
import { StagingFiles } from './staging.js';
import { Reporting } from './reporting.js';
import { createCounts, createInferencerMetrics, observeBatch } from './status.js';

export const INFERENCER_MODULE_NAME = 'inferencer';

export interface InferencerAppOptions {
  /** Batcher clock (tests pass a fake one). */
  readonly clock?: BatcherClock;
  /** fetch used for model downloads (tests may wrap it). */
  readonly fetch?: typeof fetch;
  /** Install the bundled PaddleOCR models into the store on the first configuration. Default true. */
  readonly installBundled?: boolean;
}

/** The app plus what tests and the benchmark look at. */
export interface InferencerApp extends ModuleApp<InferencerConfig> {
  /** Re-runs the verified swap for one profile (or all) from its configured entry. */
  reloadModel(profile?: string): Promise<Record<string, unknown>>;
  /** The model serving a profile, if any. */
  serving(profile: string): { name: string; version: string; sha256: string; digest: string; provider: string } | undefined;
}

export function createInferencerApp(deps: ModuleDeps, options: InferencerAppOptions = {}): InferencerApp {
  const { edge, registry, paths } = deps;
  const logger = deps.logger.child({ component: 'inferencer' });
  const stopController = new AbortController();
  // Every send retry of every tensor in flight listens for the stop; that is by design.
  setMaxListeners(0, stopController.signal);
  const counts = createCounts();
  const activity = new ActivityWindow({ now: () => deps.now().getTime() });

  const staging = new StagingFiles(paths.staging, logger);
  const admission: Admission = createAdmission({ maxItems: INFERENCER_DEFAULTS.maxQueueItems, maxBytes: INFERENCER_DEFAULTS.maxQueueBytes });
  // The gauges read these parts only when scraped, after they are built below.
  const metrics = createInferencerMetrics(registry, {
    queueDepth: () => batches.depth(),
    admittedItems: () => admission.items,
    admittedBytes: () => admission.bytes,
    stagingHeld: () => staging.held,
  });
  const outputs = new Outputs({ edge, logger, now: deps.now, signal: stopController.signal, counts, metrics });
  const pool: SessionPool = createSessionPool({
    size: INFERENCER_DEFAULTS.sessionWorkers,
    logger,
    onSessionsLost: (sessions) => models.sessionsLost(sessions),
  });
  const models: ModelServing = new ModelServing({
    store: createFileModelStore(paths.models, { env: deps.env, logger, ...(options.fetch === undefined ? {} : { fetch: options.fetch }) }),
    openSession: (file, sessionOptions, replicas) => pool.open(file, sessionOptions, replicas),
    logger,
    now: deps.now,
    signal: stopController.signal,
    installBundled: options.installBundled !== false,
    events: {
      swapped: (model) => reporting.modelSwapped(model),
      refused: (profile, failure, current) => reporting.modelRefused(profile, failure, current),
      changed: (): Promise<void> => reporting.reportModels(),
    },
  });
  const laneDepth = new LaneDepth();
  const batches: Batcher<QueuedTensor, ItemResult> = createBatcher<QueuedTensor, ItemResult>({
    maxBatchSize: INFERENCER_DEFAULTS.maxBatchSize,
    maxQueueDelayMs: INFERENCER_DEFAULTS.maxQueueDelayMs,
    maxInFlightPerLane: (lane) => laneDepth.maxInFlight(lane, models.serving(lane)?.session.replicas ?? 1),
    laneOf: profileOfKey,
    // The rollout manager is built below; the runner asks it per batch.
    run: createBatchRunner(models, metrics, { active: (p) => rollout.active(p), sampled: (a, id) => rollout.sampled(a, id), observe: (a, o) => rollout.observe(a, o) }, (profile, inferMs) => laneDepth.observe(profile, inferMs)),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    onBatch: (info) => observeBatch(metrics, info),
  });
  // The configuration is built below; the intake and the reports read it per message and per report.
  const config = (): InferencerConfig | undefined => configuration.current;
  const intake = new Intake({ paths, serving: models, admission, batcher: batches, outputs, staging, config: () => config()!, counts, activity, metrics, logger, signal: stopController.signal });

  const decisions = new RolloutDecisions(paths.state(INFERENCER_MODULE_NAME), logger);
  const rollout: RolloutManager = new RolloutManager({
    serving: models,
    decisions,
    logger,
    now: deps.now,
    events: {
      report: (patch) => edge.updateReported({ rollout: patch }).catch((err: unknown) => logger.warn({ err }, 'could not report rollout state')),
      event: (profile, kind, body) => outputs.rolloutEvent(profile, kind, body),
      alert: (code, message, details) => outputs.rolloutAlert(code, message, details),
    },
  });

  const reporting: Reporting = new Reporting({ edge, logger, now: deps.now, models, batches, admission, pool, staging, outputs, counts, activity, metrics, config });
  const lifecycle = new Lifecycle({ edge, logger, counts, config, intake, reporting, batches, rollout, models, pool, staging, stopController });
  const configuration = new Configuration({ staging, decisions, pool, rollout, models, batches, admission, reporting, started: () => lifecycle.started });

  return {
    configure: (next, previous) => configuration.apply(next, previous),
    start: () => lifecycle.start(),
    stop: (signal) => lifecycle.stop(signal),
    status: () => ({ ...reporting.status(), rollout: rollout.status() }),
    ready() {
      const reasons = models.notReadyReasons();
      return { ready: reasons.length === 0, reasons };
    },
    reloadModel: (profile) => models.reload(profile),
    serving(profile) {
      const m = models.serving(profile);
      return m === undefined ? undefined : { name: m.name, version: m.version, sha256: m.sha256, digest: m.digest, provider: m.session.provider };
    },
  };
}
