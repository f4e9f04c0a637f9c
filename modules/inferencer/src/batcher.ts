/**
 * Dynamic batching (pure: no I/O, clock injected) and the admission gate that bounds the queue.
 *
 * Items are grouped by a key (model + per-item shape: only equal shapes stack into one batch). A
 * group is dispatched when it holds `maxBatchSize` items, when its oldest item has waited
 * `maxQueueDelayMs`, or at once when flushing. One batch runs at a time: on a CPU, ONNX Runtime
 * already uses every core inside one run, and concurrent runs only add contention (measured in
 * bench/inferencer.ts). Items that arrive while a batch runs accumulate, so batches grow with load.
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
  /** Time the run took, in ms. */
  readonly runMs: number;
  readonly failed: boolean;
}

export interface BatcherOptions<T, R> {
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
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
  /** Limit for this item's group, below the global maxBatchSize (1 for models with a fixed batch dimension of 1). */
  readonly maxBatchSize?: number;
}

export interface Batcher<T, R> {
  /** Queues an item; resolves with its result once its batch ran. @throws the batch's or item's error */
  push(key: string, item: T, options?: PushOptions): Promise<BatchedResult<R>>;
  /** Items waiting (not yet dispatched). */
  depth(): number;
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
  limit: number;
  readonly items: Pending<T, R>[];
}

export function createBatcher<T, R>(options: BatcherOptions<T, R>): Batcher<T, R> {
  const clock = options.clock ?? SYSTEM_CLOCK;
  let maxBatchSize = options.maxBatchSize;
  let maxQueueDelayMs = options.maxQueueDelayMs;
  // Insertion-ordered; a group is removed when it empties so the map stays small.
  const groups = new Map<string, Group<T, R>>();
  let running = false;
  let flushing = false;
  let closed = false;
  let timer: unknown;
  let timerAt = Number.POSITIVE_INFINITY;
  let idleWaiters: (() => void)[] = [];
  let queued = 0;

  const limitOf = (g: Group<T, R>): number => Math.max(1, Math.min(g.limit, maxBatchSize));

  const pickReady = (now: number): Group<T, R> | undefined => {
    let best: Group<T, R> | undefined;
    for (const g of groups.values()) {
      const head = g.items[0];
      if (head === undefined) continue;
      const ready = flushing || g.items.length >= limitOf(g) || now - head.enqueuedAt >= maxQueueDelayMs;
      if (ready && (best === undefined || head.enqueuedAt < (best.items[0]?.enqueuedAt ?? Infinity))) best = g;
    }
    return best;
  };

  const armTimer = (now: number): void => {
    let earliest = Number.POSITIVE_INFINITY;
    for (const g of groups.values()) {
      const head = g.items[0];
      if (head !== undefined) earliest = Math.min(earliest, head.enqueuedAt + maxQueueDelayMs);
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
    if (running || queued > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  };

  const pump = (): void => {
    if (running) return;
    const now = clock.now();
    const group = pickReady(now);
    if (group === undefined) {
      armTimer(now);
      settleIdle();
      return;
    }
    const batch = group.items.splice(0, limitOf(group));
    if (group.items.length === 0) groups.delete(group.key);
    queued -= batch.length;
    running = true;
    armTimer(now);
    const queueMs = batch.map((p) => now - p.enqueuedAt);
    void execute(group.key, batch, queueMs, now);
  };

  const execute = async (key: string, batch: Pending<T, R>[], queueMs: number[], startedAt: number): Promise<void> => {
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
    running = false;
    options.onBatch?.({ key, size: batch.length, queueMs, runMs, failed: results === undefined });
    batch.forEach((p, i) => {
      const r = results?.[i];
      if (results === undefined) p.reject(failure);
      else if (r instanceof Error) p.reject(r);
      else p.resolve({ result: r as R, batchSize: batch.length, queueMs: queueMs[i] ?? 0, runMs });
    });
    pump();
  };

  return {
    push(key, item, pushOptions = {}) {
      if (closed) return Promise.reject(new EdgeMLError('ABORTED', 'batcher is closed'));
      return new Promise<BatchedResult<R>>((resolve, reject) => {
        let group = groups.get(key);
        const limit = pushOptions.maxBatchSize ?? Number.POSITIVE_INFINITY;
        if (group === undefined) {
          group = { key, limit, items: [] };
          groups.set(key, group);
        } else {
          group.limit = limit; // the latest push carries the configuration in force
        }
        group.items.push({ item, enqueuedAt: clock.now(), resolve, reject });
        queued++;
        pump();
      });
    },
    depth: () => queued,
    busy: () => running,
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
      if (!running && queued === 0) return Promise.resolve();
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

/**
 * Bounds what is admitted into the pipeline (read from disk, queued, running) in items and bytes.
 * When full, `acquire` waits (backpressure towards edgeHub: the input handler does not return),
 * first come first served. Pure: no timers.
 */
export interface Admission {
  /** Resolves with a release function once `bytes` fit. @throws EdgeMLError FILE_TOO_LARGE when `bytes` exceeds the byte bound on its own, ABORTED on signal/close */
  acquire(bytes: number, signal?: AbortSignal): Promise<() => void>;
  /** Acquirers waiting for room. */
  readonly waiting: number;
  readonly items: number;
  readonly bytes: number;
  resize(limits: { maxItems: number; maxBytes: number }): void;
  close(): void;
}

export function createAdmission(limits: { maxItems: number; maxBytes: number }): Admission {
  let { maxItems, maxBytes } = limits;
  let items = 0;
  let bytes = 0;
  let closed = false;
  const waiters: { bytes: number; grant: () => void; fail: (e: unknown) => void }[] = [];

  const fits = (b: number): boolean => items + 1 <= maxItems && bytes + b <= maxBytes;

  const makeRelease = (b: number): (() => void) => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      items--;
      bytes -= b;
      drain();
    };
  };

  const drain = (): void => {
    while (waiters.length > 0) {
      const head = waiters[0];
      if (head === undefined || !fits(head.bytes)) return;
      waiters.shift();
      items++;
      bytes += head.bytes;
      head.grant();
    }
  };

  return {
    acquire(b, signal) {
      if (closed) return Promise.reject(new EdgeMLError('ABORTED', 'the inferencer is stopping'));
      if (b > maxBytes) return Promise.reject(new EdgeMLError('FILE_TOO_LARGE', `tensor of ${b} bytes exceeds maxQueueBytes (${maxBytes})`));
      if (waiters.length === 0 && fits(b)) {
        items++;
        bytes += b;
        return Promise.resolve(makeRelease(b));
      }
      return new Promise<() => void>((resolve, reject) => {
        const waiter = {
          bytes: b,
          grant: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve(makeRelease(b));
          },
          fail: (e: unknown) => {
            signal?.removeEventListener('abort', onAbort);
            reject(e);
          },
        };
        const onAbort = (): void => {
          const i = waiters.indexOf(waiter);
          if (i >= 0) waiters.splice(i, 1);
          reject(new EdgeMLError('ABORTED', 'admission aborted', { cause: signal?.reason }));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.push(waiter);
      });
    },
    get waiting() {
      return waiters.length;
    },
    get items() {
      return items;
    },
    get bytes() {
      return bytes;
    },
    resize(next) {
      maxItems = next.maxItems;
      maxBytes = next.maxBytes;
      drain();
    },
    close() {
      closed = true;
      const err = new EdgeMLError('ABORTED', 'the inferencer is stopping');
      for (const w of waiters.splice(0)) w.fail(err);
    },
  };
}
