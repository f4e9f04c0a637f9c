/**
 * The runs of one session worker, one after another in arrival order, and when their answers go
 * back to the main thread.
 *
 * Why one after another: queued batches would otherwise each read their files and then wait in ONNX
 * Runtime's `setImmediate` queue behind one another, and that wait counted as their run time
 * (`inferMs`, the inference-time metric, a rollout's latency ratio). Nothing is lost: the runs are
 * synchronous on the worker's thread.
 *
 * Why answers are held: each message between the threads costs both of them (serialisation, a
 * wake-up of the other thread, an event dispatch), and at batch 1 a classifier run takes under a
 * millisecond, so one message per run each way was a fifth of the worker's time (profile of
 * bench/inferencer.ts on the 2-core VM). While at least {@link HOLD_WHILE_WAITING} more runs wait, the
 * answer of a short run is held and goes with the next one: the worker still has a run to do while
 * the main thread receives the answers and sends the next batches, so it never waits for them. A run
 * longer than {@link HOLD_SHORT_RUN_MS} (a detector) is answered at once: holding it would delay its
 * results by another long run for nothing, the message being small next to the run.
 */
import { errorCode, errorMessage } from '@edgeml/shared';
import type { WorkerReply, WorkerReplyValue } from './protocol.js';

/** A short run's answer is held only while at least this many runs wait behind it. */
export const HOLD_WHILE_WAITING = 3;
/** Runs longer than this (ms) are answered at once. */
export const HOLD_SHORT_RUN_MS = 5;
/** At most this many answers are held together. */
export const MAX_HELD_REPLIES = 8;

/** The reply for a failed request: the error's own code when it carries one (a plain Error from ONNX Runtime does not). */
export function failureReply(id: number, err: unknown): WorkerReply {
  const own = (err as { code?: unknown } | null)?.code;
  const code = errorCode(err) === 'INTERNAL' && typeof own === 'string' ? own : errorCode(err);
  return { id, ok: false, error: { code, message: errorMessage(err) } };
}

export class RunQueue {
  readonly #waiting: { readonly id: number; readonly run: () => Promise<WorkerReplyValue> }[] = [];
  #held: WorkerReply[] = [];
  #draining = false;

  /**
   * @param post sends answers to the main thread, several in one message
   * @param now a clock in ms (tests pass a fake)
   */
  constructor(
    private readonly post: (replies: WorkerReply[]) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Runs waiting (not started). */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Queues a run; its answer (value or failure) is posted under `id`. */
  add(id: number, run: () => Promise<WorkerReplyValue>): void {
    this.#waiting.push({ id, run });
    if (!this.#draining) void this.#drain();
  }

  /** Posts an answer that is not a run's (an open, a release) at once, with any answers held. */
  answer(reply: WorkerReply): void {
    this.#held.push(reply);
    this.#flush();
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      for (let next = this.#waiting.shift(); next !== undefined; next = this.#waiting.shift()) {
        const t0 = this.now();
        let reply: WorkerReply;
        try {
          reply = { id: next.id, ok: true, value: await next.run() };
        } catch (err: unknown) {
          reply = failureReply(next.id, err);
        }
        this.#held.push(reply);
        const hold = this.#waiting.length >= HOLD_WHILE_WAITING && this.now() - t0 < HOLD_SHORT_RUN_MS && this.#held.length < MAX_HELD_REPLIES;
        if (!hold) this.#flush();
      }
    } finally {
      this.#draining = false;
      this.#flush();
    }
  }

  #flush(): void {
    if (this.#held.length === 0) return;
    const replies = this.#held;
    this.#held = [];
    this.post(replies);
  }
}
