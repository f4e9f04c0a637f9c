/**
 * The session workers, seen from the main thread: a small pool of worker threads (1 by default)
 * hosting every model session, and {@link ModelSession} proxies that forward to them.
 *
 * Why a pool and not one worker per session: a hot swap then costs a session, not a thread (and
 * no V8 heap per swap), and on a CPU one worker serialises the runs of all models, which is what
 * ONNX Runtime wants there (every run already uses every core; concurrent runs only contend).
 * On a GPU, more workers let the runs of different models overlap.
 *
 * What the CUDA probe learns in a worker is kept in this process (open.ts), per device.
 */
import type { Worker } from 'node:worker_threads';
import { EdgeMLError, type ErrorCode, type Logger, ERROR_CODES } from '@edgeml/shared';
import { spawnWorker } from '../spawn-worker.js';
import { knownCuda, learnCuda } from './open.js';
import { type OpenReply, type WorkerReply, type WorkerReplyValue, type WorkerRequest } from './protocol.js';
import { replicatedSession, type Replica } from './replicated.js';
import type { ModelSession, SessionOptions } from './types.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Request = DistributiveOmit<WorkerRequest, 'id'>;

export interface SessionPool {
  /**
   * Opens a model in the least busy worker; with `replicas`, that many sessions of it in as many
   * workers (the count for the provider the first one ends up on), used as one.
   * @throws EdgeMLError MODEL_INVALID
   */
  open(modelPath: string, options: SessionOptions, replicas?: ReplicaCount): Promise<ModelSession>;
  /** Workers for sessions opened from now on; a worker beyond the size stops once its sessions are released. */
  resize(size: number): void;
  /** Workers alive. */
  readonly workers: number;
  /** Sessions open (a replicated session counts once). */
  readonly sessions: number;
  /** Terminates every worker; sessions still open fail from then on. Idempotent. */
  close(): Promise<void>;
}

/** Sessions of one model per provider (session/replicas.ts decides them). */
export interface ReplicaCount {
  readonly cpu: number;
  readonly cuda: number;
}

export interface SessionPoolOptions {
  /** Worker threads (default 1). */
  readonly size?: number;
  readonly logger: Logger;
  /** Called when a worker dies with sessions open (they are gone; the owner reopens them). */
  readonly onSessionsLost?: (sessions: readonly ModelSession[], reason: string) => void;
}

interface Host {
  readonly worker: Worker;
  readonly pending: Map<number, { resolve: (v: WorkerReplyValue) => void; reject: (e: unknown) => void }>;
  readonly sessions: Set<ModelSession>;
  dead: string | undefined;
  /** Called once nothing is pending any more (the pool's close waits for it). */
  onIdle: (() => void) | undefined;
}

/**
 * How long close() lets each worker finish the calls it is in (a run, an open, a release) before
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

export function createSessionPool(options: SessionPoolOptions): SessionPool {
  let size = Math.max(1, options.size ?? 1);
  const hosts: Host[] = [];
  let nextId = 1;
  let closed = false;

  const startHost = (): Host => {
    const host: Host = { worker: spawnWorker(import.meta.url, 'worker'), pending: new Map(), sessions: new Set(), dead: undefined, onIdle: undefined };
    host.worker.on('message', (reply: WorkerReply) => {
      const p = host.pending.get(reply.id);
      if (p === undefined) return;
      host.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.value);
      else p.reject(new EdgeMLError(asCode(reply.error.code), reply.error.message));
      if (host.pending.size === 0) host.onIdle?.();
    });
    const die = (reason: string): void => {
      if (host.dead !== undefined) return;
      host.dead = reason;
      const i = hosts.indexOf(host);
      if (i >= 0) hosts.splice(i, 1);
      for (const p of host.pending.values()) p.reject(workerStopped(reason));
      host.pending.clear();
      host.onIdle?.();
      const lost = [...host.sessions];
      host.sessions.clear();
      if (!closed) {
        options.logger.error({ reason, sessions: lost.length }, 'a session worker stopped; its sessions are reopened');
        if (lost.length > 0) options.onSessionsLost?.(lost, reason);
      }
    };
    host.worker.on('error', (err) => die(err.message));
    host.worker.on('exit', (code) => die(`exited with code ${code}`));
    // A worker with nothing pending must not keep the process alive (tests, a stopping module).
    host.worker.unref();
    hosts.push(host);
    return host;
  };

  const call = (host: Host, req: Request, transfer: ArrayBuffer[] = []): Promise<WorkerReplyValue> => {
    if (host.dead !== undefined) return Promise.reject(workerStopped(host.dead));
    const id = nextId++;
    return new Promise<WorkerReplyValue>((resolve, reject) => {
      host.pending.set(id, { resolve, reject });
      if (host.pending.size === 1) host.worker.ref();
      try {
        host.worker.postMessage({ ...req, id } as WorkerRequest, transfer);
      } catch (err: unknown) {
        host.pending.delete(id);
        reject(new EdgeMLError('INTERNAL', `could not post to the session worker: ${String(err)}`, { cause: err }));
      }
    }).finally(() => {
      if (host.pending.size === 0 && host.dead === undefined) host.worker.unref();
    });
  };

  /** The least busy of the first `limit` workers not in `taken`, or a new one while there are fewer. */
  const pickHost = (taken: ReadonlySet<Host>, limit: number): Host => {
    if (hosts.length < limit) return startHost();
    return hosts
      .slice(0, limit)
      .filter((h) => !taken.has(h))
      .reduce((a, b) => (b.sessions.size < a.sessions.size ? b : a));
  };

  /** Opens one session in `host`; what its CUDA probe learnt is kept for the whole process. */
  const openOn = async (host: Host, modelPath: string, sessionOptions: SessionOptions): Promise<{ replica: Replica; reply: OpenReply }> => {
    const reply = (await call(host, { op: 'open', modelPath, options: sessionOptions, cuda: knownCuda(sessionOptions.cudaDeviceId) })) as OpenReply;
    learnCuda(sessionOptions.cudaDeviceId, reply.cuda);
    return {
      reply,
      replica: {
        call: (req, transfer) => call(host, { ...req, sessionId: reply.sessionId } as Request, transfer),
        release: async () => {
          if (host.dead === undefined) await call(host, { op: 'release', sessionId: reply.sessionId });
        },
        attach: (session) => host.sessions.add(session),
        detach: (session) => {
          host.sessions.delete(session);
          if (host.dead === undefined) trim(host);
        },
      },
    };
  };

  /** Stops a worker once the calls it is in have answered (at most {@link POOL_CLOSE_DRAIN_MS}). */
  const stopWhenIdle = async (host: Host): Promise<void> => {
    if (host.pending.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const idle = await Promise.race([
        new Promise<true>((resolve) => (host.onIdle = () => resolve(true))),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), POOL_CLOSE_DRAIN_MS))),
      ]);
      clearTimeout(timer);
      if (!idle) options.logger.warn({ pending: host.pending.size, waitedMs: POOL_CLOSE_DRAIN_MS }, 'a session worker is stopped with calls still running');
    }
    await host.worker.terminate();
    for (const p of host.pending.values()) p.reject(workerStopped(host.dead ?? 'the session pool is closed'));
    host.pending.clear();
  };

  /** A worker beyond the pool's size with no session left is stopped. */
  const trim = (host: Host): void => {
    if (host.sessions.size > 0 || hosts.indexOf(host) < size) return;
    hosts.splice(hosts.indexOf(host), 1);
    host.dead = 'stopped: the pool was made smaller';
    void stopWhenIdle(host);
  };

  return {
    async open(modelPath, sessionOptions, replicas = { cpu: 1, cuda: 1 }) {
      if (closed) throw new EdgeMLError('ABORTED', 'the session pool is closed');
      const taken = new Set<Host>();
      const firstHost = pickHost(taken, size);
      taken.add(firstHost);
      const first = await openOn(firstHost, modelPath, sessionOptions);
      const opened: Replica[] = [first.replica];
      const wanted = Math.max(1, first.reply.provider === 'cuda' ? replicas.cuda : replicas.cpu);
      try {
        const more: Host[] = [];
        for (let i = 1; i < wanted; i++) {
          const h = pickHost(taken, Math.max(size, wanted));
          taken.add(h);
          more.push(h);
        }
        // Once the first opened, the model is known good: the others open side by side.
        const rest = await Promise.allSettled(more.map((h) => openOn(h, modelPath, sessionOptions)));
        for (const r of rest) if (r.status === 'fulfilled') opened.push(r.value.replica);
        const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed !== undefined) throw failed.reason;
      } catch (err: unknown) {
        await Promise.allSettled(opened.map((r) => r.release()));
        throw err;
      }
      return replicatedSession(first.reply, opened);
    },
    resize(next) {
      size = Math.max(1, next);
      for (const h of [...hosts]) trim(h);
    },
    get workers() {
      return hosts.length;
    },
    get sessions() {
      // A replicated session lives in several workers and counts once.
      return new Set(hosts.flatMap((h) => [...h.sessions])).size;
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(hosts.splice(0).map((h) => stopWhenIdle(h)));
    },
  };
}
