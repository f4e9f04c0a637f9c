/**
 * Staged rollouts on the device. For each profile with a `rollout` entry, the candidate is loaded
 * beside the live model (verified and warmed up like any swap); the batch runner (execution.ts)
 * runs a deterministic sample of the items on it too (by content id, so a re-delivered item is
 * sampled again) and reports what it saw; the evaluator decides; a promotion swaps the candidate
 * in, a rollback releases it. Every step is reported (`rollout.<profile>` reported property, an
 * `edgeml.rollout/v1` event on the `rollout` output, routed to $upstream) and every verdict is
 * kept on disk (decisions.ts) so that a restart neither re-runs a rolled-back candidate nor
 * forgets a promotion.
 */
import { createHash } from 'node:crypto';
import { errorCode, errorMessage, type Logger } from '@edgeml/shared';
import type { InferencerConfig, ModelEntry } from '../config.js';
import type { LoadedModel, ModelServing } from '../models/serving.js';
import type { RolloutSpec } from './config.js';
import { entryKey, type Decision, type RolloutDecisions } from './decisions.js';
import { RolloutEvaluator, type RolloutFigures, type RolloutObservation } from './evaluator.js';

export type RolloutEventKind = 'started' | 'progress' | 'promoted' | 'rolledBack' | 'refused';

/** What the manager tells the rest of the module. */
export interface RolloutEvents {
  /** A `rollout` reported-properties patch (profiles no longer rolled out are null). */
  report(patch: Record<string, unknown>): Promise<void>;
  /** An `edgeml.rollout/v1` event for $upstream. */
  event(profile: string, kind: RolloutEventKind, body: Record<string, unknown>): Promise<void>;
  /** An alert (a rollback, a candidate that cannot be loaded). */
  alert(code: string, message: string, details: Record<string, unknown>): Promise<void>;
}

/** A rollout in progress. */
export interface ActiveRollout {
  readonly profile: string;
  readonly spec: RolloutSpec;
  readonly candidate: LoadedModel;
  readonly liveKey: string;
  readonly evaluator: RolloutEvaluator;
  readonly startedAt: string;
  deciding: boolean;
  /** Items at the last progress event. */
  lastProgressAt: number;
}

/** Candidates loaded for a configuration not yet applied. */
export interface PreparedRollouts {
  readonly loaded: ReadonlyMap<string, LoadedModel>;
}

const modelOf = (m: LoadedModel): { name: string; version: string; digest: string; artifact: string | null } => ({ name: m.name, version: m.version, digest: m.digest, artifact: m.artifact?.reference ?? null });
const thresholdsOf = (s: RolloutSpec): Record<string, unknown> => ({ fraction: s.fraction, minItems: s.minItems, minAgreement: s.minAgreement, maxErrorRate: s.maxErrorRate, maxLatencyRatio: s.maxLatencyRatio, maxConsecutiveErrors: s.maxConsecutiveErrors });

export class RolloutManager {
  readonly #serving: ModelServing;
  readonly #decisions: RolloutDecisions;
  readonly #events: RolloutEvents;
  readonly #logger: Logger;
  readonly #now: () => Date;
  readonly #active = new Map<string, ActiveRollout>();
  /** Last reported state per profile (what getStatus shows). */
  readonly #reported = new Map<string, Record<string, unknown>>();

  constructor(options: { serving: ModelServing; decisions: RolloutDecisions; events: RolloutEvents; logger: Logger; now: () => Date }) {
    this.#serving = options.serving;
    this.#decisions = options.decisions;
    this.#events = options.events;
    this.#logger = options.logger.child({ component: 'rollout' });
    this.#now = options.now;
  }

  /** The configuration the model store serves: a promoted candidate stands for its live entry while the twin still names both. */
  effective(config: InferencerConfig): InferencerConfig {
    let models: Record<string, ModelEntry> | undefined;
    for (const [profile, spec] of Object.entries(config.rollout)) {
      const d = this.#decisions.get(profile);
      const live = config.models[profile];
      if (d?.outcome !== 'promoted' || live === undefined || d.candidateKey !== entryKey(spec.candidate) || d.liveKey !== entryKey(live)) continue;
      models ??= { ...config.models };
      models[profile] = { ...spec.candidate, ...(live.maxBatchSize === undefined ? {} : { maxBatchSize: live.maxBatchSize }), ...(live.preferredBatchSizes === undefined ? {} : { preferredBatchSizes: live.preferredBatchSizes }) };
    }
    return models === undefined ? config : { ...config, models };
  }

  /** Rollouts this configuration starts: the profile, its spec, and why not when it does not. */
  #toStart(config: InferencerConfig): [string, RolloutSpec][] {
    return Object.entries(config.rollout).filter(([profile, spec]) => {
      const key = entryKey(spec.candidate);
      const active = this.#active.get(profile);
      if (active !== undefined && entryKey(active.spec.candidate) === key) return false;
      const d = this.#decisions.get(profile);
      if (d !== undefined && d.candidateKey === key) return false; // decided before: promoted or rolled back
      const live = config.models[profile];
      return live === undefined || entryKey(live) !== key;
    });
  }

  /**
   * Loads the candidates of rollouts this configuration starts (nothing is swapped or started).
   * @throws EdgeMLError when a candidate cannot be loaded: the configuration is rejected, the live models keep serving
   */
  async prepare(config: InferencerConfig): Promise<PreparedRollouts> {
    const loaded = new Map<string, LoadedModel>();
    for (const [profile, spec] of this.#toStart(config)) {
      try {
        loaded.set(profile, await this.#serving.prepareCandidate(profile, spec.candidate, config));
      } catch (err: unknown) {
        for (const m of loaded.values()) this.#serving.retire(m);
        const lastError = { code: errorCode(err), message: errorMessage(err).slice(0, 1024), at: this.#now().toISOString() };
        this.#logger.error({ err, profile }, `rollout candidate for ${profile} refused; the live model keeps serving`);
        await this.#publish(profile, { state: 'refused', mode: spec.mode, candidate: { attempted: spec.candidate.artifact ?? `${spec.candidate.name ?? '?'}@${spec.candidate.version ?? '?'}` }, lastError }, 'refused');
        await this.#events.alert(lastError.code, `rollout candidate for profile ${profile} refused: ${lastError.message}`, { profile });
        throw err;
      }
    }
    return { loaded };
  }

  /** Releases candidates of a configuration that was not applied after all. */
  discard(prepared: PreparedRollouts): void {
    for (const m of prepared.loaded.values()) this.#serving.retire(m);
  }

  /** Starts the prepared rollouts and ends the ones the configuration no longer names. */
  async commit(prepared: PreparedRollouts, config: InferencerConfig): Promise<void> {
    for (const [profile, active] of [...this.#active]) {
      const spec = config.rollout[profile];
      if (spec !== undefined && entryKey(spec.candidate) === entryKey(active.spec.candidate) && !prepared.loaded.has(profile)) continue;
      this.#active.delete(profile);
      this.#serving.retire(active.candidate);
      this.#logger.info({ profile }, 'rollout withdrawn by the twin');
    }
    for (const [profile, candidate] of prepared.loaded) {
      const spec = config.rollout[profile]!;
      const active: ActiveRollout = { profile, spec, candidate, liveKey: entryKey(config.models[profile]!), evaluator: new RolloutEvaluator(spec), startedAt: this.#now().toISOString(), deciding: false, lastProgressAt: 0 };
      this.#active.set(profile, active);
      this.#logger.info({ profile, mode: spec.mode, candidate: modelOf(candidate) }, `rollout started (${spec.mode})`);
      await this.#publish(profile, this.#stateOf(active, spec.mode), 'started');
    }
    // Decided rollouts the twin still names: report what was decided; profiles no longer named: null.
    for (const [profile, spec] of Object.entries(config.rollout)) {
      const d = this.#decisions.get(profile);
      if (this.#active.has(profile) || d === undefined || d.candidateKey !== entryKey(spec.candidate)) continue;
      await this.#publish(profile, this.#decided(d, spec));
    }
    const gone = [...this.#reported.keys()].filter((p) => config.rollout[p] === undefined);
    for (const p of gone) this.#reported.delete(p);
    if (gone.length > 0) await this.#events.report(Object.fromEntries(gone.map((p) => [p, null])));
  }

  /** The rollout of `profile`, if one runs. */
  active(profile: string): ActiveRollout | undefined {
    return this.#active.get(profile);
  }

  /** Whether the item with content id `id` goes to the candidate (deterministic per candidate). */
  sampled(active: ActiveRollout, id: string): boolean {
    if (active.spec.fraction >= 1) return true;
    const h = createHash('sha256').update(`${active.candidate.digest}|${id}`).digest();
    return h.readUInt32BE(0) / 0x1_0000_0000 < active.spec.fraction;
  }

  /** What one batch taught; decides when the evaluator says so. Never throws. */
  async observe(active: ActiveRollout, observation: RolloutObservation): Promise<void> {
    if (this.#active.get(active.profile) !== active || active.deciding) return;
    active.evaluator.record(observation);
    const verdict = active.evaluator.verdict();
    try {
      if (verdict.decision === 'continue') {
        const items = active.evaluator.figures().items;
        // Progress at every quarter of minItems, so a long rollout is visible while it runs.
        const step = Math.max(1, Math.ceil(active.spec.minItems / 4));
        if (Math.floor(items / step) > Math.floor(active.lastProgressAt / step)) {
          active.lastProgressAt = items;
          await this.#publish(active.profile, this.#stateOf(active, active.spec.mode), 'progress');
        }
        return;
      }
      active.deciding = true;
      await this.#decide(active, verdict.decision, verdict.reason);
    } catch (err: unknown) {
      this.#logger.error({ err, profile: active.profile }, `rollout step failed: ${errorMessage(err)}`);
    }
  }

  /** getStatus: each profile's rollout as last reported. */
  status(): Record<string, unknown> {
    return Object.fromEntries(this.#reported);
  }

  /** Releases every candidate (the module stops). */
  close(): void {
    for (const a of this.#active.values()) this.#serving.retire(a.candidate);
    this.#active.clear();
  }

  async #decide(active: ActiveRollout, decision: 'promote' | 'rollback', reason: string): Promise<void> {
    const figures = active.evaluator.figures();
    const d: Decision = {
      outcome: decision === 'promote' ? 'promoted' : 'rolledBack',
      candidateKey: entryKey(active.spec.candidate),
      liveKey: active.liveKey,
      candidate: active.spec.candidate,
      model: { name: active.candidate.name, version: active.candidate.version, digest: active.candidate.digest },
      figures,
      reason,
      decidedAt: this.#now().toISOString(),
    };
    await this.#decisions.set(active.profile, d);
    this.#active.delete(active.profile);
    const live = this.#serving.serving(active.profile);
    if (decision === 'promote') {
      await this.#serving.promote(active.candidate);
      this.#logger.info({ profile: active.profile, candidate: modelOf(active.candidate), figures }, `candidate promoted: ${reason}`);
    } else {
      this.#serving.retire(active.candidate);
      this.#logger.warn({ profile: active.profile, candidate: modelOf(active.candidate), figures }, `candidate rolled back: ${reason}`);
      await this.#events.alert('ROLLOUT_ROLLED_BACK', `rollout of ${active.candidate.name}@${active.candidate.version} (${active.candidate.digest}) on profile ${active.profile} rolled back: ${reason}`, { profile: active.profile, candidate: modelOf(active.candidate), figures });
    }
    await this.#publish(active.profile, { ...this.#decided(d, active.spec), live: live === undefined ? null : modelOf(live) }, d.outcome);
  }

  #stateOf(active: ActiveRollout, state: string): Record<string, unknown> {
    const live = this.#serving.serving(active.profile);
    return { state, mode: active.spec.mode, candidate: modelOf(active.candidate), live: live === undefined ? null : modelOf(live), thresholds: thresholdsOf(active.spec), figures: active.evaluator.figures(), startedAt: active.startedAt, decidedAt: null, reason: null, lastError: null };
  }

  #decided(d: Decision, spec: RolloutSpec): Record<string, unknown> {
    return { state: d.outcome, mode: spec.mode, candidate: d.model, thresholds: thresholdsOf(spec), figures: d.figures, decidedAt: d.decidedAt, reason: d.reason, lastError: null };
  }

  async #publish(profile: string, state: Record<string, unknown>, event?: RolloutEventKind): Promise<void> {
    this.#reported.set(profile, state);
    await this.#events.report({ [profile]: state });
    if (event !== undefined) await this.#events.event(profile, event, state);
  }
}

export type { RolloutFigures };
