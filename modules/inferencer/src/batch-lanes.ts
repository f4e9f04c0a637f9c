/**
 * A batcher's batches dispatched and not finished, per lane and in all. A lane (a model's session)
 * runs batches one after another; it has room while fewer than its `maxInFlightPerLane` run.
 */
import type { LaneRoom } from './batch-queue.js';

export class LaneSlots implements LaneRoom {
  private readonly perLane = new Map<string, number>();
  private total = 0;
  private readonly maxInFlightOf: (lane: string) => number;

  constructor(maxInFlightPerLane: number | ((lane: string) => number)) {
    this.maxInFlightOf = typeof maxInFlightPerLane === 'number' ? () => maxInFlightPerLane : maxInFlightPerLane;
  }

  /** Batches dispatched and not finished, all lanes together. */
  get inFlight(): number {
    return this.total;
  }

  hasRoom(lane: string): boolean {
    return (this.perLane.get(lane) ?? 0) < Math.max(1, this.maxInFlightOf(lane));
  }

  /** A batch of `lane` is dispatched. */
  acquire(lane: string): void {
    this.total++;
    this.perLane.set(lane, (this.perLane.get(lane) ?? 0) + 1);
  }

  /** A batch of `lane` finished. */
  release(lane: string): void {
    this.total--;
    const left = (this.perLane.get(lane) ?? 1) - 1;
    if (left <= 0) this.perLane.delete(lane);
    else this.perLane.set(lane, left);
  }
}
