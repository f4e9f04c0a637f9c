/**
 * The figures of one rollout and its verdict. Pure: observations in, figures and a decision out.
 *
 * Rules, in order: `maxConsecutiveErrors` candidate failures in a row roll it back at once (an
 * error spike, whatever the count); after `minItems` compared items it is rolled back when its
 * agreement is under `minAgreement`, its error rate over `maxErrorRate` or its time per item over
 * `maxLatencyRatio` × the live model's; otherwise it is promoted.
 */
import type { RolloutSpec } from './config.js';

/** What one batch taught: per sampled item, agreement or a candidate failure; and both models' times. */
export interface RolloutObservation {
  /** Per sampled item: true (agreed), false (disagreed), or 'failed' (the candidate failed on it). */
  readonly outcomes: readonly (boolean | 'failed')[];
  /** Live model: run time and items of the batch. */
  readonly liveMs: number;
  readonly liveItems: number;
  /** Candidate: run time and items of its run (0 items when it failed as a whole). */
  readonly candidateMs: number;
  readonly candidateItems: number;
}

export interface RolloutFigures {
  /** Sampled items seen (agreed + disagreed + failed). */
  readonly items: number;
  readonly agreed: number;
  readonly disagreed: number;
  readonly candidateErrors: number;
  /** agreed / (agreed + disagreed); null before any comparison. */
  readonly agreement: number | null;
  /** candidateErrors / items; null before any item. */
  readonly errorRate: number | null;
  readonly liveMsPerItem: number | null;
  readonly candidateMsPerItem: number | null;
  /** candidateMsPerItem / liveMsPerItem. */
  readonly latencyRatio: number | null;
  readonly consecutiveErrors: number;
}

export type RolloutDecision = { readonly decision: 'continue' } | { readonly decision: 'promote' | 'rollback'; readonly reason: string };

const round = (v: number, digits = 4): number => Math.round(v * 10 ** digits) / 10 ** digits;

export class RolloutEvaluator {
  readonly #spec: Pick<RolloutSpec, 'minItems' | 'minAgreement' | 'maxErrorRate' | 'maxLatencyRatio' | 'maxConsecutiveErrors'>;
  #agreed = 0;
  #disagreed = 0;
  #errors = 0;
  #consecutive = 0;
  #liveMs = 0;
  #liveItems = 0;
  #candidateMs = 0;
  #candidateItems = 0;

  constructor(spec: RolloutEvaluator['spec']) {
    this.#spec = spec;
  }

  get spec(): Pick<RolloutSpec, 'minItems' | 'minAgreement' | 'maxErrorRate' | 'maxLatencyRatio' | 'maxConsecutiveErrors'> {
    return this.#spec;
  }

  record(o: RolloutObservation): void {
    for (const outcome of o.outcomes) {
      if (outcome === 'failed') {
        this.#errors++;
        this.#consecutive++;
      } else {
        this.#consecutive = 0;
        if (outcome) this.#agreed++;
        else this.#disagreed++;
      }
    }
    this.#liveMs += o.liveMs;
    this.#liveItems += o.liveItems;
    this.#candidateMs += o.candidateMs;
    this.#candidateItems += o.candidateItems;
  }

  figures(): RolloutFigures {
    const items = this.#agreed + this.#disagreed + this.#errors;
    const compared = this.#agreed + this.#disagreed;
    const live = this.#liveItems === 0 ? null : this.#liveMs / this.#liveItems;
    const cand = this.#candidateItems === 0 ? null : this.#candidateMs / this.#candidateItems;
    return {
      items,
      agreed: this.#agreed,
      disagreed: this.#disagreed,
      candidateErrors: this.#errors,
      agreement: compared === 0 ? null : round(this.#agreed / compared),
      errorRate: items === 0 ? null : round(this.#errors / items),
      liveMsPerItem: live === null ? null : round(live, 3),
      candidateMsPerItem: cand === null ? null : round(cand, 3),
      latencyRatio: live === null || cand === null || live === 0 ? null : round(cand / live, 3),
      consecutiveErrors: this.#consecutive,
    };
  }

  verdict(): RolloutDecision {
    const s = this.#spec;
    const f = this.figures();
    if (f.consecutiveErrors >= s.maxConsecutiveErrors) return { decision: 'rollback', reason: `error spike: the candidate failed ${f.consecutiveErrors} items in a row (maxConsecutiveErrors ${s.maxConsecutiveErrors})` };
    if (f.items < s.minItems) return { decision: 'continue' };
    if (f.errorRate !== null && f.errorRate > s.maxErrorRate) return { decision: 'rollback', reason: `error rate ${f.errorRate} over maxErrorRate ${s.maxErrorRate} after ${f.items} items` };
    if (f.agreement === null || f.agreement < s.minAgreement) return { decision: 'rollback', reason: `agreement ${f.agreement ?? 'n/a'} under minAgreement ${s.minAgreement} after ${f.items} items` };
    if (f.latencyRatio !== null && f.latencyRatio > s.maxLatencyRatio) return { decision: 'rollback', reason: `time per item ${f.latencyRatio}× the live model's, over maxLatencyRatio ${s.maxLatencyRatio}` };
    return { decision: 'promote', reason: `agreement ${f.agreement}, error rate ${f.errorRate ?? 0}, latency ratio ${f.latencyRatio ?? 'n/a'} within thresholds after ${f.items} items` };
  }
}
