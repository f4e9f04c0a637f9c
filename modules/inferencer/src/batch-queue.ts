/**
 * The items a batcher holds, grouped by key, and the dispatch policy (batcher.ts): which group goes
 * next (the oldest head among those ready whose lane has room) and how many of its items. The
 * policy reads the time it is given; the clock only stamps items as they arrive.
 */
import type { BatchedResult, BatcherClock, PushOptions } from './batcher.js';

/** One queued item and how to settle its push(). */
export interface Pending<T, R> {
  readonly item: T;
  readonly enqueuedAt: number;
  readonly resolve: (r: BatchedResult<R>) => void;
  readonly reject: (e: unknown) => void;
}

/** Items taken off the queue to run as one batch: all of one key, oldest first. */
export interface TakenBatch<T, R> {
  readonly key: string;
  readonly lane: string;
  readonly items: Pending<T, R>[];
}

/** Whether a lane can take another batch now (batch-lanes.ts). */
export interface LaneRoom {
  hasRoom(lane: string): boolean;
}

interface Group<T, R> {
  readonly key: string;
  readonly lane: string;
  limit: number;
  preferred: readonly number[];
  readonly items: Pending<T, R>[];
}

export class BatchQueue<T, R> {
  // Insertion-ordered; a group is removed when it empties so the map stays small.
  private readonly groups = new Map<string, Group<T, R>>();
  private count = 0;
  private flushing = false;

  constructor(
    private readonly clock: BatcherClock,
    private readonly laneOf: (key: string) => string,
    private maxBatchSize: number,
    private maxQueueDelayMs: number,
  ) {}

  /** Items waiting (not yet taken). */
  get queued(): number {
    return this.count;
  }

  setLimits(maxBatchSize: number, maxQueueDelayMs: number): void {
    this.maxBatchSize = maxBatchSize;
    this.maxQueueDelayMs = maxQueueDelayMs;
  }

  /** From now on every group with items is ready, whatever its delay (used when stopping). */
  flush(): void {
    this.flushing = true;
  }

  add(key: string, item: T, options: PushOptions, resolve: (r: BatchedResult<R>) => void, reject: (e: unknown) => void): void {
    let group = this.groups.get(key);
    const limit = options.maxBatchSize ?? Number.POSITIVE_INFINITY;
    const preferred = options.preferredBatchSizes ?? [];
    if (group === undefined) {
      group = { key, lane: this.laneOf(key), limit, preferred, items: [] };
      this.groups.set(key, group);
    } else {
      // The latest push carries the configuration in force.
      group.limit = limit;
      group.preferred = preferred;
    }
    group.items.push({ item, enqueuedAt: this.clock.now(), resolve, reject });
    this.count++;
  }

  /** Takes the next batch to dispatch at `now`: of the ready groups whose lane has room, the one with the oldest head. */
  next(now: number, lanes: LaneRoom): TakenBatch<T, R> | undefined {
    let best: Group<T, R> | undefined;
    let bestTake = 0;
    for (const g of this.groups.values()) {
      if (!lanes.hasRoom(g.lane)) continue;
      const take = this.takeOf(g, now);
      if (take > 0 && (best === undefined || (g.items[0]?.enqueuedAt ?? Infinity) < (best.items[0]?.enqueuedAt ?? Infinity))) {
        best = g;
        bestTake = take;
      }
    }
    if (best === undefined) return undefined;
    const items = best.items.splice(0, bestTake);
    if (best.items.length === 0) this.groups.delete(best.key);
    this.count -= items.length;
    return { key: best.key, lane: best.lane, items };
  }

  /** When the oldest head of a group whose lane has room reaches its delay (+Infinity: none). */
  earliestDeadline(lanes: LaneRoom): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const g of this.groups.values()) {
      const head = g.items[0];
      // A lane without room is woken by its running batch, not by a timer.
      if (head !== undefined && lanes.hasRoom(g.lane)) earliest = Math.min(earliest, head.enqueuedAt + this.maxQueueDelayMs);
    }
    return earliest;
  }

  /** Fails every queued item with `err` and empties the queue. */
  rejectAll(err: Error): void {
    for (const g of this.groups.values()) for (const p of g.items.splice(0)) p.reject(err);
    this.groups.clear();
    this.count = 0;
  }

  private limitOf(g: Group<T, R>): number {
    return Math.max(1, Math.min(g.limit, this.maxBatchSize));
  }

  /** How many items of `g` to dispatch now (0: not ready). */
  private takeOf(g: Group<T, R>, now: number): number {
    const head = g.items[0];
    if (head === undefined) return 0;
    const limit = this.limitOf(g);
    const n = g.items.length;
    if (this.flushing || n >= limit) return Math.min(n, limit);
    for (let i = g.preferred.length - 1; i >= 0; i--) {
      const p = g.preferred[i]!;
      if (p <= n && p <= limit) return p;
    }
    return now - head.enqueuedAt >= this.maxQueueDelayMs ? Math.min(n, limit) : 0;
  }
}
