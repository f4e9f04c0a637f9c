/** What the parts of one edge client share: whether it is open, and its lifetime. */
export class ModuleClientState {
  #opened = false;
  readonly #lifetime = new AbortController();

  /** Between a completed open() and close(): SDK events are ignored outside it. */
  get isOpen(): boolean {
    return this.#opened;
  }

  /** Aborts when the client closes: an open or reopen in progress, a twin re-read. */
  get signal(): AbortSignal {
    return this.#lifetime.signal;
  }

  markOpen(): void {
    this.#opened = true;
  }

  /** Marks the client closed; returns whether it was open. */
  markClosed(): boolean {
    const wasOpen = this.#opened;
    this.#opened = false;
    return wasOpen;
  }

  endLifetime(): void {
    this.#lifetime.abort();
  }
}
