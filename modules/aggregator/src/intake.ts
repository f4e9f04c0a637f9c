/**
 * The aggregator's inputs: `crops` (a run's plan, from the transformer) and `readings` (one crop's
 * result from the chain's last step, from the inferencer). Each message ends in one outcome:
 * recorded (and, when it completes its run, the per-file result is sent), a duplicate, or
 * dead-lettered (malformed: completion + alert + log). Runs that stop hearing are handed back.
 */
import {
  EdgeMLError,
  SCHEMAS,
  chainOfPart,
  errorCode,
  errorMessage,
  parseMessage,
  type ActivityWindow,
  type ChainLink,
  type IncomingMessage,
  type InferenceResultMessage,
  type Logger,
  type PartRef,
} from '@edgeml/shared';
import type { AggregatorConfig } from './config.js';
import { Gatherings, type AddOutcome, type Run } from './gather.js';
import type { Outputs } from './outputs.js';
import { buildChainResult } from './result.js';
import type { AggregatorCounts, AggregatorMetrics } from './status.js';

/** How soon the watcher offers a source again once its run was handed back. */
export const HAND_BACK_RETRY_MS = 1_000;

export interface IntakeOptions {
  readonly gatherings: Gatherings;
  readonly outputs: Outputs;
  readonly counts: AggregatorCounts;
  /** Files whose chain result was sent in the last minute, with the time from the plan to the result (getStatus `activity`). */
  readonly activity: ActivityWindow;
  readonly metrics: AggregatorMetrics;
  readonly logger: Logger;
  readonly config: () => AggregatorConfig;
  readonly now: () => Date;
  readonly isStopping: () => boolean;
  /** Aborted when the module stops. */
  readonly signal: AbortSignal;
}

const refOf = (run: Run): PartRef => ({ id: run.id, part: run.part, expectedParts: run.expectedParts });

/** What a message that failed its schema still names: its source and chain part, to acknowledge it. */
function partOf(body: Buffer): PartRef | undefined {
  try {
    const v = JSON.parse(body.toString('utf8')) as { id?: unknown; part?: unknown; expectedParts?: unknown } | null;
    if (typeof v?.id !== 'string' || !/^[0-9a-f]{64}$/.test(v.id) || typeof v.part !== 'string' || chainOfPart(v.part) === undefined) return undefined;
    if (!Array.isArray(v.expectedParts) || !v.expectedParts.every((p) => typeof p === 'string')) return undefined;
    return { id: v.id, part: v.part, expectedParts: v.expectedParts as string[] };
  } catch {
    return undefined; // not JSON: nothing to acknowledge; the alert and the log say why
  }
}

export class Intake {
  readonly #o: IntakeOptions;

  constructor(options: IntakeOptions) {
    this.#o = options;
  }

  readonly onCrops = async (message: IncomingMessage): Promise<void> => {
    if (this.#o.isStopping()) return; // not taken: the watcher re-emits
    let plan;
    try {
      plan = parseMessage(message.body, SCHEMAS.crops);
    } catch (err: unknown) {
      await this.#invalid('crops', message.body, err);
      return;
    }
    this.#o.counts.plans++;
    const evicted: Run[] = [];
    const outcome = this.#o.gatherings.addPlan(plan, evicted);
    await this.#after('crops', outcome, evicted);
  };

  readonly onReadings = async (message: IncomingMessage): Promise<void> => {
    if (this.#o.isStopping()) return;
    let result: InferenceResultMessage;
    try {
      result = parseMessage(message.body, SCHEMAS.result);
      if (result.chain?.step !== 'read') throw new EdgeMLError('MESSAGE_INVALID', `a reading must be the result of a chain's last step (chain.step read); got ${result.chain === undefined ? 'no chain link' : `step ${result.chain.step}`}`);
    } catch (err: unknown) {
      await this.#invalid('readings', message.body, err);
      return;
    }
    this.#o.counts.readings++;
    const evicted: Run[] = [];
    const outcome = this.#o.gatherings.addReading(result as InferenceResultMessage & { chain: ChainLink }, evicted);
    await this.#after('readings', outcome, evicted);
  };

  /** Hands back runs quiet for gatherTimeoutMs (a message of theirs was lost on the way). */
  async sweep(): Promise<void> {
    for (const run of this.#o.gatherings.expire()) {
      if (run.afterDone) continue; // late duplicates of a run whose result is out: nothing owed
      const missing = Gatherings.missing(run);
      const what = missing === undefined ? 'its plan' : `the readings of crops ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', …' : ''}`;
      await this.#o.outputs.handBack(refOf(run), 'TIMEOUT', `run ${run.chain}/${run.run.slice(0, 16)} heard nothing for ${this.#o.config().gatherTimeoutMs} ms and still misses ${what}`, HAND_BACK_RETRY_MS, 'timeout');
    }
    this.#o.metrics.runs.set(this.#o.gatherings.size);
  }

  /** Stopping: every run still gathering is handed back (the sources come again at once, not after a timeout). */
  async handBackAll(): Promise<void> {
    for (const run of this.#o.gatherings.drain()) {
      if (run.afterDone) continue;
      await this.#o.outputs.handBack(refOf(run), 'ABORTED', 'the aggregator stopped while gathering this run', HAND_BACK_RETRY_MS, 'stopping');
    }
    this.#o.metrics.runs.set(0);
  }

  async #after(input: 'crops' | 'readings', outcome: AddOutcome, evicted: readonly Run[]): Promise<void> {
    for (const run of evicted) {
      if (run.afterDone) continue;
      await this.#o.outputs.handBack(refOf(run), 'OVERLOADED', `more than maxRuns (${this.#o.config().maxRuns}) runs gathering; this one was quiet the longest`, HAND_BACK_RETRY_MS, 'full');
    }
    this.#o.metrics.runs.set(this.#o.gatherings.size);
    if (outcome.kind === 'duplicate') {
      this.#o.counts.duplicates++;
      this.#o.metrics.messages.inc({ input, outcome: 'duplicate' });
      return;
    }
    if (outcome.kind === 'mismatch') {
      // A bug upstream (two cuts under one run name): the run is handed back when it times out.
      this.#o.metrics.messages.inc({ input, outcome: 'mismatch' });
      this.#o.logger.error({ input, reason: outcome.reason }, 'a message does not fit its run; dropped');
      await this.#o.outputs.alert('error', 'INTERNAL', `aggregator: ${outcome.reason}`);
      return;
    }
    this.#o.metrics.messages.inc({ input, outcome: 'recorded' });
    if (outcome.kind === 'complete') await this.#complete(outcome.run);
  }

  async #complete(run: Run): Promise<void> {
    const c = this.#o.config();
    run.sending = true;
    try {
      const result = buildChainResult(run, { minConfidence: c.minConfidence, now: this.#o.now() });
      await this.#o.outputs.sendResult(result);
      this.#o.gatherings.finish(run);
      const tookMs = this.#o.now().getTime() - run.startedAtMs;
      this.#o.metrics.gatherSeconds.observe({ chain: run.chain }, tookMs / 1000);
      this.#o.activity.record(tookMs);
      this.#o.logger.debug({ id: run.id, chain: run.chain, items: result.items.length, text: result.text.slice(0, 200) }, 'chain result sent');
    } catch (err: unknown) {
      // Not sent: the run stays and is handed back when it times out (or the watcher re-emits).
      run.sending = false;
      if (!(this.#o.signal.aborted && errorCode(err) === 'ABORTED')) {
        this.#o.counts.sendFailed++;
        this.#o.logger.error({ err, id: run.id, chain: run.chain }, `chain result could not be sent: ${errorMessage(err)}`);
      }
    }
    this.#o.metrics.runs.set(this.#o.gatherings.size);
  }

  async #invalid(input: 'crops' | 'readings', body: Buffer, err: unknown): Promise<void> {
    this.#o.metrics.messages.inc({ input, outcome: 'invalid' });
    await this.#o.outputs.deadLetter(partOf(body), errorCode(err), errorMessage(err).slice(0, 4000), { input });
  }
}
