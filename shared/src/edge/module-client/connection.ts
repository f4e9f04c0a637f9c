/** The connection state the module's listeners see: told once per change, a throwing listener logged. */
import type { Logger } from '../../logging.js';
import type { ConnectionListener } from '../types.js';

export class ConnectionStatus {
  readonly #logger: Logger;
  readonly #listeners: ConnectionListener[] = [];
  #connected = false;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  on(listener: ConnectionListener): void {
    this.#listeners.push(listener);
  }

  /** Tells the listeners when the state changes; a repeat of the current state is not passed on. */
  set(value: boolean, reason?: string): void {
    if (this.#connected === value) return;
    this.#connected = value;
    const state = reason === undefined ? { connected: value } : { connected: value, reason };
    for (const l of this.#listeners) {
      try {
        l(state);
      } catch (err: unknown) {
        this.#logger.error({ err }, 'connection listener threw');
      }
    }
  }

  /** On close of an open client: the listeners hear `closed`, even after a disconnect they were already told. */
  closed(): void {
    this.#connected = true;
    this.set(false, 'closed');
  }
}
