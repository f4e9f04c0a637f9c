import { Counter, Gauge, Histogram, type EdgeClient, type Logger, type Registry } from '@edgeml/shared';

/** The counts `getStatus` and the `status` reported property show (the local runtime's live view reads `counts`). */
export interface AggregatorCounts {
  /** Plans received (one per chain run). */
  plans: number;
  /** Readings received (one per crop). */
  readings: number;
  /** Per-file results sent. */
  results: number;
  /** Plans or readings already had. */
  duplicates: number;
  /** Runs handed back to the watcher: quiet for gatherTimeoutMs, or given up to stay within maxRuns. */
  handedBack: number;
  /** Messages that could not be used (malformed, or not fitting their run). */
  deadLettered: number;
  /** Results that could not be sent after retries (the watcher re-emits). */
  sendFailed: number;
}

export interface AggregatorMetrics {
  readonly messages: Counter<'input' | 'outcome'>;
  readonly results: Counter<'chain'>;
  readonly handedBack: Counter<'reason'>;
  readonly runs: Gauge;
  readonly gatherSeconds: Histogram<'chain'>;
}

export function createAggregatorMetrics(registry: Registry): AggregatorMetrics {
  const registers = [registry];
  return {
    messages: new Counter({ name: 'edgeml_aggregator_messages_total', help: 'Input messages by input (crops, readings) and outcome (recorded, duplicate, invalid, mismatch).', labelNames: ['input', 'outcome'], registers }),
    results: new Counter({ name: 'edgeml_aggregator_results_total', help: 'Per-file chain results sent, by chain.', labelNames: ['chain'], registers }),
    handedBack: new Counter({ name: 'edgeml_aggregator_handed_back_total', help: 'Runs handed back to the watcher (deferred), by reason (timeout, full, stopping).', labelNames: ['reason'], registers }),
    runs: new Gauge({ name: 'edgeml_aggregator_runs_gathering', help: 'Chain runs waiting for their plan or readings.', registers }),
    gatherSeconds: new Histogram({
      name: 'edgeml_aggregator_gather_duration_seconds',
      help: 'From the first message of a run to its result.',
      labelNames: ['chain'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 600],
      registers,
    }),
  };
}

/** Sends `{ status }` to reported properties every interval; a failure is logged, the next period tries again. */
export class StatusReporter {
  readonly #edge: EdgeClient;
  readonly #logger: Logger;
  readonly #snapshot: () => Record<string, unknown>;
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: { edge: EdgeClient; logger: Logger; snapshot: () => Record<string, unknown> }) {
    this.#edge = deps.edge;
    this.#logger = deps.logger;
    this.#snapshot = deps.snapshot;
  }

  schedule(intervalMs: number): void {
    this.cancel();
    this.#timer = setInterval(() => this.report(), intervalMs);
    this.#timer.unref();
  }

  cancel(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  report(): void {
    this.#edge.updateReported({ status: this.#snapshot() }).catch((err: unknown) => this.#logger.warn({ err }, 'could not report status'));
  }
}
