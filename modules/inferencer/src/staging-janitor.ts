/**
 * Removes staging files off the main thread. Each removal is two system calls (unlink, then rmdir
 * of the source's directory) that wait on the file system's journal and the staging directory's
 * lock, which the transformer's writes take too. Done with `fs/promises` on the main thread they
 * cost about 0.2 ms of its CPU per tensor (measured on the 2-core development VM, a third of what a
 * classifier run costs there); done synchronously there they held the event loop for 15–60 ms at
 * p99 under load. Here the main thread only queues the path: the removals of one event-loop turn go
 * to a worker thread in one message, which does them synchronously and answers once.
 */
import type { Worker } from 'node:worker_threads';
import { spawnWorker } from './spawn-worker.js';

/** A batch of removals: `[file, directory to remove once empty (or null)]`. */
export interface JanitorRequest {
  readonly batch: number;
  readonly items: readonly (readonly [string, string | null])[];
}

/** Per item of the batch, in order: null when the file is gone, otherwise the error's message. */
export interface JanitorReply {
  readonly batch: number;
  readonly errors: readonly (string | null)[];
}

interface Waiting {
  readonly file: string;
  readonly dir: string | null;
  readonly done: (error: string | null) => void;
}

export class StagingJanitor {
  #worker: Worker | undefined;
  #queued: Waiting[] = [];
  readonly #sent = new Map<number, Waiting[]>();
  #nextBatch = 1;
  #scheduled = false;
  #closed = false;

  /**
   * Removes `file`, then `dir` if it is empty by then. Resolves with null once the file is gone (or
   * was already), otherwise with why it could not be removed. Never rejects.
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

  /** Stops the thread once the removals already sent are answered; later calls answer at once. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#flush();
    while (this.#sent.size > 0) await new Promise((r) => setTimeout(r, 5));
    const w = this.#worker;
    this.#worker = undefined;
    await w?.terminate();
  }

  #flush(): void {
    this.#scheduled = false;
    const items = this.#queued;
    if (items.length === 0) return;
    this.#queued = [];
    const batch = this.#nextBatch++;
    this.#sent.set(batch, items);
    const w = this.#thread();
    if (this.#sent.size === 1) w.ref();
    w.postMessage({ batch, items: items.map((i) => [i.file, i.dir] as const) } satisfies JanitorRequest);
  }

  #thread(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const w = spawnWorker(import.meta.url, 'staging-janitor-worker');
    w.on('message', (reply: JanitorReply) => {
      const items = this.#sent.get(reply.batch) ?? [];
      this.#sent.delete(reply.batch);
      items.forEach((item, i) => item.done(reply.errors[i] ?? null));
      // With nothing pending the thread must not keep the process alive.
      if (this.#sent.size === 0) w.unref();
    });
    const fail = (why: string): void => {
      if (this.#worker === w) this.#worker = undefined;
      for (const items of this.#sent.values()) for (const item of items) item.done(why);
      this.#sent.clear();
    };
    w.on('error', (err) => fail(`the staging janitor failed: ${err.message}`));
    w.on('exit', (code) => fail(`the staging janitor stopped (exit code ${code})`));
    w.unref();
    this.#worker = w;
    return w;
  }
}
