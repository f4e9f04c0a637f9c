/**
 * The runs being gathered, pure (clock injected, no I/O): a run's plan (`edgeml.crops/v1`: how many
 * crops, their boxes) and one reading per crop (the chain's last step), in whatever order they
 * arrive. A run is complete when the plan and a reading for every crop are in. Bounded: at most
 * `maxRuns` runs at once (beyond, the one quiet the longest is given up), and a run that has heard
 * nothing for `gatherTimeoutMs` is given up too; the caller hands a given-up run back to the watcher
 * (a `deferred` completion), which offers the source again, and the chain runs again.
 */
import type { ChainLink, CropsMessage, InferenceResultMessage, ModelRef, OrientationDecision, SourceRef } from '@edgeml/shared';

/** One crop's reading: what the chain's last step said about it. */
export interface Reading {
  readonly outputs: Readonly<Record<string, unknown>>;
  readonly model: ModelRef;
  readonly orientation: OrientationDecision | undefined;
}

export interface Run {
  /** `<id>|<chain>|<run>`. */
  readonly key: string;
  readonly id: string;
  readonly chain: string;
  readonly run: string;
  readonly part: string;
  readonly expectedParts: readonly string[];
  readonly source: SourceRef;
  plan: CropsMessage | undefined;
  /** Crop count the readings state (their link's `count`), until the plan says. */
  count: number | undefined;
  readonly readings: Map<number, Reading>;
  readonly startedAtMs: number;
  lastAtMs: number;
  /** This run's result was already sent: later readings are duplicates (kept quiet, never handed back). */
  readonly afterDone: boolean;
  /** Its result is being sent: it does not expire meanwhile. */
  sending: boolean;
}

export type AddOutcome =
  /** Recorded; the run still waits. */
  | { readonly kind: 'waiting'; readonly run: Run }
  /** The plan and every reading are in: build and send the result, then call `finish`. */
  | { readonly kind: 'complete'; readonly run: Run }
  /** Already had this (a duplicate message). */
  | { readonly kind: 'duplicate' }
  /** Does not fit the run (a crop index beyond the plan, another count): dropped with the reason. */
  | { readonly kind: 'mismatch'; readonly reason: string };

export interface GatherOptions {
  readonly maxRuns: () => number;
  readonly gatherTimeoutMs: () => number;
  readonly nowMs: () => number;
  /** Runs whose result was sent, remembered so late duplicates are recognised. Default 4096. */
  readonly rememberDone?: number;
}

const keyOf = (id: string, chain: string, run: string): string => `${id}|${chain}|${run}`;

export class Gatherings {
  readonly #o: GatherOptions;
  readonly #runs = new Map<string, Run>();
  /** Keys of finished runs, oldest first (a Set keeps insertion order). */
  readonly #done = new Set<string>();
  readonly #rememberDone: number;

  constructor(options: GatherOptions) {
    this.#o = options;
    this.#rememberDone = options.rememberDone ?? 4096;
  }

  get size(): number {
    return this.#runs.size;
  }

  #open(id: string, chain: string, run: string, part: string, expectedParts: readonly string[], source: SourceRef, evicted: Run[]): Run {
    const key = keyOf(id, chain, run);
    const existing = this.#runs.get(key);
    if (existing !== undefined) return existing;
    while (this.#runs.size >= Math.max(1, this.#o.maxRuns())) {
      const idle = [...this.#runs.values()].filter((r) => !r.sending);
      if (idle.length === 0) break;
      const quietest = idle.reduce((a, b) => (b.lastAtMs < a.lastAtMs ? b : a));
      this.#runs.delete(quietest.key);
      evicted.push(quietest);
    }
    const t = this.#o.nowMs();
    const r: Run = { key, id, chain, run, part, expectedParts, source, plan: undefined, count: undefined, readings: new Map(), startedAtMs: t, lastAtMs: t, afterDone: this.#done.has(key), sending: false };
    this.#runs.set(key, r);
    return r;
  }

  #outcome(r: Run): AddOutcome {
    if (r.plan !== undefined && r.readings.size >= r.plan.crops.length) return { kind: 'complete', run: r };
    return { kind: 'waiting', run: r };
  }

  /**
   * Records a plan. A plan for a run already finished starts it afresh (the source was offered again:
   * its result must be sent again). `evicted` receives the runs given up to make room.
   */
  addPlan(plan: CropsMessage, evicted: Run[] = []): AddOutcome {
    const key = keyOf(plan.id, plan.chain.name, plan.chain.run);
    if (this.#done.has(key) && !this.#runs.has(key)) this.#done.delete(key);
    const r = this.#open(plan.id, plan.chain.name, plan.chain.run, plan.part, plan.expectedParts, plan.source, evicted);
    if (r.plan !== undefined) return { kind: 'duplicate' };
    if (r.count !== undefined && r.count !== plan.crops.length) {
      // Readings of another cut under the same run name: a bug upstream; the plan is the truth.
      r.readings.clear();
    }
    r.plan = plan;
    r.count = plan.crops.length;
    r.lastAtMs = this.#o.nowMs();
    for (const index of r.readings.keys()) if (index >= plan.crops.length) r.readings.delete(index);
    return this.#outcome(r);
  }

  /** Records one crop's reading (a result with a `read` chain link). `evicted` as for {@link addPlan}. */
  addReading(result: InferenceResultMessage & { readonly chain: ChainLink }, evicted: Run[] = []): AddOutcome {
    const link = result.chain;
    const r = this.#open(result.id, link.name, link.run, result.part, result.expectedParts, result.source, evicted);
    const count = r.plan?.crops.length ?? r.count;
    if (count !== undefined && count !== link.count) return { kind: 'mismatch', reason: `reading ${link.index} says the run has ${link.count} crops, the ${r.plan === undefined ? 'other readings say' : 'plan says'} ${count}` };
    if (link.index >= link.count) return { kind: 'mismatch', reason: `reading for crop ${link.index} of a run of ${link.count}` };
    if (r.readings.has(link.index)) return { kind: 'duplicate' };
    r.count = link.count;
    r.readings.set(link.index, { outputs: result.outputs, model: result.model, orientation: link.orientation });
    r.lastAtMs = this.#o.nowMs();
    return this.#outcome(r);
  }

  /** The run's result was sent: it leaves, and is remembered as done. */
  finish(r: Run): void {
    this.#runs.delete(r.key);
    this.#done.delete(r.key);
    this.#done.add(r.key);
    while (this.#done.size > this.#rememberDone) this.#done.delete(this.#done.values().next().value as string);
  }

  /** Runs that heard nothing for `gatherTimeoutMs`: removed and returned (the caller hands them back). */
  expire(): Run[] {
    const limit = this.#o.nowMs() - this.#o.gatherTimeoutMs();
    const out: Run[] = [];
    for (const r of this.#runs.values()) if (r.lastAtMs <= limit && !r.sending) out.push(r);
    for (const r of out) this.#runs.delete(r.key);
    return out;
  }

  /** Every run still gathering (stopping: handed back so the sources come again at once). */
  drain(): Run[] {
    const out = [...this.#runs.values()];
    this.#runs.clear();
    return out;
  }

  /** Crop indexes still missing a reading, or undefined while the plan is missing. */
  static missing(r: Run): number[] | undefined {
    if (r.plan === undefined) return undefined;
    const out: number[] = [];
    for (let i = 0; i < r.plan.crops.length; i++) if (!r.readings.has(i)) out.push(i);
    return out;
  }
}
