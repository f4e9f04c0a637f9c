/**
 * The `hashConcurrency` slots shared by the two kinds of read: the read of a stable file (awaited
 * by the tick that found it stable) and the early read of a small file ahead of its last check
 * (in the background, so a tick busy with a large drop does not wait for it and looks at the next
 * events sooner). A stable file's read gets the next free slot before any early read; an early
 * read still queued when its file turns stable is dropped (the stable read takes its place), one
 * under way is waited for (its hash is then used, or the file read again).
 */

export class HashSlots {
  #limit: number;
  #busy = 0;
  /** Stable reads waiting for a slot, first come first served. */
  readonly #waiting: (() => void)[] = [];
  /** Early reads waiting for a slot, by path, in the order they were asked for. */
  readonly #queued = new Map<string, () => Promise<void>>();
  /** Early reads under way, by path. */
  readonly #running = new Map<string, Promise<void>>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** A new `hashConcurrency` applies to the next slot given. */
  setLimit(limit: number): void {
    this.#limit = limit;
    this.#next();
  }

  /** Reads under way (stable and early). */
  get busy(): number {
    return this.#busy;
  }

  /** Runs `read` (a stable file's) in a slot, before any queued early read. */
  async run<T>(read: () => Promise<T>): Promise<T> {
    if (this.#busy < this.#limit && this.#waiting.length === 0) this.#busy++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await read();
    } finally {
      this.#release();
    }
  }

  /** Queues an early read of `rel` (once: asking again while one is queued or under way does nothing). `read` must not reject. */
  early(rel: string, read: () => Promise<void>): void {
    if (this.#queued.has(rel) || this.#running.has(rel)) return;
    this.#queued.set(rel, read);
    this.#next();
  }

  /** Before the read of a stable `rel`: drops its queued early read, or resolves when the one under way ends. */
  settle(rel: string): Promise<void> | undefined {
    this.#queued.delete(rel);
    return this.#running.get(rel);
  }

  #release(): void {
    this.#busy--;
    this.#next();
  }

  #next(): void {
    while (this.#busy < this.#limit) {
      const waiter = this.#waiting.shift();
      if (waiter !== undefined) {
        this.#busy++;
        waiter();
        continue;
      }
      const first = this.#queued.entries().next();
      if (first.done === true) return;
      const [rel, read] = first.value;
      this.#queued.delete(rel);
      this.#busy++;
      const done = read().finally(() => {
        this.#running.delete(rel);
        this.#release();
      });
      this.#running.set(rel, done);
    }
  }
}
