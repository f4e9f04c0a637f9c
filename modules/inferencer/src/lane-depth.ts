/**
 * How many batches of one model may be in flight to its session workers at once: one running in
 * each replica's worker and some queued behind them, so that a worker never waits for the main
 * thread between batches (measured: with one or two in all, the worker sat idle while a batch
 * crossed threads).
 *
 * Short runs (a classifier at batch 1: under a millisecond on the 2-core VM) get a deeper queue: the
 * worker answers them several to a message (session/run-queue.ts), flushing while
 * {@link HOLD_WHILE_WAITING} - 1 batches still wait, and needs those to cover the main thread's
 * round trip (receive the answers, send the results, dispatch the next batches), which on a busy
 * machine takes several such runs. Measured with bench/inferencer.ts (classifier, batch 1, 1024
 * tensors, other sessions loading the VM): with 2 queued the worker got 1.4–1.6 batches per message
 * and spent 1.2 ms of CPU per item; with 4, 2.1 per message and 0.97–1.0 ms. Long runs (a detector)
 * keep 2: a deeper queue would only take items from the batcher that could still join a larger batch.
 */
import { HOLD_SHORT_RUN_MS, HOLD_WHILE_WAITING } from './session/run-queue.js';

/** Batches queued per model beyond one per replica, for models whose runs are long (or not seen yet). */
export const BATCHES_QUEUED_PER_MODEL = 2;
/** The same for models whose last run was shorter than {@link HOLD_SHORT_RUN_MS}. */
export const BATCHES_QUEUED_SHORT_RUNS = HOLD_WHILE_WAITING + 1;

/** The last batch run time (`inferMs`) of each lane (profile), and the depth it allows. */
export class LaneDepth {
  readonly #lastRunMs = new Map<string, number>();

  /** A batch of `lane` ran for `inferMs` (the model run alone). */
  observe(lane: string, inferMs: number): void {
    this.#lastRunMs.set(lane, inferMs);
  }

  /** Batches of `lane` allowed in flight, for a model served by `replicas` sessions. */
  maxInFlight(lane: string, replicas: number): number {
    const last = this.#lastRunMs.get(lane);
    const short = last !== undefined && last < HOLD_SHORT_RUN_MS;
    return Math.max(1, replicas) + (short ? BATCHES_QUEUED_SHORT_RUNS : BATCHES_QUEUED_PER_MODEL);
  }
}
