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
 */
import { EdgeMLError } from '@edgeml/shared';

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

interface Pending<T, R> {
  readonly item: T;
  readonly enqueuedAt: number;
  readonly resolve: (r: BatchedResult<R>) => void;
  readonly reject: (e: unknown) => void;
}

interface Group<T, R> {
  readonly key: string;
  readonly lane: string;
  limit: number;
  preferred: readonly number[];
  readonly items: Pending<T, R>[];
}

export function createBatcher<T, R>(options: BatcherOptions<T, R>): Batcher<T, R> {
  const clock = options.clock ?? SYSTEM_CLOCK;
  const laneOf = options.laneOf ?? ((key: string) => key);
  const limitOption = options.maxInFlightPerLane ?? 1;
  const maxInFlightOf = typeof limitOption === 'number' ? () => limitOption : limitOption;
  let maxBatchSize = options.maxBatchSize;
  let maxQueueDelayMs = options.maxQueueDelayMs;
  // Insertion-ordered; a group is removed when it empties so the map stays small.
  const groups = new Map<string, Group<T, R>>();
  const lanesInFlight = new Map<string, number>();
  let inFlight = 0;
  let flushing = false;
  let closed = false;
  let timer: unknown;
  let timerAt = Number.POSITIVE_INFINITY;
  let idleWaiters: (() => void)[] = [];
  let queued = 0;

  const limitOf = (g: Group<T, R>): number => Math.max(1, Math.min(g.limit, maxBatchSize));
  const laneHasRoom = (lane: string): boolean => (lanesInFlight.get(lane) ?? 0) < Math.max(1, maxInFlightOf(lane));

  /** How many items of `g` to dispatch now (0: not ready). */
  const takeOf = (g: Group<T, R>, now: number): number => {
    const head = g.items[0];
    if (head === undefined) return 0;
    const limit = limitOf(g);
    const n = g.items.length;
    if (flushing || n >= limit) return Math.min(n, limit);
    for (let i = g.preferred.length - 1; i >= 0; i--) {
      const p = g.preferred[i]!;
      if (p <= n && p <= limit) return p;
    }
    return now - head.enqueuedAt >= maxQueueDelayMs ? Math.min(n, limit) : 0;
  };

  const armTimer = (now: number): void => {
    let earliest = Number.POSITIVE_INFINITY;
    for (const g of groups.values()) {
      const head = g.items[0];
      // A lane without room is woken by its running batch, not by a timer.
      if (head !== undefined && laneHasRoom(g.lane)) earliest = Math.min(earliest, head.enqueuedAt + maxQueueDelayMs);
    }
    if (earliest === timerAt) return;
    if (timer !== undefined) clock.clearTimer(timer);
    timer = undefined;
    timerAt = earliest;
    if (earliest === Number.POSITIVE_INFINITY) return;
    timer = clock.setTimer(() => {
      timer = undefined;
      timerAt = Number.POSITIVE_INFINITY;
      pump();
    }, Math.max(0, earliest - now));
  };

  const settleIdle = (): void => {
    if (inFlight > 0 || queued > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  };

  const pump = (): void => {
    const now = clock.now();
    for (;;) {
      let best: Group<T, R> | undefined;
      let bestTake = 0;
      for (const g of groups.values()) {
        if (!laneHasRoom(g.lane)) continue;
        const take = takeOf(g, now);
        if (take > 0 && (best === undefined || (g.items[0]?.enqueuedAt ?? Infinity) < (best.items[0]?.enqueuedAt ?? Infinity))) {
          best = g;
          bestTake = take;
        }
      }
      if (best === undefined) break;
      const batch = best.items.splice(0, bestTake);
      if (best.items.length === 0) groups.delete(best.key);
      queued -= batch.length;
      inFlight++;
      lanesInFlight.set(best.lane, (lanesInFlight.get(best.lane) ?? 0) + 1);
      void execute(best.key, best.lane, batch, batch.map((p) => now - p.enqueuedAt), now);
    }
    armTimer(now);
    settleIdle();
  };

  const execute = async (key: string, lane: string, batch: Pending<T, R>[], queueMs: number[], startedAt: number): Promise<void> => {
    let results: readonly (R | Error)[] | undefined;
    let failure: unknown;
    try {
      results = await options.run(
        key,
        batch.map((p) => p.item),
      );
      if (results.length !== batch.length) {
        failure = new EdgeMLError('INTERNAL', `batch runner returned ${results.length} results for ${batch.length} items`);
        results = undefined;
      }
    } catch (err: unknown) {
      failure = err;
    }
    const runMs = clock.now() - startedAt;
    inFlight--;
    const left = (lanesInFlight.get(lane) ?? 1) - 1;
    if (left <= 0) lanesInFlight.delete(lane);
    else lanesInFlight.set(lane, left);
    options.onBatch?.({ key, size: batch.length, queueMs, runMs, failed: results === undefined });
    batch.forEach((p, i) => {
      const r = results?.[i];
      if (results === undefined) p.reject(failure);
      else if (r instanceof Error) p.reject(r);
      else p.resolve({ result: r as R, batchSize: batch.length, queueMs: queueMs[i] ?? 0, runMs });
    });
    timerAt = Number.NaN; // the lane has room again: its groups' deadlines count again
    pump();
  };

  return {
    push(key, item, pushOptions = {}) {
      if (closed) return Promise.reject(new EdgeMLError('ABORTED', 'batcher is closed'));
      return new Promise<BatchedResult<R>>((resolve, reject) => {
        let group = groups.get(key);
        const limit = pushOptions.maxBatchSize ?? Number.POSITIVE_INFINITY;
        const preferred = pushOptions.preferredBatchSizes ?? [];
        if (group === undefined) {
          group = { key, lane: laneOf(key), limit, preferred, items: [] };
          groups.set(key, group);
        } else {
          // The latest push carries the configuration in force.
          group.limit = limit;
          group.preferred = preferred;
        }
        group.items.push({ item, enqueuedAt: clock.now(), resolve, reject });
        queued++;
        pump();
      });
    },
    depth: () => queued,
    inFlight: () => inFlight,
    busy: () => inFlight > 0,
    reconfigure(limits) {
      maxBatchSize = limits.maxBatchSize;
      maxQueueDelayMs = limits.maxQueueDelayMs;
      timerAt = Number.NaN; // force re-arming with the new delay
      pump();
    },
    flush() {
      flushing = true;
      pump();
    },
    idle() {
      if (inFlight === 0 && queued === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clock.clearTimer(timer);
      timer = undefined;
      const err = new EdgeMLError('ABORTED', 'the inferencer is stopping');
      for (const g of groups.values()) for (const p of g.items.splice(0)) p.reject(err);
      groups.clear();
      queued = 0;
      settleIdle();
    },
  };
}
