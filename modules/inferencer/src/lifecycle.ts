/**
 * The module running and stopping: the `tensors` input (refused once stopping: the watcher re-emits
 * the source), every handler in flight tracked, and the stop in order — handlers and batches drained
 * (or the caller's abort), then sends aborted, then the parts closed.
 */
import { EdgeMLError, errorMessage, type EdgeClient, type Logger } from '@edgeml/shared';
import type { Batcher } from './batcher.js';
import type { InferencerConfig } from './config.js';
import type { ItemResult, QueuedTensor } from './execution.js';
import type { Intake } from './intake.js';
import { registerMethods } from './methods.js';
import type { ModelServing } from './models/serving.js';
import type { Reporting } from './reporting.js';
import type { RolloutManager } from './rollout/manager.js';
import { ORT_VERSION } from './session/ort.js';
import type { SessionPool } from './session/pool.js';
import type { StagingFiles } from './staging.js';
import type { InferencerCounts } from './status.js';

export interface LifecycleParts {
  readonly edge: EdgeClient;
  readonly logger: Logger;
  readonly counts: InferencerCounts;
  readonly config: () => InferencerConfig | undefined;
  readonly intake: Intake;
  readonly reporting: Reporting;
  readonly batches: Batcher<QueuedTensor, ItemResult>;
  readonly rollout: RolloutManager;
  readonly models: ModelServing;
  readonly pool: SessionPool;
  readonly staging: StagingFiles;
  /** Aborted once the handlers and batches are drained (or the stop is aborted): sends in flight give up. */
  readonly stopController: AbortController;
}

export class Lifecycle {
  readonly #p: LifecycleParts;
  #started = false;
  #stopping: Promise<void> | undefined;
  readonly #handlers = new Set<Promise<void>>();

  constructor(parts: LifecycleParts) {
    this.#p = parts;
  }

  get started(): boolean {
    return this.#started;
  }

  start(): Promise<void> {
    const { edge, logger, counts, intake, models, reporting } = this.#p;
    const config = this.#p.config();
    if (config === undefined) return Promise.reject(new EdgeMLError('INTERNAL', 'start() before configure()'));
    edge.onInput('tensors', (message) => {
      if (this.#stopping !== undefined) {
        counts.retried++;
        logger.info('stopping: tensor not taken; the watcher will re-emit the source');
        return Promise.resolve();
      }
      const p = intake.handle(message.body).catch((err: unknown) => logger.error({ err }, `tensor handler failed unexpectedly: ${errorMessage(err)}`));
      this.#handlers.add(p);
      void p.finally(() => this.#handlers.delete(p));
      return p;
    });
    registerMethods(edge, logger, { reloadModel: (profile) => models.reload(profile) });
    this.#started = true;
    reporting.startTimer();
    logger.info({ profiles: models.profiles(), provider: models.runtimeState().active, onnxruntimeVersion: ORT_VERSION, sessionWorkers: config.sessionWorkers }, 'inferencer started');
    return Promise.resolve();
  }

  stop(signal: AbortSignal): Promise<void> {
    this.#stopping ??= this.#stop(signal);
    return this.#stopping;
  }

  async #stop(signal: AbortSignal): Promise<void> {
    const { logger, counts, reporting, batches, rollout, models, pool, staging, stopController } = this.#p;
    reporting.stopTimer();
    batches.flush();
    const aborted = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([Promise.all([...this.#handlers]).then(() => batches.idle()), aborted]);
    stopController.abort();
    batches.close();
    await Promise.race([Promise.all([...this.#handlers]), aborted]);
    rollout.close();
    await models.close();
    await pool.close();
    await staging.close();
    logger.info({ counts }, 'inferencer stopped');
  }
}
