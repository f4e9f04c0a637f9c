/**
 * One session worker thread, seen from the main thread: its calls (one request, one answer each;
 * the requests of one event-loop turn in one message, answers several to a message),
 * the sessions it hosts, its death (every pending call fails as {@link workerStopped}), and a stop
 * that first lets the calls it is in answer.
 */
import type { Worker } from 'node:worker_threads';
import { EdgeMLError, type ErrorCode, type Logger, ERROR_CODES } from '@edgeml/shared';
import { spawnWorker } from '../spawn-worker.js';
import type { WorkerReply, WorkerReplyValue, WorkerRequest } from './protocol.js';
import type { ModelSession } from './types.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A request before the host gives it its id. */
export type HostRequest = DistributiveOmit<WorkerRequest, 'id'>;

/**
 * How long a stop lets the worker finish the calls it is in (a run, an open, a release) before
 * stopping it anyway. Stopping a worker inside ONNX Runtime's native work (a session being created
 * or released) can end the whole process: the binding's C++ exception then finds no JavaScript to
 * throw into (`terminate called after throwing an instance of 'Napi::Error'`, seen once in the
 * integration tests right after a provider switch).
 */
export const POOL_CLOSE_DRAIN_MS = 10_000;

/**
 * A run that failed because its worker stopped, not because of its input: `details.workerStopped`
 * lets the caller hand the items back for a later try instead of dead-lettering them.
 */
export function workerStopped(reason: string): EdgeMLError {
  return new EdgeMLError('INFERENCE_FAILED', `the session worker stopped: ${reason}`, { details: { workerStopped: true } });
}

/** True for the error {@link workerStopped} makes. */
export function isWorkerStopped(err: unknown): boolean {
  return err instanceof EdgeMLError && err.details?.['workerStopped'] === true;
}

const asCode = (code: string): ErrorCode => (code in ERROR_CODES ? (code as ErrorCode) : 'INFERENCE_FAILED');

interface Pending {
  readonly resolve: (v: WorkerReplyValue) => void;
  readonly reject: (e: unknown) => void;
}

export class WorkerHost {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  /** Requests of this event-loop turn, not yet posted. */
  #outbox: { readonly request: WorkerRequest; readonly transfer: ArrayBuffer[] }[] = [];
  #onIdle: (() => void) | undefined;
  /** The sessions this worker hosts (a replicated session is in each of its workers). */
  readonly sessions = new Set<ModelSession>();
  /** Why the worker is gone (or going): set, no call is taken any more. */
  dead: string | undefined;

  /** @param onDied called once when the worker errs or exits, with the sessions it took with it */
  constructor(onDied: (host: WorkerHost, reason: string, lost: readonly ModelSession[]) => void) {
    this.#worker = spawnWorker(import.meta.url, 'worker');
    this.#worker.on('message', (replies: readonly WorkerReply[]) => {
      for (const reply of replies) this.#answer(reply);
    });
    const die = (reason: string): void => {
      if (this.dead !== undefined) return;
      this.dead = reason;
      this.#failPending(reason);
      const lost = [...this.sessions];
      this.sessions.clear();
      onDied(this, reason, lost);
    };
    this.#worker.on('error', (err) => die(err.message));
    this.#worker.on('exit', (code) => die(`exited with code ${code}`));
    // A worker with nothing pending must not keep the process alive (tests, a stopping module).
    this.#worker.unref();
  }

  /**
   * Sends one request; resolves with its answer. The requests of one event-loop turn go to the
   * worker in one message (the batches the batcher dispatches together, the next ones after a held
   * answer: run-queue.ts says why). @throws EdgeMLError with the worker's code, or {@link workerStopped}
   */
  call(req: HostRequest, transfer: ArrayBuffer[] = []): Promise<WorkerReplyValue> {
    if (this.dead !== undefined) return Promise.reject(workerStopped(this.dead));
    const id = this.#nextId++;
    return new Promise<WorkerReplyValue>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) this.#worker.ref();
      this.#outbox.push({ request: { ...req, id } as WorkerRequest, transfer });
      if (this.#outbox.length === 1) setImmediate(() => this.#send());
    }).finally(() => {
      if (this.#pending.size === 0 && this.dead === undefined) this.#worker.unref();
    });
  }

  /** Stops the worker once the calls it is in have answered (at most {@link POOL_CLOSE_DRAIN_MS}); later calls fail. */
  async stopWhenIdle(logger: Logger): Promise<void> {
    if (this.#pending.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const idle = await Promise.race([
        new Promise<true>((resolve) => (this.#onIdle = () => resolve(true))),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), POOL_CLOSE_DRAIN_MS))),
      ]);
      clearTimeout(timer);
      if (!idle) logger.warn({ pending: this.#pending.size, waitedMs: POOL_CLOSE_DRAIN_MS }, 'a session worker is stopped with calls still running');
    }
    await this.#worker.terminate();
    this.#failPending(this.dead ?? 'the session pool is closed');
  }

  /** Posts the requests queued this turn in one message; one that cannot be posted fails alone. */
  #send(): void {
    // A request no longer pending was failed already (the worker died); a stopping worker still gets the rest.
    const out = this.#outbox.filter((o) => this.#pending.has(o.request.id));
    this.#outbox = [];
    if (out.length === 0) return;
    try {
      this.#worker.postMessage(
        out.map((o) => o.request),
        out.flatMap((o) => o.transfer),
      );
      return;
    } catch {
      // Which one could not be cloned? Each alone says (nothing was transferred: cloning comes first).
    }
    for (const { request, transfer } of out) {
      try {
        this.#worker.postMessage([request], transfer);
      } catch (err: unknown) {
        this.#answer({ id: request.id, ok: false, error: { code: 'INTERNAL', message: `could not post to the session worker: ${String(err)}` } });
      }
    }
  }

  #answer(reply: WorkerReply): void {
    const p = this.#pending.get(reply.id);
    if (p === undefined) return;
    this.#pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.value);
    else p.reject(new EdgeMLError(asCode(reply.error.code), reply.error.message));
    if (this.#pending.size === 0) this.#onIdle?.();
  }

  #failPending(reason: string): void {
    for (const p of this.#pending.values()) p.reject(workerStopped(reason));
    this.#pending.clear();
    this.#onIdle?.();
  }
}
