/**
 * The models serving each preprocessing profile, and the verified hot swap that replaces them:
 * stage (fetch + verify) → open a session → check it against the manifest → warm up → swap with one
 * assignment. Batches already running keep the model they started with; a retired model's session
 * is released when its last batch ends. A twin change applies as a whole or not at all.
 */
import { availableParallelism } from 'node:os';
import { EdgeMLError, errorCode, errorMessage, redactUrl, type Logger } from '@edgeml/shared';
import { effectiveBatching, warmupBatchSizes } from '../batching.js';
import type { InferencerConfig, ModelEntry } from '../config.js';
import { signatureMismatch } from '../tensor-checks.js';
import type { ReplicaCount } from '../session/pool.js';
import { replicaPlan, type ReplicaPlan } from '../session/replicas.js';
import type { ModelSession, SessionOptions } from '../session/types.js';
import type { ArtifactInfo } from './artifact-source.js';
import type { ModelManifest } from './manifest.js';
import type { ModelStore, StagedModel } from './store.js';
import { warmUp } from './warmup.js';

/** A model loaded in a session, counted while batches use it so that a swap can release it afterwards. */
export interface LoadedModel {
  readonly profile: string;
  /** Replaced in place when only batching settings change (no reload needed). */
  entry: ModelEntry;
  /** The model's name and version (its manifest's; the twin's entry may leave them to an artifact). */
  readonly name: string;
  readonly version: string;
  /** What results name as the model's digest: the OCI artifact's manifest digest, else `sha256:<model.onnx>`. */
  readonly digest: string;
  /** The OCI artifact it was pulled as. */
  readonly artifact: ArtifactInfo | undefined;
  readonly manifest: ModelManifest;
  readonly sha256: string;
  readonly session: ModelSession;
  readonly origin: StagedModel['origin'];
  readonly inputName: string;
  /** Models whose batch dimension is fixed at 1 run one tensor at a time. */
  readonly fixedBatchOne: boolean;
  readonly loadedAt: string;
  inFlight: number;
  retired: boolean;
}

export interface ModelFailure {
  readonly code: string;
  readonly message: string;
  readonly at: string;
  readonly attempted: { name?: string; version?: string; uri?: string; artifact?: string };
}

interface Slot {
  current: LoadedModel | undefined;
  lastError: ModelFailure | undefined;
}

/** What runs, as reported: the provider asked for, the one in use, and why they differ. */
export interface RuntimeState {
  readonly requested: string;
  readonly active: string;
  readonly fallbackReason: string | null;
}

/** What the manager tells the rest of the module. */
export interface ServingEvents {
  swapped(model: LoadedModel, previous: LoadedModel | undefined): void;
  refused(profile: string, failure: ModelFailure, serving: LoadedModel | undefined): Promise<void>;
  /** Models or runtime state changed: report them. */
  changed(): Promise<void>;
}

export interface ModelServingOptions {
  readonly store: ModelStore;
  /** Opens a model; `replicas`: sessions of it side by side, per provider (session/replicas.ts). */
  readonly openSession: (modelPath: string, options: SessionOptions, replicas: ReplicaCount) => Promise<ModelSession>;
  readonly events: ServingEvents;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Aborts downloads when the module stops. */
  readonly signal: AbortSignal;
  readonly installBundled: boolean;
}

const sessionOptionsOf = (c: InferencerConfig, plan: ReplicaPlan): SessionOptions => ({
  executionProvider: c.executionProvider,
  cudaDeviceId: c.cudaDeviceId,
  intraOpThreads: plan.intraOpThreads,
  interOpThreads: c.interOpThreads,
});

/** Same model (batching settings aside): no reload needed. */
const sameModel = (a: ModelEntry, b: ModelEntry): boolean => a.name === b.name && a.version === b.version && a.uri === b.uri && a.sha256 === b.sha256 && a.artifact === b.artifact;

const describeEntry = (e: ModelEntry): ModelFailure['attempted'] => ({
  ...(e.name === undefined ? {} : { name: e.name }),
  ...(e.version === undefined ? {} : { version: e.version }),
  ...(e.uri === undefined ? {} : { uri: redactUrl(e.uri) }),
  ...(e.artifact === undefined ? {} : { artifact: e.artifact }),
});

/** `name@version`, or the artifact reference, for messages. */
export const entryLabel = (e: ModelEntry): string => (e.name !== undefined && e.version !== undefined ? `${e.name}@${e.version}` : (e.artifact ?? e.uri ?? '?'));

export class ModelServing {
  readonly #o: ModelServingOptions;
  readonly #slots = new Map<string, Slot>();
  #config: InferencerConfig | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #reportedProfiles = new Set<string>();

  constructor(options: ModelServingOptions) {
    this.#o = options;
  }

  /** The model serving `profile`, if any. */
  serving(profile: string): LoadedModel | undefined {
    return this.#slots.get(profile)?.current;
  }

  /** Profiles configured (serving or not). */
  profiles(): string[] {
    return [...this.#slots.keys()];
  }

  /** Takes the model serving `profile` for one batch; give it back with {@link release}. */
  acquire(profile: string): LoadedModel | undefined {
    const m = this.serving(profile);
    if (m !== undefined) m.inFlight++;
    return m;
  }

  release(model: LoadedModel): void {
    model.inFlight--;
    if (model.retired && model.inFlight === 0) this.#releaseSession(model);
  }

  /** Applies a validated configuration (serialised with reloads). Throws to reject it; the old models keep serving. */
  apply(next: InferencerConfig, previous: InferencerConfig | undefined): Promise<void> {
    return this.#serialised(async () => {
      if (previous === undefined) await this.#prepareStore();
      const sessionChanged =
        previous === undefined ||
        previous.executionProvider !== next.executionProvider ||
        previous.cudaDeviceId !== next.cudaDeviceId ||
        previous.intraOpThreads !== next.intraOpThreads ||
        previous.interOpThreads !== next.interOpThreads ||
        previous.sessionWorkers !== next.sessionWorkers ||
        previous.sessionReplicas !== next.sessionReplicas;
      const toLoad = Object.entries(next.models).filter(([profile, entry]) => {
        const cur = this.serving(profile);
        return sessionChanged || cur === undefined || !sameModel(cur.entry, entry);
      });
      // Every candidate is loaded before any is swapped: a twin change applies as a whole or not at all.
      const loaded: LoadedModel[] = [];
      const problems: string[] = [];
      for (const [profile, entry] of toLoad) {
        try {
          loaded.push(await this.#loadCandidate(profile, entry, next));
        } catch (err: unknown) {
          const f = await this.#recordFailure(profile, entry, err);
          problems.push(`/models/${profile}: ${f.code}: ${f.message}`);
        }
      }
      if (problems.length > 0 && previous !== undefined) {
        for (const m of loaded) await m.session.release().catch((err: unknown) => this.#o.logger.warn({ err }, 'releasing an unused candidate failed'));
        // A profile this rejected change tried to add must not linger as "configured but not serving".
        for (const [profile, slot] of [...this.#slots]) if (slot.current === undefined && previous.models[profile] === undefined) this.#slots.delete(profile);
        await this.#o.events.changed();
        throw new EdgeMLError('MODEL_INVALID', problems.join('; '), { details: { problems } });
      }
      for (const m of loaded) this.#swapIn(m);
      for (const [profile, entry] of Object.entries(next.models)) {
        const cur = this.serving(profile);
        if (cur !== undefined && sameModel(cur.entry, entry)) cur.entry = entry;
      }
      for (const [profile, slot] of [...this.#slots]) {
        if (next.models[profile] !== undefined) continue;
        if (slot.current !== undefined) this.#retire(slot.current);
        this.#slots.delete(profile);
      }
      this.#config = next;
      await this.#o.events.changed();
    });
  }

  /** Re-runs the verified swap for one profile (or all) from its configured entry. */
  reload(profile?: string): Promise<Record<string, unknown>> {
    return this.#serialised(async () => {
      const c = this.#config;
      if (c === undefined) throw new EdgeMLError('INTERNAL', 'not configured yet');
      const profiles = profile === undefined ? Object.keys(c.models) : [profile];
      const out: Record<string, unknown> = {};
      const failures: string[] = [];
      for (const p of profiles) {
        const entry = c.models[p];
        if (entry === undefined) throw new EdgeMLError('METHOD_PAYLOAD_INVALID', `no model is configured for profile ${p} (configured: ${Object.keys(c.models).join(', ')})`);
        try {
          const m = await this.#loadCandidate(p, entry, c);
          this.#swapIn(m);
          out[p] = { outcome: 'swapped', name: m.name, version: m.version, sha256: m.sha256, digest: m.digest, provider: m.session.provider };
        } catch (err: unknown) {
          const f = await this.#recordFailure(p, entry, err);
          failures.push(`${p}: ${f.code}: ${f.message}`);
          out[p] = { outcome: 'refused', code: f.code, message: f.message };
        }
      }
      await this.#o.events.changed();
      if (failures.length > 0) throw new EdgeMLError('MODEL_INVALID', `reload refused, previous models keep serving: ${failures.join('; ')}`, { details: out });
      return out;
    });
  }

  /**
   * Loads a rollout candidate for `profile` (stage, session, signature check, warm-up) without
   * swapping it in; it must accept the live model's tensors (same preprocessing signature).
   * @throws EdgeMLError as a swap's candidate, and MODEL_INVALID for another preprocessing signature
   */
  prepareCandidate(profile: string, entry: ModelEntry, c: InferencerConfig): Promise<LoadedModel> {
    return this.#serialised(async () => {
      const m = await this.#loadCandidate(profile, entry, c);
      const live = this.serving(profile);
      if (live !== undefined && live.manifest.preprocessing.signature !== m.manifest.preprocessing.signature) {
        await m.session.release().catch((err: unknown) => this.#o.logger.warn({ err }, 'releasing a refused candidate failed'));
        throw new EdgeMLError('MODEL_INVALID', `candidate ${m.name}@${m.version} expects preprocessing ${m.manifest.preprocessing.signature}; the live model's tensors are ${live.manifest.preprocessing.signature}`);
      }
      return m;
    });
  }

  /** Counts a batch on a model that is not (or not yet) the one serving, e.g. a rollout candidate. */
  hold(model: LoadedModel): void {
    model.inFlight++;
  }

  /** Makes a candidate the model serving its profile (as a swap: running batches finish on the old one). */
  promote(candidate: LoadedModel): Promise<void> {
    return this.#serialised(async () => {
      if (this.#config !== undefined) this.#config = { ...this.#config, models: { ...this.#config.models, [candidate.profile]: candidate.entry } };
      this.#swapIn(candidate);
      await this.#o.events.changed();
    });
  }

  /** Releases a model that will not serve (a rolled-back candidate), once its last batch ends. */
  retire(model: LoadedModel): void {
    this.#retire(model);
  }

  /** Sessions that died with their worker: reopen the models they served. */
  sessionsLost(sessions: readonly ModelSession[]): void {
    const lost = new Set(sessions);
    for (const [profile, slot] of this.#slots) {
      if (slot.current === undefined || !lost.has(slot.current.session)) continue;
      void this.reload(profile).catch((err: unknown) => this.#o.logger.error({ err, profile }, `could not reopen the model of profile ${profile}: ${errorMessage(err)}`));
    }
  }

  /** Provider requested, provider in use (of the first serving model), and why they differ. */
  runtimeState(): RuntimeState {
    const active = [...this.#slots.values()].map((s) => s.current?.session).find((s) => s !== undefined);
    return {
      requested: this.#config?.executionProvider ?? 'auto',
      active: active?.provider ?? 'none',
      fallbackReason: active?.fallbackReason ?? null,
    };
  }

  /** The `models` reported property; a profile no longer configured is reported as null (reported properties merge). */
  reportedModels(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [profile, slot] of this.#slots) {
      const m = slot.current;
      out[profile] = {
        state: m === undefined ? 'none' : 'serving',
        name: m?.name ?? null,
        version: m?.version ?? null,
        sha256: m?.sha256 ?? null,
        digest: m?.digest ?? null,
        artifact: m?.artifact ?? null,
        origin: m?.origin ?? null,
        provider: m?.session.provider ?? null,
        replicas: m?.session.replicas ?? null,
        fixedBatchOne: m?.fixedBatchOne ?? null,
        batching: m === undefined || this.#config === undefined ? null : effectiveBatching({ ...m, provider: m.session.provider }, this.#config),
        loadedAt: m?.loadedAt ?? null,
        lastError: slot.lastError ?? null,
      };
    }
    for (const gone of this.#reportedProfiles) if (!(gone in out)) out[gone] = null;
    this.#reportedProfiles = new Set(this.#slots.keys());
    return out;
  }

  /** Why the module is not ready (profiles without a model). */
  notReadyReasons(): string[] {
    const reasons: string[] = [];
    for (const [profile, slot] of this.#slots) if (slot.current === undefined) reasons.push(`no model serves profile ${profile}${slot.lastError === undefined ? '' : `: ${slot.lastError.message}`}`);
    if (this.#slots.size === 0) reasons.push('no models configured');
    return reasons;
  }

  /** Waits for a swap in progress, then retires every model. */
  async close(): Promise<void> {
    await this.#chain;
    for (const slot of this.#slots.values()) if (slot.current !== undefined) this.#retire(slot.current);
  }

  #serialised<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #prepareStore(): Promise<void> {
    const { store, logger } = this.#o;
    // Downloads interrupted by a crash or a kill leave partial files; nothing in staging is ever reused.
    await store.clearStaging().catch((err: unknown) => logger.warn({ err }, 'could not clear the model staging directory'));
    if (!this.#o.installBundled) return;
    try {
      const installed = await store.installBundled();
      logger.info({ models: installed.map((m) => `${m.name}@${m.version}${m.installed ? ' (installed)' : ''}`) }, 'bundled models in the store');
    } catch (err: unknown) {
      logger.error({ err }, 'bundled models could not be installed into the store');
    }
  }

  /** Stage → session → signature check → warm-up. Nothing is swapped here. */
  async #loadCandidate(profile: string, entry: ModelEntry, c: InferencerConfig): Promise<LoadedModel> {
    const staged = await this.#o.store.stage(entry, {
      maxModelBytes: c.maxModelBytes,
      downloadTimeoutMs: c.modelDownloadTimeoutMs,
      inheritManifest: this.serving(profile)?.manifest,
      signal: this.#o.signal,
    });
    let session: ModelSession | undefined;
    try {
      if (staged.manifest.preprocessing.profile !== profile) {
        throw new EdgeMLError('MODEL_INVALID', `model ${staged.manifest.name}@${staged.manifest.version} is for profile ${staged.manifest.preprocessing.profile}, configured under ${profile}`);
      }
      const plan = replicaPlan(c, availableParallelism());
      session = await this.#o.openSession(staged.file, sessionOptionsOf(c, plan), plan);
      const mismatch = signatureMismatch(session, staged.manifest);
      if (mismatch !== undefined) throw new EdgeMLError('MODEL_INVALID', `model ${staged.manifest.name}@${staged.manifest.version} does not match its manifest: ${mismatch}`);
      const batchDim = session.inputs[0]?.shape[0] ?? -1;
      const fixedBatchOne = batchDim === 1 || staged.manifest.inputs[0]!.shape[0] === 1;
      await warmUp(session, staged.manifest, warmupBatchSizes(effectiveBatching({ entry, manifest: staged.manifest, provider: session.provider, fixedBatchOne }, c)));
      await staged.commit();
      return {
        profile,
        entry,
        name: staged.manifest.name,
        version: staged.manifest.version,
        digest: staged.artifact?.digest ?? `sha256:${staged.sha256}`,
        artifact: staged.artifact,
        manifest: staged.manifest,
        sha256: staged.sha256,
        session,
        origin: staged.origin,
        inputName: staged.manifest.inputs[0]!.name,
        fixedBatchOne,
        loadedAt: this.#o.now().toISOString(),
        inFlight: 0,
        retired: false,
      };
    } catch (err: unknown) {
      await session?.release().catch((e: unknown) => this.#o.logger.warn({ err: e }, 'releasing a refused model failed'));
      await staged.discard();
      throw err;
    }
  }

  async #recordFailure(profile: string, entry: ModelEntry, err: unknown): Promise<ModelFailure> {
    const failure: ModelFailure = { code: errorCode(err), message: errorMessage(err).slice(0, 1024), at: this.#o.now().toISOString(), attempted: describeEntry(entry) };
    const slot = this.#slots.get(profile) ?? { current: undefined, lastError: undefined };
    slot.lastError = failure;
    this.#slots.set(profile, slot);
    const serving = slot.current === undefined ? 'no model serves this profile' : `${slot.current.name}@${slot.current.version} keeps serving`;
    this.#o.logger.error({ err, profile, attempted: failure.attempted }, `model refused for profile ${profile}; ${serving}`);
    await this.#o.events.refused(profile, failure, slot.current);
    return failure;
  }

  #swapIn(candidate: LoadedModel): void {
    const slot = this.#slots.get(candidate.profile) ?? { current: undefined, lastError: undefined };
    const old = slot.current;
    // One assignment: a batch dispatched from now on runs on the candidate; batches already running hold `old`.
    slot.current = candidate;
    slot.lastError = undefined;
    this.#slots.set(candidate.profile, slot);
    this.#o.logger.info(
      { profile: candidate.profile, name: candidate.name, version: candidate.version, digest: candidate.digest, provider: candidate.session.provider, previous: old === undefined ? null : `${old.name}@${old.version}` },
      'model swapped in',
    );
    this.#o.events.swapped(candidate, old);
    if (old !== undefined) this.#retire(old);
  }

  #retire(m: LoadedModel): void {
    m.retired = true;
    if (m.inFlight === 0) this.#releaseSession(m);
  }

  #releaseSession(m: LoadedModel): void {
    m.session.release().then(
      () => this.#o.logger.info({ profile: m.profile, name: m.name, version: m.version }, 'previous model released'),
      (err: unknown) => this.#o.logger.warn({ err, profile: m.profile }, 'releasing a previous model failed'),
    );
  }
}
