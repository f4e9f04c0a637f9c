import type { ChainResultMessage, HardExampleReason, InferenceResultMessage } from '@edgeml/shared';
import { confidenceOf, predictionOf } from './dataset-lines.js';

const HOUR_MS = 3_600_000;

/**
 * Why a result is a hard example, or none: the live model was unsure (classification top score,
 * detection lowest box score below `minConfidence`), or a candidate model disagreed with it
 * (`comparison.agrees === false`). Pure.
 */
export function hardExampleReasons(result: InferenceResultMessage | ChainResultMessage, minConfidence: number): HardExampleReason[] {
  const reasons: HardExampleReason[] = [];
  const prediction = predictionOf(result);
  const confidence = prediction === undefined ? undefined : confidenceOf(prediction);
  if (confidence !== undefined && confidence < minConfidence) reasons.push('lowConfidence');
  if ('comparison' in result && result.comparison?.agrees === false) reasons.push('disagreement');
  return reasons;
}

/**
 * The per-hour quota on hard examples, over a rolling hour of the injected clock, so a broken
 * camera (every frame unsure) cannot flood the uplink. In memory: a restart starts a fresh hour.
 */
export class HardExampleQuota {
  readonly #now: () => number;
  /** Times (epoch ms) of the examples taken in the last hour, oldest first. */
  readonly #taken: number[] = [];
  #flagged = 0;
  #overQuota = 0;
  #sent = 0;
  #lastOverQuotaAt: string | null = null;

  constructor(now: () => number) {
    this.#now = now;
  }

  #prune(t: number): void {
    while (this.#taken.length > 0 && (this.#taken[0] ?? t) <= t - HOUR_MS) this.#taken.shift();
  }

  /** Whether one more fits the last hour under `maxPerHour`. */
  hasRoom(maxPerHour: number): boolean {
    const t = this.#now();
    this.#prune(t);
    return this.#taken.length < maxPerHour;
  }

  /** A flagged result entered the queue: within the quota (`taken`) or counted over it. */
  record(taken: boolean): void {
    const t = this.#now();
    this.#flagged++;
    if (taken) this.#taken.push(t);
    else {
      this.#overQuota++;
      this.#lastOverQuotaAt = new Date(t).toISOString();
    }
  }

  /** A hard example's message went into the outbox with its committed line. */
  sent(n: number): void {
    this.#sent += n;
  }

  snapshot(maxPerHour: number): Record<string, unknown> {
    this.#prune(this.#now());
    return { maxPerHour, lastHour: this.#taken.length, flagged: this.#flagged, overQuota: this.#overQuota, sent: this.#sent, lastOverQuotaAt: this.#lastOverQuotaAt };
  }
}
