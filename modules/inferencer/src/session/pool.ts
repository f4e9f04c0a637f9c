/**
 * The session workers, seen from the main thread: a small pool of worker threads (1 by default)
 * hosting every model session, and {@link ModelSession} proxies that forward to them.
 *
 * Why a pool and not one worker per session: a hot swap then costs a session, not a thread (and
 * no V8 heap per swap), and on a CPU one worker serialises the runs of all models, which is what
 * ONNX Runtime wants there (every run already uses every core; concurrent runs only contend).
 * On a GPU, more workers let the runs of different models overlap.
 *
 * What the CUDA probe learns in a worker is kept in this process (open.ts), per device. One worker
 * thread and its calls: worker-host.ts.
 */
import type { Logger } from '@edgeml/shared';
import { EdgeMLError } from '@edgeml/shared';
import { knownCuda, learnCuda } from './open.js';
import type { OpenReply } from './protocol.js';
import { replicatedSession, type Replica } from './replicated.js';
import type { ModelSession, SessionOptions } from './types.js';
import { WorkerHost, type HostRequest } from './worker-host.js';

export { POOL_CLOSE_DRAIN_MS, isWorkerStopped, workerStopped } from './worker-host.js';

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
  /** Stops every worker once the calls it is in have answered (worker-host.ts); sessions still open fail from then on. Idempotent. */
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

export function createSessionPool(options: SessionPoolOptions): SessionPool {
  let size = Math.max(1, options.size ?? 1);
  const hosts: WorkerHost[] = [];
  let closed = false;

  const startHost = (): WorkerHost => {
    const host = new WorkerHost((dead, reason, lost) => {
      const i = hosts.indexOf(dead);
      if (i >= 0) hosts.splice(i, 1);
      if (closed) return;
      options.logger.error({ reason, sessions: lost.length }, 'a session worker stopped; its sessions are reopened');
      if (lost.length > 0) options.onSessionsLost?.(lost, reason);
    });
    hosts.push(host);
    return host;
  };

  /** The least busy of the first `limit` workers not in `taken`, or a new one while there are fewer. */
  const pickHost = (taken: ReadonlySet<WorkerHost>, limit: number): WorkerHost => {
    if (hosts.length < limit) return startHost();
    return hosts
      .slice(0, limit)
      .filter((h) => !taken.has(h))
      .reduce((a, b) => (b.sessions.size < a.sessions.size ? b : a));
  };

  /** Opens one session in `host`; what its CUDA probe learnt is kept for the whole process. */
  const openOn = async (host: WorkerHost, modelPath: string, sessionOptions: SessionOptions): Promise<{ replica: Replica; reply: OpenReply }> => {
    const reply = (await host.call({ op: 'open', modelPath, options: sessionOptions, cuda: knownCuda(sessionOptions.cudaDeviceId) })) as OpenReply;
    learnCuda(sessionOptions.cudaDeviceId, reply.cuda);
    return {
      reply,
      replica: {
        call: (req, transfer) => host.call({ ...req, sessionId: reply.sessionId } as HostRequest, transfer),
        release: async () => {
          if (host.dead === undefined) await host.call({ op: 'release', sessionId: reply.sessionId });
        },
        attach: (session) => host.sessions.add(session),
        detach: (session) => {
          host.sessions.delete(session);
          if (host.dead === undefined) trim(host);
        },
      },
    };
  };

  /** A worker beyond the pool's size with no session left is stopped. */
  const trim = (host: WorkerHost): void => {
    if (host.sessions.size > 0 || hosts.indexOf(host) < size) return;
    hosts.splice(hosts.indexOf(host), 1);
    host.dead = 'stopped: the pool was made smaller';
    void host.stopWhenIdle(options.logger);
  };

  return {
    async open(modelPath, sessionOptions, replicas = { cpu: 1, cuda: 1 }) {
      if (closed) throw new EdgeMLError('ABORTED', 'the session pool is closed');
      const taken = new Set<WorkerHost>();
      const firstHost = pickHost(taken, size);
      taken.add(firstHost);
      const first = await openOn(firstHost, modelPath, sessionOptions);
      const opened: Replica[] = [first.replica];
      const wanted = Math.max(1, first.reply.provider === 'cuda' ? replicas.cuda : replicas.cpu);
      try {
        const more: WorkerHost[] = [];
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
      await Promise.all(hosts.splice(0).map((h) => h.stopWhenIdle(options.logger)));
    },
  };
}
