/** The module's desired-properties listeners: full documents (twin reads) and patches; a throwing listener is logged. */
import type { Logger } from '../../logging.js';
import type { DesiredUpdate } from '../types.js';

export class DesiredListeners {
  readonly #logger: Logger;
  readonly #listeners: ((u: DesiredUpdate) => void)[] = [];

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  on(listener: (update: DesiredUpdate) => void): void {
    this.#listeners.push(listener);
  }

  emit(update: DesiredUpdate): void {
    for (const l of this.#listeners) {
      try {
        l(update);
      } catch (err: unknown) {
        this.#logger.error({ err }, 'desired listener threw');
      }
    }
  }
}
