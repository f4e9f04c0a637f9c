import { ActivityWindow, EdgeMLError, MODULE_ENDPOINTS, type ModuleApp, type ModuleDeps } from '@edgeml/shared';
import type { AggregatorConfig } from './config.js';
import { Gatherings } from './gather.js';
import { Intake } from './intake.js';
import { Outputs } from './outputs.js';
import { StatusReporter, createAggregatorMetrics, type AggregatorCounts } from './status.js';

export const AGGREGATOR_MODULE_NAME = 'aggregator';

/** How often quiet runs are looked for (their timeout is gatherTimeoutMs, seconds at least). */
const SWEEP_INTERVAL_MS = 1_000;

/** The app plus a test hook: runs gathering now. */
export interface AggregatorApp extends ModuleApp<AggregatorConfig> {
  gathering(): number;
  /** Looks for quiet runs now (the timer does it every second). */
  sweep(): Promise<void>;
}

/**
 * Builds the aggregator: inputs `crops` and `readings` → output `results` (one
 * `edgeml.chain.result/v1` per source file and chain), `completed` (runs handed back, dead letters),
 * `alerts`. Composition root only:
 *
 *   intake (parse, one outcome per message) → gather (runs: plan + readings, bounded, timed) →
 *   result (the per-file result, pure) → outputs (send, hand back, dead letter);  status
 */
export function createAggregatorApp(deps: ModuleDeps): AggregatorApp {
  const { edge, now } = deps;
  const logger = deps.logger.child({ component: 'aggregator' });
  const metrics = createAggregatorMetrics(deps.registry);
  const work = new AbortController();
  const counts: AggregatorCounts = { plans: 0, readings: 0, results: 0, duplicates: 0, handedBack: 0, deadLettered: 0, sendFailed: 0 };

  let config: AggregatorConfig | undefined;
  let started = false;
  let stopping: Promise<void> | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  const cfg = (): AggregatorConfig => {
    if (config === undefined) throw new EdgeMLError('INTERNAL', 'aggregator used before configure()');
    return config;
  };

  const gatherings = new Gatherings({ maxRuns: () => cfg().maxRuns, gatherTimeoutMs: () => cfg().gatherTimeoutMs, nowMs: () => now().getTime() });
  const outputs = new Outputs({ edge, logger, now, signal: work.signal, counts, metrics });
  const activity = new ActivityWindow({ now: () => now().getTime() });
  const intake = new Intake({ gatherings, outputs, counts, activity, metrics, logger, config: cfg, now, isStopping: () => stopping !== undefined, signal: work.signal });
  const status = (): Record<string, unknown> => ({ gathering: gatherings.size, counts: { ...counts }, activity: activity.summary() });
  const reporter = new StatusReporter({ edge, logger, snapshot: () => ({ ...status(), at: now().toISOString() }) });

  return {
    configure(next, previous) {
      config = next;
      if (started && previous?.statusReportIntervalMs !== next.statusReportIntervalMs) reporter.schedule(next.statusReportIntervalMs);
      return Promise.resolve();
    },
    start() {
      const c = cfg();
      edge.onInput(MODULE_ENDPOINTS.aggregator.inputs.crops, intake.onCrops);
      edge.onInput(MODULE_ENDPOINTS.aggregator.inputs.readings, intake.onReadings);
      sweeper = setInterval(() => void intake.sweep(), SWEEP_INTERVAL_MS);
      sweeper.unref();
      reporter.schedule(c.statusReportIntervalMs);
      started = true;
      logger.info({ minConfidence: c.minConfidence, gatherTimeoutMs: c.gatherTimeoutMs, maxRuns: c.maxRuns }, 'aggregator started');
      return Promise.resolve();
    },
    stop() {
      stopping ??= (async () => {
        if (sweeper !== undefined) clearInterval(sweeper);
        reporter.cancel();
        // Whatever is still gathering is lost with this process: hand it back so it comes again at once.
        await intake.handBackAll();
        work.abort(new EdgeMLError('ABORTED', 'aggregator stopping'));
        reporter.report();
      })();
      return stopping;
    },
    status,
    ready() {
      const reasons: string[] = [];
      if (config === undefined) reasons.push('not configured');
      if (!started) reasons.push('not started');
      if (stopping !== undefined) reasons.push('stopping');
      return { ready: reasons.length === 0, reasons };
    },
    gathering: () => gatherings.size,
    sweep: () => intake.sweep(),
  };
}
