/**
 * Removes staging files off the main thread, and the directories they leave empty in sweeps. Each
 * removal is system calls (unlink, and rmdir of the source's directory once empty) that wait on the
 * file system's journal and the staging directory's lock, which the transformer's writes take too.
 * Done with `fs/promises` on the main thread they cost about 0.2 ms of its CPU per tensor (measured
 * on the 2-core development VM, a third of what a classifier run costs there); done synchronously
 * there they held the event loop for 15–60 ms at p99 under load. Here the main thread only queues
 * the path: the removals of one event-loop turn go to a worker thread in one message, which unlinks
 * the files synchronously and answers once; it removes the emptied directories later, together
 * (`DirectorySweepPolicy`).
 */
import type { Worker } from 'node:worker_threads';
import { spawnWorker } from './spawn-worker.js';

/**
 * When the directories left empty are removed (staging-janitor-worker.ts): all pending ones at once,
 * after `idleMs` without a removal, as soon as `maxPending` wait, or on the first removal after the
 * oldest has waited `maxAgeMs`; and at close. An empty directory costs an inode and a few KiB.
 */
export interface DirectorySweepPolicy {
  readonly idleMs: number;
  readonly maxPending: number;
  readonly maxAgeMs: number;
}

export const DEFAULT_SWEEP_POLICY: DirectorySweepPolicy = { idleMs: 250, maxPending: 4096, maxAgeMs: 30_000 };

/** A batch of removals (`[file, its directory to remove once empty, or null]`), or a sweep of the directories now. */
export type JanitorRequest =
  | { readonly kind: 'remove'; readonly batch: number; readonly items: readonly (readonly [string, string | null])[] }
  | { readonly kind: 'sweep'; readonly batch: number };

/** Per file of a removal batch, in order: null when the file is gone, otherwise the error's message; for a sweep, the directories removed. */
export type JanitorReply =
  | { readonly kind: 'removed'; readonly batch: number; readonly errors: readonly (string | null)[] }
  | { readonly kind: 'swept'; readonly batch: number; readonly removedDirs: number };

interface Waiting {
  readonly file: string;
  readonly dir: string | null;
  readonly done: (error: string | null) => void;
}

/** What the main thread waits for: one removal batch's files, or a sweep. */
type Answer = (reply: JanitorReply | { readonly kind: 'failed'; readonly why: string }) => void;

export class StagingJanitor {
  #worker: Worker | undefined;
  #queued: Waiting[] = [];
  readonly #sent = new Map<number, Answer>();
  #nextBatch = 1;
  #scheduled = false;
  #closed = false;

  /** @param policy when the directories left empty are swept (tests shorten it) */
  constructor(readonly policy: DirectorySweepPolicy = DEFAULT_SWEEP_POLICY) {}

  /**
   * Removes `file`, and later `dir` if it is empty by then (the directory sweep). Resolves with null
   * once the file is gone (or was already), otherwise with why it could not be removed. Never rejects.
   */
  remove(file: string, dir: string | undefined): Promise<string | null> {
    if (this.#closed) return Promise.resolve('the staging janitor is closed');
    return new Promise((done) => {
      this.#queued.push({ file, dir: dir ?? null, done });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Removes the directories left empty so far, now; resolves with how many went (0 when the thread never started). */
  sweepDirectories(): Promise<number> {
    this.#flush();
    if (this.#worker === undefined) return Promise.resolve(0);
    return new Promise((resolve) => this.#send({ kind: 'sweep', batch: this.#nextBatch++ }, (reply) => resolve(reply.kind === 'swept' ? reply.removedDirs : 0)));
  }

  /** Stops the thread once the removals already sent are answered and the empty directories swept; later calls answer at once. */
  async close(): Promise<void> {
    if (this.#closed && this.#worker === undefined) return;
    this.#closed = true;
    await this.sweepDirectories();
    const w = this.#worker;
    this.#worker = undefined;
    await w?.terminate();
  }

  #flush(): void {
    this.#scheduled = false;
    const items = this.#queued;
    if (items.length === 0) return;
    this.#queued = [];
    this.#send({ kind: 'remove', batch: this.#nextBatch++, items: items.map((i) => [i.file, i.dir] as const) }, (reply) => {
      if (reply.kind === 'failed') for (const item of items) item.done(reply.why);
      else if (reply.kind === 'removed') items.forEach((item, i) => item.done(reply.errors[i] ?? null));
    });
  }

  #send(request: JanitorRequest, answer: Answer): void {
    const w = this.#thread();
    this.#sent.set(request.batch, answer);
    if (this.#sent.size === 1) w.ref();
    w.postMessage(request);
  }

  #thread(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const w = spawnWorker(import.meta.url, 'staging-janitor-worker', { policy: this.policy });
    w.on('message', (reply: JanitorReply) => {
      const answer = this.#sent.get(reply.batch);
      this.#sent.delete(reply.batch);
      answer?.(reply);
      // With nothing pending the thread must not keep the process alive.
      if (this.#sent.size === 0) w.unref();
    });
    const fail = (why: string): void => {
      if (this.#worker === w) this.#worker = undefined;
      for (const answer of this.#sent.values()) answer({ kind: 'failed', why });
      this.#sent.clear();
    };
    w.on('error', (err) => fail(`the staging janitor failed: ${err.message}`));
    w.on('exit', (code) => fail(`the staging janitor stopped (exit code ${code})`));
    w.unref();
    this.#worker = w;
    return w;
  }
}
