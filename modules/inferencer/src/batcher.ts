/**
 * Dynamic batching in Triton's manner (pure: no I/O, clock injected).
 *
 * Items are grouped by a key (model + per-item shape: only equal shapes stack into one batch). A
 * group is dispatched when its lane has room and
 * - it holds its `maxBatchSize` items (a full batch), or
 * - it can form one of its preferred batch sizes (the largest one it can), or
 * - its oldest item has waited `maxQueueDelayMs` (then as many as fit), or
 * - the batcher is flushing (stopping).
 *
 * A lane is what runs batches one after another (a model's session). `maxInFlightPerLane` batches
 * of a lane may be dispatched at once: with 2, the next batch is prepared (its tensor files read)
 * while the previous one runs. Items that arrive while a lane is full accumulate, so batches grow
 * with load.
 *
 * The parts: batch-queue.ts (the groups and the dispatch policy), batch-lanes.ts (batches in flight
 * per lane), batch-timer.ts (the queue-delay timer), batch-run.ts (one batch run and its items
 * settled); createBatcher wires them.
 */
import { EdgeMLError } from '@edgeml/shared';
import { LaneSlots } from './batch-lanes.js';
import { BatchQueue } from './batch-queue.js';
import { BatchRunner } from './batch-run.js';
import { DeadlineTimer } from './batch-timer.js';

/** Time source and timers; tests pass a fake. */
export interface BatcherClock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const SYSTEM_CLOCK: BatcherClock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface BatchInfo {
  readonly key: string;
  readonly size: number;
  /** Per item: time from push to dispatch, in ms. */
  readonly queueMs: readonly number[];
  /** Time from dispatch to the end of the run, in ms. */
  readonly runMs: number;
  readonly failed: boolean;
}

export interface BatcherOptions<T, R> {
  /** Global cap on a batch; a group's own limit (push options) is capped by it. */
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
  /** Batches of one lane dispatched and not finished, at most (a number, or one per lane). Default 1. */
  readonly maxInFlightPerLane?: number | ((lane: string) => number);
  /** The lane of a key. Default: the key itself. */
  readonly laneOf?: (key: string) => string;
  /**
   * Runs one batch; returns one result per item in order. A result that is an Error fails that item
   * only; a throw fails the whole batch.
   */
  readonly run: (key: string, items: readonly T[]) => Promise<readonly (R | Error)[]>;
  readonly clock?: BatcherClock;
  readonly onBatch?: (info: BatchInfo) => void;
}

export interface BatchedResult<R> {
  readonly result: R;
  readonly batchSize: number;
  readonly queueMs: number;
  readonly runMs: number;
}

export interface PushOptions {
  /** This item's group limit, below the global maxBatchSize (1 for models with a fixed batch dimension of 1). */
  readonly maxBatchSize?: number;
  /** Batch sizes dispatched as soon as they can be formed. */
  readonly preferredBatchSizes?: readonly number[];
}

export interface Batcher<T, R> {
  /** Queues an item; resolves with its result once its batch ran. @throws the batch's or item's error */
  push(key: string, item: T, options?: PushOptions): Promise<BatchedResult<R>>;
  /** Items waiting (not yet dispatched). */
  depth(): number;
  /** Batches dispatched and not finished. */
  inFlight(): number;
  /** True while a batch runs. */
  busy(): boolean;
  reconfigure(limits: { maxBatchSize: number; maxQueueDelayMs: number }): void;
  /** From now on dispatch without waiting for the delay (used when stopping). */
  flush(): void;
  /** Resolves once nothing is queued or running. */
  idle(): Promise<void>;
  /** Fails every queued item with ABORTED and refuses new ones. Idempotent. */
  close(): void;
}

export function createBatcher<T, R>(options: BatcherOptions<T, R>): Batcher<T, R> {
  const clock = options.clock ?? SYSTEM_CLOCK;
  const queue = new BatchQueue<T, R>(clock, options.laneOf ?? ((key: string) => key), options.maxBatchSize, options.maxQueueDelayMs);
  const lanes = new LaneSlots(options.maxInFlightPerLane ?? 1);
  const timer = new DeadlineTimer(clock, () => pump());
  const runner = new BatchRunner<T, R>({
    run: options.run,
    clock,
    lanes,
    onBatch: options.onBatch,
    afterRun: () => {
      timer.invalidate(); // the lane has room again: its groups' deadlines count again
      pump();
    },
  });
  let closed = false;
  let idleWaiters: (() => void)[] = [];

  const settleIdle = (): void => {
    if (lanes.inFlight > 0 || queue.queued > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  };

  /** Dispatches every batch ready now whose lane has room, then sets the timer for the next deadline. */
  const pump = (): void => {
    const now = clock.now();
    for (let batch = queue.next(now, lanes); batch !== undefined; batch = queue.next(now, lanes)) {
      lanes.acquire(batch.lane);
      void runner.execute(batch, now);
    }
    timer.arm(queue.earliestDeadline(lanes), now);
    settleIdle();
  };

  return {
    push(key, item, pushOptions = {}) {
      if (closed) return Promise.reject(new EdgeMLError('ABORTED', 'batcher is closed'));
      return new Promise<BatchedResult<R>>((resolve, reject) => {
        queue.add(key, item, pushOptions, resolve, reject);
        pump();
      });
    },
    depth: () => queue.queued,
    inFlight: () => lanes.inFlight,
    busy: () => lanes.inFlight > 0,
    reconfigure(limits) {
      queue.setLimits(limits.maxBatchSize, limits.maxQueueDelayMs);
      timer.invalidate(); // force re-arming with the new delay
      pump();
    },
    flush() {
      queue.flush();
      pump();
    },
    idle() {
      if (lanes.inFlight === 0 && queue.queued === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    close() {
      if (closed) return;
      closed = true;
      timer.cancel();
      queue.rejectAll(new EdgeMLError('ABORTED', 'the inferencer is stopping'));
      settleIdle();
    },
  };
}
