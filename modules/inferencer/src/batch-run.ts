/**
 * Runs one batch a batcher dispatched: hands its items to the batch runner, frees its lane, reports
 * it (`onBatch`) and settles every item with its own result or error, then tells the batcher.
 */
import { EdgeMLError } from '@edgeml/shared';
import type { BatchInfo, BatcherClock } from './batcher.js';
import type { LaneSlots } from './batch-lanes.js';
import type { TakenBatch } from './batch-queue.js';

export interface BatchRunnerDeps<T, R> {
  readonly run: (key: string, items: readonly T[]) => Promise<readonly (R | Error)[]>;
  readonly clock: BatcherClock;
  readonly lanes: LaneSlots;
  readonly onBatch: ((info: BatchInfo) => void) | undefined;
  /** Called once the batch's items are settled (its lane has room again). */
  readonly afterRun: () => void;
}

export class BatchRunner<T, R> {
  constructor(private readonly deps: BatchRunnerDeps<T, R>) {}

  /** Runs `batch`, dispatched at `startedAt` (its lane already acquired). */
  async execute(batch: TakenBatch<T, R>, startedAt: number): Promise<void> {
    const { key, lane, items } = batch;
    const queueMs = items.map((p) => startedAt - p.enqueuedAt);
    let results: readonly (R | Error)[] | undefined;
    let failure: unknown;
    try {
      results = await this.deps.run(
        key,
        items.map((p) => p.item),
      );
      if (results.length !== items.length) {
        failure = new EdgeMLError('INTERNAL', `batch runner returned ${results.length} results for ${items.length} items`);
        results = undefined;
      }
    } catch (err: unknown) {
      failure = err;
    }
    const runMs = this.deps.clock.now() - startedAt;
    this.deps.lanes.release(lane);
    this.deps.onBatch?.({ key, size: items.length, queueMs, runMs, failed: results === undefined });
    items.forEach((p, i) => {
      const r = results?.[i];
      if (results === undefined) p.reject(failure);
      else if (r instanceof Error) p.reject(r);
      else p.resolve({ result: r as R, batchSize: items.length, queueMs: queueMs[i] ?? 0, runMs });
    });
    this.deps.afterRun();
  }
}
