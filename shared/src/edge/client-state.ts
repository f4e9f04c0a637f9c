/**
 * What the parts of one edge client share, whichever transport it uses (azure-iot-device in
 * module-client/, MQTT 5 in mqtt5-client/): whether it is open, and its lifetime.
 */
export class ClientLifecycle {
  #opened = false;
  readonly #lifetime = new AbortController();

  /** Between a completed open() and close(): transport events are ignored outside it. */
  get isOpen(): boolean {
    return this.#opened;
  }

  /** Aborts when the client closes: an open or reopen in progress, a twin re-read, messages waiting for their input's handler. */
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
