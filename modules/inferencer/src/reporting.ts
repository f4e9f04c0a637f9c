/**
 * What the inferencer reports: the `getStatus` snapshot, the `runtime` + `models` reported
 * properties after every model change, the periodic `status` reported property, and the CUDA
 * fallback (reported always, alerted when `cuda` was asked for explicitly, once per reason).
 */
import type { ActivityWindow, EdgeClient, Logger } from '@edgeml/shared';
import type { Admission } from './admission.js';
import type { Batcher } from './batcher.js';
import { INFERENCER_DEFAULTS, type InferencerConfig } from './config.js';
import type { ItemResult, QueuedTensor } from './execution.js';
import type { LoadedModel, ModelFailure, ModelServing } from './models/serving.js';
import type { Outputs } from './outputs.js';
import { ORT_VERSION } from './session/ort.js';
import type { SessionPool } from './session/pool.js';
import type { StagingFiles } from './staging.js';
import type { InferencerCounts, InferencerMetrics } from './status.js';

export interface ReportingParts {
  readonly edge: EdgeClient;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly models: ModelServing;
  readonly batches: Batcher<QueuedTensor, ItemResult>;
  readonly admission: Admission;
  readonly pool: SessionPool;
  readonly staging: StagingFiles;
  readonly outputs: Outputs;
  readonly counts: InferencerCounts;
  readonly activity: ActivityWindow;
  readonly metrics: InferencerMetrics;
  readonly config: () => InferencerConfig | undefined;
}

export class Reporting {
  readonly #p: ReportingParts;
  #timer: NodeJS.Timeout | undefined;
  #fallbackAlerted = '';

  constructor(parts: ReportingParts) {
    this.#p = parts;
  }

  /** The `getStatus` payload (small, JSON-safe). */
  status(): Record<string, unknown> {
    const { models, batches, admission, pool, staging, counts, activity } = this.#p;
    return {
      onnxruntimeVersion: ORT_VERSION,
      executionProvider: models.runtimeState(),
      models: Object.fromEntries(
        models.profiles().map((p) => {
          const m = models.serving(p);
          return [p, m === undefined ? null : { name: m.name, version: m.version, digest: m.digest, provider: m.session.provider, replicas: m.session.replicas }];
        }),
      ),
      queue: { depth: batches.depth(), admittedItems: admission.items, admittedBytes: admission.bytes, maxQueueItems: admission.maxItems, maxQueueBytes: admission.maxBytes, batchesInFlight: batches.inFlight() },
      sessions: { workers: pool.workers, open: pool.sessions },
      staging: { filesHeld: staging.held, filesRemoved: staging.removed.files, bytesRemoved: staging.removed.bytes },
      counts: { ...counts },
      activity: activity.summary(),
    };
  }

  /** `runtime` and `models` reported properties. Never throws. */
  async reportModels(): Promise<void> {
    const { edge, models, pool, logger } = this.#p;
    const patch = {
      runtime: { onnxruntimeVersion: ORT_VERSION, executionProvider: models.runtimeState(), cudaDeviceId: this.#p.config()?.cudaDeviceId ?? 0, sessionWorkers: pool.workers },
      models: models.reportedModels(),
    };
    await edge.updateReported(patch).catch((err: unknown) => logger.warn({ err }, 'could not report model state'));
  }

  /** A model swapped in: counted. */
  modelSwapped(model: LoadedModel): void {
    this.#p.counts.swaps++;
    this.#p.metrics.swaps.inc({ profile: model.profile, outcome: 'swapped' });
  }

  /** A model refused: counted and alerted, saying what keeps serving. Never throws. */
  async modelRefused(profile: string, failure: ModelFailure, current: LoadedModel | undefined): Promise<void> {
    this.#p.counts.swapFailures++;
    this.#p.metrics.swaps.inc({ profile, outcome: 'refused' });
    const kept = current === undefined ? 'no model serves this profile' : `${current.name}@${current.version} keeps serving`;
    await this.#p.outputs.alert('error', failure.code, `model ${failure.attempted.name !== undefined ? `${failure.attempted.name}@${failure.attempted.version ?? '?'}` : (failure.attempted.artifact ?? '?')} refused for profile ${profile} (${kept}): ${failure.message}`, {
      details: { profile, attempted: failure.attempted },
    });
  }

  /** Says so when CUDA is not used although asked for (`auto` or `cuda`). Never throws. */
  async alertFallback(c: InferencerConfig): Promise<void> {
    const { models, logger, outputs } = this.#p;
    const runtime = models.runtimeState();
    if (runtime.fallbackReason === null) return;
    const key = `${c.executionProvider}|${runtime.fallbackReason}`;
    const line = { requested: c.executionProvider, active: runtime.active, reason: runtime.fallbackReason };
    if (c.executionProvider === 'cuda') logger.warn(line, 'CUDA was requested but is not used; inference runs on the CPU');
    else logger.info(line, 'CUDA is not available; inference runs on the CPU');
    // `auto` falling back is expected on a CPU device: reported, not alerted. An explicit `cuda` is alerted (once per reason).
    if (c.executionProvider !== 'cuda' || this.#fallbackAlerted === key) return;
    this.#fallbackAlerted = key;
    await outputs.alert('warning', 'EXECUTION_PROVIDER_UNAVAILABLE', `executionProvider 'cuda' was requested but inference runs on the CPU: ${runtime.fallbackReason}`, {
      details: { requested: 'cuda', active: runtime.active, onnxruntimeVersion: ORT_VERSION, reason: runtime.fallbackReason },
    });
  }

  /** (Re)starts the periodic `status` reported property at the configured interval. */
  startTimer(): void {
    this.stopTimer();
    const { edge, logger, now } = this.#p;
    this.#timer = setInterval(() => {
      const s = this.status();
      edge.updateReported({ status: { queue: s['queue'], counts: s['counts'], staging: s['staging'], at: now().toISOString() } }).catch((err: unknown) => logger.warn({ err }, 'could not report status'));
    }, this.#p.config()?.statusIntervalMs ?? INFERENCER_DEFAULTS.statusIntervalMs);
    this.#timer.unref();
  }

  stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
