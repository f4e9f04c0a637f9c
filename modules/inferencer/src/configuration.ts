/**
 * A configuration applied in order: the session pool sized for the most replicated model, rollout
 * candidates loaded first (a candidate that cannot load rejects the change before anything is
 * swapped), the verified swap of the models, then the batching and admission bounds and the reports.
 * Holds the configuration in force and the one the models serve.
 */
import { availableParallelism } from 'node:os';
import type { Admission } from './admission.js';
import type { Batcher } from './batcher.js';
import type { InferencerConfig } from './config.js';
import type { ItemResult, QueuedTensor } from './execution.js';
import type { ModelServing } from './models/serving.js';
import type { Reporting } from './reporting.js';
import type { RolloutDecisions } from './rollout/decisions.js';
import type { RolloutManager } from './rollout/manager.js';
import type { SessionPool } from './session/pool.js';
import { replicaPlan } from './session/replicas.js';
import type { StagingFiles } from './staging.js';

export interface ConfigurationParts {
  readonly staging: StagingFiles;
  readonly decisions: RolloutDecisions;
  readonly pool: SessionPool;
  readonly rollout: RolloutManager;
  readonly models: ModelServing;
  readonly batches: Batcher<QueuedTensor, ItemResult>;
  readonly admission: Admission;
  readonly reporting: Reporting;
  /** Whether the module has started (the status timer runs only then). */
  readonly started: () => boolean;
}

export class Configuration {
  readonly #p: ConfigurationParts;
  #current: InferencerConfig | undefined;
  /** The configuration the models serve (a promoted rollout candidate in place of its live entry). */
  #effective: InferencerConfig | undefined;

  constructor(parts: ConfigurationParts) {
    this.#p = parts;
  }

  /** The configuration in force; undefined before the first one is applied. */
  get current(): InferencerConfig | undefined {
    return this.#current;
  }

  async apply(next: InferencerConfig, previous: InferencerConfig | undefined): Promise<void> {
    const { staging, decisions, pool, rollout, models, batches, admission, reporting } = this.#p;
    if (previous === undefined) await staging.prepare();
    if (previous === undefined) await decisions.load();
    // Replicas of a model live in different workers: the pool holds as many as the most replicated model needs.
    pool.resize(Math.max(next.sessionWorkers, replicaPlan(next, availableParallelism()).cpu));
    const nextEffective = rollout.effective(next);
    // Rollout candidates load first: a candidate that cannot load rejects the change before anything is swapped.
    const prepared = await rollout.prepare(nextEffective);
    try {
      await models.apply(nextEffective, this.#effective);
    } catch (err: unknown) {
      rollout.discard(prepared);
      throw err;
    }
    await rollout.commit(prepared, nextEffective);
    this.#effective = nextEffective;
    this.#current = next;
    batches.reconfigure({ maxBatchSize: next.maxBatchSize, maxQueueDelayMs: next.maxQueueDelayMs });
    admission.resize({ maxItems: next.maxQueueItems, maxBytes: next.maxQueueBytes });
    await reporting.reportModels();
    await reporting.alertFallback(next);
    if (this.#p.started() && previous?.statusIntervalMs !== next.statusIntervalMs) reporting.startTimer();
  }
}
