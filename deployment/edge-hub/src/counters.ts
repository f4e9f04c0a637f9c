/** The hub's own totals for `stats()`, kept beside the Prometheus series they mirror. */
import type { HubMetrics } from './metrics.js';

export class HubCounters {
  received = 0;
  sent = 0;
  readonly #dropped: Record<string, number> = {};
  readonly #metrics: HubMetrics;

  constructor(metrics: HubMetrics) {
    this.#metrics = metrics;
  }

  /** A message dropped for `reason` (`no_route`, `ttl_expiry`, `invalid`, `too_large`); `from` is `<device>/<module>`. */
  drop(reason: string, from: string, output: string, n = 1): void {
    this.#dropped[reason] = (this.#dropped[reason] ?? 0) + n;
    this.#metrics.messagesDropped.inc({ reason, from, from_route_output: output }, n);
  }

  dropped(): Record<string, number> {
    return { ...this.#dropped };
  }
}
