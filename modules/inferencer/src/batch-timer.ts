/**
 * The one timer of a batcher: it fires at the earliest queue-delay deadline (batch-queue.ts
 * `earliestDeadline`) and is left alone while that deadline stays the same.
 */
import type { BatcherClock } from './batcher.js';

export class DeadlineTimer {
  private handle: unknown;
  private at = Number.POSITIVE_INFINITY;

  constructor(
    private readonly clock: BatcherClock,
    private readonly onFire: () => void,
  ) {}

  /** Sets the timer for `deadline` (+Infinity: none) unless it is already set for it. */
  arm(deadline: number, now: number): void {
    if (deadline === this.at) return;
    if (this.handle !== undefined) this.clock.clearTimer(this.handle);
    this.handle = undefined;
    this.at = deadline;
    if (deadline === Number.POSITIVE_INFINITY) return;
    this.handle = this.clock.setTimer(() => {
      this.handle = undefined;
      this.at = Number.POSITIVE_INFINITY;
      this.onFire();
    }, Math.max(0, deadline - now));
  }

  /** Makes the next arm() set the timer even for the deadline already set (deadlines were recomputed). */
  invalidate(): void {
    this.at = Number.NaN;
  }

  /** Clears the timer set, if any. */
  cancel(): void {
    if (this.handle !== undefined) this.clock.clearTimer(this.handle);
    this.handle = undefined;
  }
}
