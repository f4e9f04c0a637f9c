import type { Gauge } from '@edgeml/shared';

/** The bounds a {@link WorkSlots} reads on every decision (so a twin change applies at once). */
export interface SlotLimits {
  /** Items processed at once. */
  readonly maxConcurrentItems: number;
  /** Items waiting for a slot; beyond this the caller is told the queue is full. */
  readonly maxQueuedItems: number;
}

/**
 * Bounded concurrency with a bounded FIFO wait queue. `acquire` resolves `true` when the caller
 * holds a slot (it must `release` it) or `false` when the wait was cancelled by {@link cancelWaiting}
 * (stopping). Admission is the caller's decision: it asks {@link isFull} first.
 */
export class WorkSlots {
  readonly #limits: () => SlotLimits;
  readonly #gauges: { readonly inFlight: Gauge; readonly queued: Gauge };
  #active = 0;
  readonly #waiting: ((go: boolean) => void)[] = [];
  readonly #idleWaiters: (() => void)[] = [];

  constructor(limits: () => SlotLimits, gauges: { inFlight: Gauge; queued: Gauge }) {
    this.#limits = limits;
    this.#gauges = gauges;
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** Every slot is taken and the wait queue holds `maxQueuedItems`. */
  isFull(): boolean {
    const l = this.#limits();
    return this.#active >= l.maxConcurrentItems && this.#waiting.length >= l.maxQueuedItems;
  }

  acquire(): Promise<boolean> {
    if (this.#active < this.#limits().maxConcurrentItems && this.#waiting.length === 0) {
      this.#active++;
      this.#gauges.inFlight.set(this.#active);
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      this.#waiting.push(resolve);
      this.#gauges.queued.set(this.#waiting.length);
    });
  }

  release(): void {
    this.#active--;
    this.admitWaiting();
    if (this.#active === 0 && this.#waiting.length === 0) for (const w of this.#idleWaiters.splice(0)) w();
  }

  /** Starts waiting items while slots are free (after a release, or when maxConcurrentItems grew). */
  admitWaiting(): void {
    while (this.#active < this.#limits().maxConcurrentItems && this.#waiting.length > 0) {
      this.#active++;
      this.#waiting.shift()!(true);
    }
    this.#gauges.inFlight.set(this.#active);
    this.#gauges.queued.set(this.#waiting.length);
  }

  /** Waiting items leave without running (their `acquire` resolves false). */
  cancelWaiting(): void {
    for (const w of this.#waiting.splice(0)) w(false);
    this.#gauges.queued.set(0);
    if (this.#active === 0) for (const w of this.#idleWaiters.splice(0)) w();
  }

  /** Resolves once nothing runs and nothing waits. */
  idle(): Promise<void> {
    if (this.#active === 0 && this.#waiting.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }
}
