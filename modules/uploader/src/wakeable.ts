import { errorCode, sleep, type Logger } from '@edgeml/shared';

/**
 * The sleep of a loop that others can cut short: `wake()` ends the current nap (or makes the next
 * one return at once when it came while the loop was busy), `close()` ends every nap for good.
 * The loop calls `reset()` at the top of each pass, before it looks at its work.
 */
export class Wakeable {
  #controller = new AbortController();
  #requested = false;
  readonly #closed = new AbortController();

  wake(): void {
    this.#requested = true;
    this.#controller.abort();
  }

  reset(): void {
    this.#requested = false;
  }

  get closed(): boolean {
    return this.#closed.signal.aborted;
  }

  close(): void {
    this.#closed.abort();
    this.wake();
  }

  /** Waits `ms` unless woken (when `wakeable`) or closed. Never throws. */
  async nap(ms: number, logger: Logger, wakeable = true): Promise<void> {
    if (this.closed || (wakeable && this.#requested)) return;
    this.#controller = new AbortController();
    const signal = wakeable ? AbortSignal.any([this.#controller.signal, this.#closed.signal]) : this.#closed.signal;
    try {
      await sleep(ms, signal);
    } catch (err: unknown) {
      if (errorCode(err) !== 'ABORTED') logger.warn({ err }, 'unexpected error while waiting');
    }
  }
}
