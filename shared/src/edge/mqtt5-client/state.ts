/** What the parts of one MQTT 5 edge client share: whether it is open, its lifetime, the shares it took. */
export class EdgeClientState {
  #opened = false;
  readonly #lifetime = new AbortController();
  /** What this replica takes a share of (shared subscriptions); left on a clean stop (see session.ts). */
  readonly shares = new Set<string>();

  /** Between a completed open() and close(). */
  get isOpen(): boolean {
    return this.#opened;
  }

  /** Aborts when the client closes: a connect in progress, messages waiting for their input's handler. */
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
