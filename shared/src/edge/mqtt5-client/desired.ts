/**
 * Desired properties: from a mounted configuration file (config-file-source.ts), delivered to the
 * listeners as twin updates so they go through the same binder; without a file, one empty document.
 */
import type { ConfigFileSource } from '../config-file-source.js';
import type { DesiredUpdate } from '../types.js';

export class DesiredFeed {
  readonly #source: ConfigFileSource | undefined;
  readonly #listeners: ((u: DesiredUpdate) => void)[] = [];

  constructor(source: ConfigFileSource | undefined) {
    this.#source = source;
  }

  on(listener: (update: DesiredUpdate) => void): void {
    this.#listeners.push(listener);
  }

  /** On open: the first document now, then (from a file) each change until close(). */
  async start(): Promise<void> {
    if (this.#source === undefined) this.#emit({ kind: 'full', properties: { $version: 1 } });
    else await this.#source.start(this.#emit);
  }

  close(): void {
    this.#source?.close();
  }

  readonly #emit = (u: DesiredUpdate): void => {
    for (const l of this.#listeners) l(u);
  };
}
