/**
 * One session worker thread, seen from the main thread: its calls (one request, one answer each),
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
  #onIdle: (() => void) | undefined;
  /** The sessions this worker hosts (a replicated session is in each of its workers). */
  readonly sessions = new Set<ModelSession>();
  /** Why the worker is gone (or going): set, no call is taken any more. */
  dead: string | undefined;

  /** @param onDied called once when the worker errs or exits, with the sessions it took with it */
  constructor(onDied: (host: WorkerHost, reason: string, lost: readonly ModelSession[]) => void) {
    this.#worker = spawnWorker(import.meta.url, 'worker');
    this.#worker.on('message', (reply: WorkerReply) => this.#answer(reply));
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

  /** Sends one request; resolves with its answer. @throws EdgeMLError with the worker's code, or {@link workerStopped} */
  call(req: HostRequest, transfer: ArrayBuffer[] = []): Promise<WorkerReplyValue> {
    if (this.dead !== undefined) return Promise.reject(workerStopped(this.dead));
    const id = this.#nextId++;
    return new Promise<WorkerReplyValue>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) this.#worker.ref();
      try {
        this.#worker.postMessage({ ...req, id } as WorkerRequest, transfer);
      } catch (err: unknown) {
        this.#pending.delete(id);
        reject(new EdgeMLError('INTERNAL', `could not post to the session worker: ${String(err)}`, { cause: err }));
      }
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
