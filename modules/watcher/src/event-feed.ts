/**
 * The filesystem events feeding the reconciler as hints: (re)started when the event settings
 * change, closed on stop, and whether they are on and ready (for `status`).
 */
import type { Logger } from '@edgeml/shared';
import { createChokidarSource, type EventSource } from './chokidar-source.js';
import type { WatcherConfig } from './config.js';
import type { LimitedLog } from './limited-log.js';
import type { Reconciler } from './reconciler.js';

export interface EventFeedOptions {
  readonly log: Logger;
  readonly limited: LimitedLog;
  readonly now: () => number;
  /** False: inventory only (what a share that loses events looks like). */
  readonly enabled: boolean;
}

export class EventFeed {
  readonly #o: EventFeedOptions;
  #source: EventSource | undefined;
  #ready = false;

  constructor(options: EventFeedOptions) {
    this.#o = options;
  }

  /** Whether events are on, and chokidar's first walk is done. */
  get state(): { enabled: boolean; ready: boolean } {
    return { enabled: this.#source !== undefined, ready: this.#ready };
  }

  /** True when these settings differ from the previous ones in what the event source uses. */
  static changed(previous: WatcherConfig | undefined, next: WatcherConfig): boolean {
    return previous === undefined || previous.useEvents !== next.useEvents || previous.usePolling !== next.usePolling || previous.pollingIntervalMs !== next.pollingIntervalMs;
  }

  /**
   * (Re)starts the event source for the running reconciler (none while it is not running: asked after
   * the previous source has closed, so a stop that began meanwhile starts none). Not awaited to
   * `ready`: chokidar walks the whole tree first (about 2 minutes for 100,000 files on the dev VM),
   * and the inventory already covers that time.
   */
  async restart(cfg: WatcherConfig, running: () => Reconciler | undefined): Promise<void> {
    await this.close();
    const reconciler = running();
    if (!this.#o.enabled || !cfg.useEvents || reconciler === undefined) return;
    const { log, limited, now } = this.#o;
    const startedAt = now();
    const next = createChokidarSource({
      root: reconciler.inboxReal,
      usePolling: cfg.usePolling,
      pollingIntervalMs: cfg.pollingIntervalMs,
      onPath: (p, observed) => reconciler.hint(p, observed),
      onRemoved: (p) => reconciler.hint(p),
      onError: (err) => limited('chokidar', 'warn', { err }, 'filesystem events error; the inventory still finds every file'),
    });
    this.#source = next;
    void next.ready.then(() => {
      if (this.#source === next) this.#ready = true;
      log.info({ usePolling: cfg.usePolling, readyMs: now() - startedAt }, 'filesystem events ready');
    });
  }

  async close(): Promise<void> {
    const previous = this.#source;
    this.#source = undefined;
    this.#ready = false;
    await previous?.close();
  }
}
