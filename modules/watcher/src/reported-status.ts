/**
 * The `status` reported property: a small summary sent every `statusReportIntervalMs` and at once
 * when something an operator watches flips (backpressure, the disk watermark).
 */
import { createRepeatLimiter, type EdgeClient, type Logger } from '@edgeml/shared';

export interface ReportedStatusOptions {
  readonly edge: EdgeClient;
  readonly log: Logger;
  readonly now: () => Date;
  /** The full status (getStatus), or undefined while there is nothing to report. */
  readonly read: () => Record<string, unknown> | undefined;
}

export class ReportedStatus {
  readonly #o: ReportedStatusOptions;
  readonly #limiter = createRepeatLimiter(60_000);
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ReportedStatusOptions) {
    this.#o = options;
  }

  /** (Re)starts the periodic report. */
  every(intervalMs: number): void {
    this.stop();
    this.#timer = setInterval(() => this.report(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Sends the summary now (fire and forget; a failure is logged once a minute). */
  report(): void {
    const s = this.#o.read();
    if (s === undefined) return;
    const disk = s['disk'] as { belowWatermark: boolean; freeBytes: number | null; freePercent: number | null } | undefined;
    const staging = s['staging'] as { files: number; bytes: number } | null | undefined;
    const patch = {
      status: {
        items: s['items'],
        inFlight: s['inFlight'],
        backpressure: s['backpressure'],
        unstable: s['unstable'],
        lastInventoryAt: (s['lastInventory'] as { at?: string } | null)?.at ?? null,
        disk: disk === undefined ? null : { belowWatermark: disk.belowWatermark, freeBytes: disk.freeBytes, freePercent: disk.freePercent },
        staging: staging === undefined || staging === null ? null : { files: staging.files, bytes: staging.bytes },
        at: this.#o.now().toISOString(),
      },
    };
    this.#o.edge.updateReported(patch).catch((err: unknown) => {
      if (this.#limiter('report').log) this.#o.log.warn({ err }, 'could not report status');
    });
  }
}
