/**
 * The inferencer app: tensors in, inference results out, with dynamic batching and a model store
 * with verified hot swap. Built around injected dependencies (ModuleDeps) so tests run the real app
 * against the in-memory edge client, a temp data root and real ONNX Runtime.
 */
import { setMaxListeners } from 'node:events';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  Counter,
  EdgeMLError,
  Gauge,
  Histogram,
  SCHEMAS,
  assertValidMessage,
  buildCompletion,
  completionOutput,
  createRepeatLimiter,
  deterministicMessageId,
  errorCode,
  errorMessage,
  isEdgeMLError,
  jsonMethod,
  resolveInside,
  retry,
  sendAlert,
  sha256,
  type ImageGeometry,
  type InferenceResultMessage,
  type ModuleApp,
  type ModuleDeps,
  type TensorMessage,
  parseMessage,
  decodeNpy,
} from '@edgeml/shared';
import { createAdmission, createBatcher, type Admission, type Batcher, type BatcherClock } from './batcher.js';
import { INFERENCER_DEFAULTS, PROFILE_PATTERN, type InferencerConfig, type ModelEntry } from './config.js';
import { STAGING_DIR, describeUri, installBundledModels, stageModel, type ModelManifest, type StagedModel } from './model-store.js';
import { postprocess } from './postprocess/index.js';
import type { ItemTensor, PostprocessResult } from './postprocess/types.js';
import { ORT_VERSION, openSession, type ModelSession, type SessionOptions } from './session.js';

/** How soon the watcher offers a source again when its tensor file was missing here. */
const MISSING_TENSOR_RETRY_MS = 5_000;

export const INFERENCER_MODULE_NAME = 'inferencer';

export interface InferencerAppOptions {
  /** Batcher clock (tests pass a fake one). */
  readonly clock?: BatcherClock;
  /** fetch used for model downloads (tests may wrap it). */
  readonly fetch?: typeof fetch;
  /** Install the bundled PaddleOCR models into the store on the first configuration. Default true. */
  readonly installBundled?: boolean;
}

/** The app plus what tests and the benchmark look at. */
export interface InferencerApp extends ModuleApp<InferencerConfig> {
  /** Re-runs the verified swap for one profile (or all) from its configured entry. */
  reloadModel(profile?: string): Promise<Record<string, unknown>>;
  /** The model serving a profile, if any. */
  serving(profile: string): { name: string; version: string; sha256: string; provider: string } | undefined;
}

/** A loaded model: one session, counted while batches use it so a swap can release it afterwards. */
interface LoadedModel {
  readonly profile: string;
  /** Replaced in place when only `maxBatchSize` changes (no reload needed). */
  entry: ModelEntry;
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

interface ModelFailure {
  readonly code: string;
  readonly message: string;
  readonly at: string;
  readonly attempted: { name: string; version: string; uri?: string };
}

interface Slot {
  current: LoadedModel | undefined;
  lastError: ModelFailure | undefined;
}

/** A tensor read from disk and checked, waiting for its batch. */
interface QueuedTensor {
  readonly message: TensorMessage;
  readonly data: Float32Array | Uint8Array;
  /** Shape of one item, without the batch dimension. */
  readonly itemShape: readonly number[];
}

interface ItemResult {
  readonly model: LoadedModel;
  readonly post: PostprocessResult;
  readonly inferMs: number;
}

const BYTES_PER_ELEMENT = { float32: 4, uint8: 1 } as const;

/** Item shape of a tensor for a model input of rank `rank`: `[1, ...item]` or `item` alone. */
function itemShapeOf(shape: readonly number[], rank: number): readonly number[] | string {
  if (shape.length === rank) {
    if (shape[0] !== 1) return `shape [${shape.join(',')}] holds ${String(shape[0])} items; one tensor per source is expected (batch dimension 1)`;
    return shape.slice(1);
  }
  if (shape.length === rank - 1) return shape;
  return `shape [${shape.join(',')}] has rank ${shape.length}; the model input has rank ${rank}`;
}

/** Why a tensor does not fit a model, or undefined when it does. */
export function tensorMismatch(message: Pick<TensorMessage, 'preprocessing' | 'tensor'>, manifest: ModelManifest): string | undefined {
  const pp = message.preprocessing;
  if (pp.profile !== manifest.preprocessing.profile) return `tensor profile ${pp.profile} but model ${manifest.name}@${manifest.version} expects ${manifest.preprocessing.profile}`;
  if (pp.signature !== manifest.preprocessing.signature) {
    return `preprocessing signature ${pp.signature} differs from the ${manifest.preprocessing.signature} model ${manifest.name}@${manifest.version} expects (profile ${pp.profile} was prepared differently)`;
  }
  const input = manifest.inputs[0];
  if (input === undefined) return 'model declares no input';
  if (message.tensor.dtype !== input.dtype) return `tensor dtype ${message.tensor.dtype}; the model input ${input.name} is ${input.dtype}`;
  const item = itemShapeOf(message.tensor.shape, input.shape.length);
  if (typeof item === 'string') return item;
  for (let i = 0; i < item.length; i++) {
    const want = input.shape[i + 1] ?? -1;
    if (want !== -1 && want !== item[i]) return `tensor shape [${message.tensor.shape.join(',')}] does not fit the model input [${input.shape.join(',')}] (dimension ${i + 1})`;
  }
  return undefined;
}

/** Why a session does not match its manifest (names, dtypes, ranks, fixed dimensions), or undefined. */
export function signatureMismatch(session: Pick<ModelSession, 'inputs' | 'outputs'>, manifest: ModelManifest): string | undefined {
  const compare = (kind: string, actual: ModelSession['inputs'], declared: ModelManifest['inputs']): string | undefined => {
    if (actual.length !== declared.length) return `model has ${actual.length} ${kind}s, the manifest declares ${declared.length}`;
    for (let i = 0; i < declared.length; i++) {
      const a = actual[i]!;
      const d = declared[i]!;
      const describe = `${kind} ${a.name}: ${a.dtype}[${a.shape.join(',')}], manifest ${d.name}: ${d.dtype}[${d.shape.join(',')}]`;
      if (a.name !== d.name || a.dtype !== d.dtype || a.shape.length !== d.shape.length) return describe;
      for (let j = 0; j < d.shape.length; j++) {
        const x = a.shape[j]!;
        const y = d.shape[j]!;
        if (x !== -1 && y !== -1 && x !== y) return describe;
        if (x !== -1 && y === -1 && j > 0) return describe;
      }
    }
    return undefined;
  };
  return compare('input', session.inputs, manifest.inputs) ?? (manifest.outputs === undefined ? undefined : compare('output', session.outputs, manifest.outputs));
}

/** A tensor of zeros in the model's input shape (dynamic dimensions from the profile's spec), for warm-up. */
function warmupInput(manifest: ModelManifest): { data: Float32Array | Uint8Array; dims: number[]; dtype: 'float32' | 'uint8' } {
  const input = manifest.inputs[0]!;
  const spec = manifest.preprocessing.spec;
  const dims = input.shape.map((d, i) => {
    if (d !== -1) return d;
    if (i === 0) return 1;
    if (input.shape.length === 4 && spec !== undefined) {
      const nchw = spec.layout === 'NCHW';
      if (i === 1) return nchw ? 3 : spec.height;
      if (i === 2) return nchw ? spec.height : spec.width;
      if (i === 3) return nchw ? spec.width : 3;
    }
    return 32;
  });
  const count = dims.reduce((a, b) => a * b, 1);
  const dtype = input.dtype === 'uint8' ? 'uint8' : 'float32';
  return { data: dtype === 'uint8' ? new Uint8Array(count) : new Float32Array(count), dims, dtype };
}

/** Splits batched outputs into one item's outputs (every output whose first dimension is the batch). */
function sliceItem(outputs: Awaited<ReturnType<ModelSession['run']>>, index: number, batch: number): ItemTensor[] {
  return outputs.map((o) => {
    if (o.dims[0] !== batch) return o;
    const per = o.data.length / batch;
    return { name: o.name, dtype: o.dtype, data: o.data.subarray(index * per, (index + 1) * per), dims: [1, ...o.dims.slice(1)] };
  });
}

const RELOAD_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { profile: { type: 'string', pattern: PROFILE_PATTERN } },
} as const;

export function createInferencerApp(deps: ModuleDeps, options: InferencerAppOptions = {}): InferencerApp {
  const { edge, registry, paths } = deps;
  const logger = deps.logger.child({ component: 'inferencer' });
  const moduleName = edge.moduleId;
  const shouldLog = createRepeatLimiter();

  let config: InferencerConfig | undefined;
  let started = false;
  let stopping: Promise<void> | undefined;
  const stopController = new AbortController();
  // Every tensor waiting for admission (up to maxQueueItems) listens for the stop; that is by design.
  setMaxListeners(0, stopController.signal);
  const slots = new Map<string, Slot>();
  let modelChain: Promise<unknown> = Promise.resolve();
  let statusTimer: NodeJS.Timeout | undefined;
  let runtimeState: { requested: string; active: string; fallbackReason: string | null } = { requested: INFERENCER_DEFAULTS.executionProvider, active: 'none', fallbackReason: null };
  let fallbackAlerted = '';
  const handlers = new Set<Promise<void>>();
  const counts = { received: 0, results: 0, deadLettered: 0, deferred: 0, retried: 0, backpressureWaits: 0, swaps: 0, swapFailures: 0 };

  // ---- metrics -------------------------------------------------------------------------------
  const metrics = {
    queueDepth: new Gauge({ name: 'edgeml_inferencer_queue_depth_items', help: 'Tensors waiting for a batch', registers: [registry], collect() { this.set(batcher.depth()); } }),
    admittedBytes: new Gauge({ name: 'edgeml_inferencer_admitted_bytes', help: 'Tensor bytes admitted (read, queued or running)', registers: [registry], collect() { this.set(admission.bytes); } }),
    batchSize: new Histogram({ name: 'edgeml_inferencer_batch_size_items', help: 'Tensors per model run', labelNames: ['profile'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [registry] }),
    queueTime: new Histogram({ name: 'edgeml_inferencer_queue_time_seconds', help: 'Time a tensor waited for its batch', labelNames: ['profile'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
    inferTime: new Histogram({ name: 'edgeml_inferencer_inference_time_seconds', help: 'Model run time per batch', labelNames: ['profile', 'provider'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
    results: new Counter({ name: 'edgeml_inferencer_results_total', help: 'Results sent, by profile and label', labelNames: ['profile', 'label'], registers: [registry] }),
    failures: new Counter({ name: 'edgeml_inferencer_failures_total', help: 'Tensors not turned into a result, by reason', labelNames: ['code'], registers: [registry] }),
    backpressure: new Counter({ name: 'edgeml_inferencer_backpressure_waits_total', help: 'Tensors that waited because the queue bound (items or bytes) was reached', registers: [registry] }),
    swaps: new Counter({ name: 'edgeml_inferencer_model_swaps_total', help: 'Model loads by outcome', labelNames: ['profile', 'outcome'], registers: [registry] }),
  };

  // ---- batching --------------------------------------------------------------------------------
  const runBatch = async (key: string, items: readonly QueuedTensor[]): Promise<(ItemResult | Error)[]> => {
    const profile = key.slice(0, key.indexOf('|'));
    const model = slots.get(profile)?.current;
    if (model === undefined) throw new EdgeMLError('MODEL_INVALID', `no model serves profile ${profile}`);
    model.inFlight++;
    try {
      // The model may have been swapped since these tensors were checked: check again against the one that runs.
      const refused = items.map((t) => {
        const why = tensorMismatch(t.message, model.manifest);
        return why === undefined ? undefined : new EdgeMLError('TENSOR_MISMATCH', why);
      });
      const runnable = items.filter((_, i) => refused[i] === undefined);
      const first = runnable[0];
      if (first === undefined) return refused as Error[];
      const per = first.data.length;
      let batched: Float32Array | Uint8Array = first.data;
      if (runnable.length > 1) {
        batched = first.data instanceof Float32Array ? new Float32Array(per * runnable.length) : new Uint8Array(per * runnable.length);
        runnable.forEach((t, i) => batched.set(t.data, i * per));
      }
      const t0 = performance.now();
      const outputs = await model.session.run(model.inputName, {
        dtype: first.data instanceof Float32Array ? 'float32' : 'uint8',
        data: batched,
        dims: [runnable.length, ...first.itemShape],
      });
      const inferMs = performance.now() - t0;
      metrics.inferTime.observe({ profile, provider: model.session.provider }, inferMs / 1000);
      let index = 0;
      return items.map((item, i): ItemResult | Error => {
        const refusal = refused[i];
        if (refusal !== undefined) return refusal;
        const outputsOfItem = sliceItem(outputs, index++, runnable.length);
        try {
          const post = postprocess(model.manifest.postprocessor, outputsOfItem, {
            labels: model.manifest.labels ?? [],
            geometry: item.message.preprocessing.geometry as ImageGeometry | undefined,
          });
          return { model, post, inferMs };
        } catch (err: unknown) {
          return isEdgeMLError(err) ? err : new EdgeMLError('INFERENCE_FAILED', `post-processing failed: ${errorMessage(err)}`, { cause: err });
        }
      });
    } finally {
      model.inFlight--;
      if (model.retired && model.inFlight === 0) releaseModel(model);
    }
  };

  const batcher: Batcher<QueuedTensor, ItemResult> = createBatcher<QueuedTensor, ItemResult>({
    maxBatchSize: INFERENCER_DEFAULTS.maxBatchSize,
    maxQueueDelayMs: INFERENCER_DEFAULTS.maxQueueDelayMs,
    run: runBatch,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    onBatch: (info) => {
      const profile = info.key.slice(0, info.key.indexOf('|'));
      metrics.batchSize.observe({ profile }, info.size);
      for (const q of info.queueMs) metrics.queueTime.observe({ profile }, q / 1000);
    },
  });
  const admission: Admission = createAdmission({ maxItems: INFERENCER_DEFAULTS.maxQueueItems, maxBytes: INFERENCER_DEFAULTS.maxQueueBytes });

  // ---- model store and hot swap ---------------------------------------------------------------
  const releaseModel = (m: LoadedModel): void => {
    m.session.release().then(
      () => logger.info({ profile: m.profile, name: m.entry.name, version: m.entry.version }, 'previous model released'),
      (err: unknown) => logger.warn({ err, profile: m.profile }, 'releasing a previous model failed'),
    );
  };
  const retire = (m: LoadedModel): void => {
    m.retired = true;
    if (m.inFlight === 0) releaseModel(m);
  };

  const sessionOptionsOf = (c: InferencerConfig): SessionOptions => ({
    executionProvider: c.executionProvider,
    cudaDeviceId: c.cudaDeviceId,
    intraOpThreads: c.intraOpThreads,
    interOpThreads: c.interOpThreads,
  });

  /** Fetch → verify → session → signature check → warm-up. Nothing is swapped here. */
  const loadCandidate = async (profile: string, entry: ModelEntry, c: InferencerConfig): Promise<LoadedModel> => {
    const staged = await stageModel(entry, {
      modelsDir: paths.models,
      maxModelBytes: c.maxModelBytes,
      downloadTimeoutMs: c.modelDownloadTimeoutMs,
      inheritManifest: slots.get(profile)?.current?.manifest,
      signal: stopController.signal,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    });
    let session: ModelSession | undefined;
    try {
      if (staged.manifest.preprocessing.profile !== profile) {
        throw new EdgeMLError('MODEL_INVALID', `model ${entry.name}@${entry.version} is for profile ${staged.manifest.preprocessing.profile}, configured under ${profile}`);
      }
      session = await openSession(staged.file, sessionOptionsOf(c));
      const mismatch = signatureMismatch(session, staged.manifest);
      if (mismatch !== undefined) throw new EdgeMLError('MODEL_INVALID', `model ${entry.name}@${entry.version} does not match its manifest: ${mismatch}`);
      const warm = warmupInput(staged.manifest);
      try {
        const out = await session.run(staged.manifest.inputs[0]!.name, warm);
        postprocess(staged.manifest.postprocessor, sliceItem(out, 0, 1), { labels: staged.manifest.labels ?? [], geometry: undefined });
      } catch (err: unknown) {
        throw new EdgeMLError('MODEL_INVALID', `model ${entry.name}@${entry.version} failed its warm-up run: ${errorMessage(err)}`, { cause: err });
      }
      await staged.commit();
      const batchDim = session.inputs[0]?.shape[0] ?? -1;
      return {
        profile,
        entry,
        manifest: staged.manifest,
        sha256: staged.sha256,
        session,
        origin: staged.origin,
        inputName: staged.manifest.inputs[0]!.name,
        fixedBatchOne: batchDim === 1 || staged.manifest.inputs[0]!.shape[0] === 1,
        loadedAt: deps.now().toISOString(),
        inFlight: 0,
        retired: false,
      };
    } catch (err: unknown) {
      await session?.release().catch((e: unknown) => logger.warn({ err: e }, 'releasing a refused model failed'));
      await staged.discard();
      throw err;
    }
  };

  const describeEntry = (e: ModelEntry): ModelFailure['attempted'] => ({ name: e.name, version: e.version, ...(e.uri === undefined ? {} : { uri: describeUri(e.uri)! }) });

  const modelReport = (): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [profile, slot] of slots) {
      const m = slot.current;
      out[profile] = {
        state: m === undefined ? 'none' : 'serving',
        name: m?.entry.name ?? null,
        version: m?.entry.version ?? null,
        sha256: m?.sha256 ?? null,
        origin: m?.origin ?? null,
        provider: m?.session.provider ?? null,
        fixedBatchOne: m?.fixedBatchOne ?? null,
        loadedAt: m?.loadedAt ?? null,
        lastError: slot.lastError ?? null,
      };
    }
    return out;
  };

  const updateRuntimeState = (c: InferencerConfig): void => {
    const active = [...slots.values()].map((s) => s.current?.session).find((s) => s !== undefined);
    runtimeState = {
      requested: c.executionProvider,
      active: active?.provider ?? 'none',
      fallbackReason: active?.fallbackReason ?? null,
    };
  };

  let reportedProfiles = new Set<string>();
  const report = async (): Promise<void> => {
    const models = modelReport();
    // Reported properties merge: a profile no longer configured is removed explicitly.
    for (const gone of reportedProfiles) if (!(gone in models)) models[gone] = null;
    reportedProfiles = new Set(slots.keys());
    const patch = {
      runtime: { onnxruntimeVersion: ORT_VERSION, executionProvider: runtimeState, cudaDeviceId: config?.cudaDeviceId ?? 0 },
      models,
    };
    await edge.updateReported(patch).catch((err: unknown) => logger.warn({ err }, 'could not report model state'));
  };

  const alertFallback = async (c: InferencerConfig): Promise<void> => {
    if (runtimeState.fallbackReason === null) return;
    const key = `${c.executionProvider}|${runtimeState.fallbackReason}`;
    const line = { requested: c.executionProvider, active: runtimeState.active, reason: runtimeState.fallbackReason };
    if (c.executionProvider === 'cuda') logger.warn(line, 'CUDA was requested but is not used; inference runs on the CPU');
    else logger.info(line, 'CUDA is not available; inference runs on the CPU');
    // `auto` falling back is expected on a CPU device: reported, not alerted. An explicit `cuda` is alerted (once per reason).
    if (c.executionProvider !== 'cuda' || fallbackAlerted === key) return;
    fallbackAlerted = key;
    await sendAlert(
      edge,
      logger,
      {
        severity: 'warning',
        code: 'EXECUTION_PROVIDER_UNAVAILABLE',
        message: `executionProvider 'cuda' was requested but inference runs on the CPU: ${runtimeState.fallbackReason}`,
        details: { requested: 'cuda', active: runtimeState.active, onnxruntimeVersion: ORT_VERSION, reason: runtimeState.fallbackReason },
      },
      deps.now,
    );
  };

  const recordFailure = async (profile: string, entry: ModelEntry, err: unknown): Promise<ModelFailure> => {
    const failure: ModelFailure = { code: errorCode(err), message: errorMessage(err).slice(0, 1024), at: deps.now().toISOString(), attempted: describeEntry(entry) };
    const slot = slots.get(profile) ?? { current: undefined, lastError: undefined };
    slot.lastError = failure;
    slots.set(profile, slot);
    counts.swapFailures++;
    metrics.swaps.inc({ profile, outcome: 'refused' });
    const serving = slot.current === undefined ? 'no model serves this profile' : `${slot.current.entry.name}@${slot.current.entry.version} keeps serving`;
    logger.error({ err, profile, attempted: failure.attempted }, `model refused for profile ${profile}; ${serving}`);
    await sendAlert(
      edge,
      logger,
      { severity: 'error', code: failure.code, message: `model ${entry.name}@${entry.version} refused for profile ${profile} (${serving}): ${failure.message}`, details: { profile, attempted: failure.attempted } },
      deps.now,
    );
    return failure;
  };

  const swapIn = (candidate: LoadedModel): void => {
    const slot = slots.get(candidate.profile) ?? { current: undefined, lastError: undefined };
    const old = slot.current;
    // One assignment: a batch dispatched from now on runs on the candidate; batches already running hold `old`.
    slot.current = candidate;
    slot.lastError = undefined;
    slots.set(candidate.profile, slot);
    counts.swaps++;
    metrics.swaps.inc({ profile: candidate.profile, outcome: 'swapped' });
    logger.info(
      { profile: candidate.profile, name: candidate.entry.name, version: candidate.entry.version, sha256: candidate.sha256, provider: candidate.session.provider, previous: old === undefined ? null : `${old.entry.name}@${old.entry.version}` },
      'model swapped in',
    );
    if (old !== undefined) retire(old);
  };

  const serialised = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = modelChain.then(fn);
    modelChain = next.catch(() => undefined);
    return next;
  };

  const entryEquals = (a: ModelEntry, b: ModelEntry): boolean => a.name === b.name && a.version === b.version && a.uri === b.uri && a.sha256 === b.sha256;


  // ---- input handling --------------------------------------------------------------------------
  const deadLetter = async (msg: Partial<TensorMessage> | undefined, err: unknown): Promise<void> => {
    const code = errorCode(err);
    const reason = errorMessage(err).slice(0, 4000);
    counts.deadLettered++;
    metrics.failures.inc({ code });
    const id = typeof msg?.id === 'string' && /^[0-9a-f]{64}$/.test(msg.id) ? msg.id : undefined;
    const part = typeof msg?.part === 'string' && msg.part.length > 0 && msg.part.length <= 128 ? msg.part : undefined;
    const expected = Array.isArray(msg?.expectedParts) && msg.expectedParts.length > 0 && msg.expectedParts.every((p) => typeof p === 'string') ? msg.expectedParts : undefined;
    const limiter = shouldLog(`dead-letter:${code}`);
    if (limiter.log) logger.error({ err, id, part, code, suppressedSinceLast: limiter.suppressed }, `tensor dead-lettered: ${reason}`);
    if (id !== undefined && part !== undefined && expected !== undefined) {
      const completion = buildCompletion(moduleName, { id, part, expectedParts: expected }, 'deadLettered', { code, reason }, deps.now());
      try {
        await retry(() => edge.sendOutput('completed', completionOutput(completion)), { maxAttempts: 3, initialDelayMs: 200, signal: stopController.signal });
      } catch (sendErr: unknown) {
        logger.error({ err: sendErr, id, part }, 'could not send the dead-letter completion; the watcher will re-emit the source');
      }
    }
    await sendAlert(edge, logger, { severity: 'error', code, message: `tensor dead-lettered: ${reason}`, ...(id === undefined ? {} : { id }), details: { part: part ?? null, path: msg?.tensor?.path ?? null } }, deps.now);
  };

  /**
   * The tensor file is gone before it was read: staging is this suite's own area, so that is a
   * duplicate whose twin was already consumed (and its file deleted) or a cleaned volume — never the
   * source's fault. A `deferred` completion lets the watcher offer the source again if the part is
   * still missing (it ignores the deferral when the part is already uploaded).
   */
  const deferMissing = async (msg: TensorMessage): Promise<void> => {
    counts.deferred++;
    const completion = buildCompletion(
      moduleName,
      msg,
      'deferred',
      { code: 'FILE_NOT_FOUND', reason: `tensor file ${msg.tensor.path} is missing (already consumed by a duplicate, or staging was cleaned)`, retryAfterMs: MISSING_TENSOR_RETRY_MS },
      deps.now(),
    );
    const limiter = shouldLog('tensor-missing');
    if (limiter.log) logger.warn({ id: msg.id, part: msg.part, path: msg.tensor.path, suppressedSinceLast: limiter.suppressed }, 'tensor file missing; deferred back to the watcher');
    try {
      await edge.sendOutput('completed', completionOutput(completion));
    } catch (err: unknown) {
      logger.warn({ err, id: msg.id }, 'could not send the deferral; the watcher re-emits after its completion timeout');
    }
  };

  /** Reads and checks the tensor file against what the message declares. */
  const readTensor = async (msg: TensorMessage, model: LoadedModel, c: InferencerConfig): Promise<QueuedTensor> => {
    const file = await resolveInside(paths.root, msg.tensor.path, { mustBeFile: true });
    const st = await stat(file);
    if (st.size > c.maxTensorBytes + 65_536) throw new EdgeMLError('FILE_TOO_LARGE', `tensor file is ${st.size} bytes; maxTensorBytes is ${c.maxTensorBytes}`);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err: unknown) {
      throw new EdgeMLError('FILE_UNREADABLE', `tensor file ${msg.tensor.path} cannot be read: ${errorMessage(err)}`, { cause: err });
    }
    const actual = sha256(bytes);
    if (actual !== msg.tensor.sha256) throw new EdgeMLError('INPUT_MALFORMED', `tensor file ${msg.tensor.path} has SHA-256 ${actual}, the message says ${msg.tensor.sha256} (truncated or replaced)`);
    const npy = decodeNpy(bytes);
    if (npy.dtype !== msg.tensor.dtype || npy.shape.join(',') !== msg.tensor.shape.join(',')) {
      throw new EdgeMLError('TENSOR_MISMATCH', `tensor file holds ${npy.dtype}[${npy.shape.join(',')}], the message declares ${msg.tensor.dtype}[${msg.tensor.shape.join(',')}]`);
    }
    const item = itemShapeOf(npy.shape, model.manifest.inputs[0]!.shape.length);
    if (typeof item === 'string') throw new EdgeMLError('TENSOR_MISMATCH', item);
    return { message: msg, data: npy.data, itemShape: item };
  };

  const sendResult = async (msg: TensorMessage, r: { result: ItemResult; batchSize: number; queueMs: number }): Promise<void> => {
    const { model, post, inferMs } = r.result;
    const profile = msg.preprocessing.profile;
    const result: InferenceResultMessage = {
      schema: SCHEMAS.result,
      id: msg.id,
      messageId: deterministicMessageId(msg.id, profile, model.entry.name, model.entry.version),
      source: msg.source,
      part: msg.part,
      expectedParts: msg.expectedParts,
      model: { name: model.entry.name, version: model.entry.version, sha256: model.sha256 },
      runtime: { provider: model.session.provider, batchSize: r.batchSize, queueMs: Math.round(r.queueMs * 1000) / 1000, inferMs: Math.round(inferMs * 1000) / 1000 },
      outputs: post.outputs,
      createdAt: deps.now().toISOString(),
    };
    assertValidMessage(result);
    const properties: Record<string, string> = {
      schema: SCHEMAS.result,
      id: msg.id,
      part: msg.part,
      profile,
      model: model.entry.name,
      modelVersion: model.entry.version,
      provider: model.session.provider,
      ...(post.label === undefined ? {} : { label: post.label }),
      ...(post.score === undefined ? {} : { score: String(post.score) }),
    };
    await retry(() => edge.sendOutput('results', { body: result, messageId: result.messageId, properties }), {
      maxAttempts: 5,
      initialDelayMs: 200,
      classify: (err) => (errorCode(err) === 'MESSAGE_TOO_LARGE' ? 'fatal' : 'retry'),
      signal: stopController.signal,
    });
    counts.results++;
    metrics.results.inc({ profile, label: post.label ?? '-' });
  };

  const handleTensor = async (body: Buffer): Promise<void> => {
    counts.received++;
    let msg: TensorMessage;
    try {
      msg = parseMessage(body, SCHEMAS.tensor);
    } catch (err: unknown) {
      let partial: Partial<TensorMessage> | undefined;
      try {
        partial = JSON.parse(body.toString('utf8')) as Partial<TensorMessage>;
      } catch {
        partial = undefined; // not JSON at all: nothing to acknowledge, the alert and log say why
      }
      await deadLetter(typeof partial === 'object' && partial !== null ? partial : undefined, err);
      return;
    }
    const c = config!;
    let release: (() => void) | undefined;
    try {
      const profile = msg.preprocessing.profile;
      const model = slots.get(profile)?.current;
      if (model === undefined) throw new EdgeMLError('TENSOR_MISMATCH', `no model is configured for preprocessing profile ${profile} (configured: ${[...slots.keys()].join(', ') || 'none'})`);
      const why = tensorMismatch(msg, model.manifest);
      if (why !== undefined) throw new EdgeMLError('TENSOR_MISMATCH', why);
      const bytes = msg.tensor.shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[msg.tensor.dtype];
      if (bytes > c.maxTensorBytes) throw new EdgeMLError('FILE_TOO_LARGE', `tensor of ${bytes} bytes exceeds maxTensorBytes (${c.maxTensorBytes})`);
      const waited = admission.waiting > 0 || admission.items >= c.maxQueueItems || admission.bytes + bytes > c.maxQueueBytes;
      if (waited) {
        counts.backpressureWaits++;
        metrics.backpressure.inc();
        const limiter = shouldLog('backpressure');
        if (limiter.log) logger.warn({ items: admission.items, bytes: admission.bytes, maxQueueItems: c.maxQueueItems, maxQueueBytes: c.maxQueueBytes, waitsSinceLast: limiter.suppressed }, 'queue bound reached; intake waits');
      }
      release = await admission.acquire(bytes, stopController.signal);
      const tensor = await readTensor(msg, model, c);
      const key = `${profile}|${msg.tensor.dtype}|${tensor.itemShape.join('x')}`;
      const current = slots.get(profile)?.current ?? model;
      const cap = current.fixedBatchOne ? 1 : current.entry.maxBatchSize;
      const batched = await batcher.push(key, tensor, cap === undefined ? {} : { maxBatchSize: cap });
      await sendResult(msg, batched);
    } catch (err: unknown) {
      if (errorCode(err) === 'FILE_NOT_FOUND') {
        await deferMissing(msg);
      } else if (stopController.signal.aborted && errorCode(err) === 'ABORTED') {
        counts.retried++;
        logger.info({ id: msg.id, part: msg.part }, 'stopping: tensor left for re-emission by the watcher');
      } else if (errorCode(err) === 'EDGE_SEND_FAILED') {
        counts.retried++;
        metrics.failures.inc({ code: 'EDGE_SEND_FAILED' });
        logger.error({ err, id: msg.id, part: msg.part }, 'result could not be sent; the watcher will re-emit the source');
      } else {
        await deadLetter(msg, err);
      }
    } finally {
      release?.();
    }
  };

  const statusSnapshot = (): Record<string, unknown> => ({
    onnxruntimeVersion: ORT_VERSION,
    executionProvider: runtimeState,
    models: Object.fromEntries([...slots].map(([p, s]) => [p, s.current === undefined ? null : { name: s.current.entry.name, version: s.current.entry.version, provider: s.current.session.provider }])),
    queue: { depth: batcher.depth(), admittedItems: admission.items, admittedBytes: admission.bytes, waiting: admission.waiting, running: batcher.busy() },
    counts: { ...counts },
  });

  // ---- the app ---------------------------------------------------------------------------------
  const app: InferencerApp = {
    async configure(next, previous) {
      await serialised(async () => {
        if (previous === undefined) {
          // Downloads interrupted by a crash or a kill leave partial files; nothing in staging is ever reused.
          await rm(path.join(paths.models, STAGING_DIR), { recursive: true, force: true }).catch((err: unknown) => logger.warn({ err }, 'could not clear the model staging directory'));
        }
        if (previous === undefined && options.installBundled !== false) {
          try {
            const installed = await installBundledModels(paths.models);
            logger.info({ models: installed.map((m) => `${m.name}@${m.version}${m.installed ? ' (installed)' : ''}`) }, 'bundled models in the store');
          } catch (err: unknown) {
            logger.error({ err }, 'bundled models could not be installed into the store');
          }
        }
        const sessionChanged =
          previous === undefined ||
          previous.executionProvider !== next.executionProvider ||
          previous.cudaDeviceId !== next.cudaDeviceId ||
          previous.intraOpThreads !== next.intraOpThreads ||
          previous.interOpThreads !== next.interOpThreads;
        const toLoad = Object.entries(next.models).filter(([profile, entry]) => {
          const cur = slots.get(profile)?.current;
          return sessionChanged || cur === undefined || !entryEquals(cur.entry, entry);
        });
        // Load every candidate before swapping any: a twin change applies as a whole or not at all.
        const loaded: LoadedModel[] = [];
        const problems: string[] = [];
        for (const [profile, entry] of toLoad) {
          try {
            loaded.push(await loadCandidate(profile, entry, next));
          } catch (err: unknown) {
            const f = await recordFailure(profile, entry, err);
            problems.push(`/models/${profile}: ${f.code}: ${f.message}`);
          }
        }
        if (problems.length > 0 && previous !== undefined) {
          for (const m of loaded) await m.session.release().catch((err: unknown) => logger.warn({ err }, 'releasing an unused candidate failed'));
          // A profile this rejected change tried to add must not linger as "configured but not serving".
          for (const [profile, slot] of [...slots]) if (slot.current === undefined && previous.models[profile] === undefined) slots.delete(profile);
          await report();
          throw new EdgeMLError('MODEL_INVALID', problems.join('; '), { details: { problems } });
        }
        for (const m of loaded) swapIn(m);
        for (const [profile, entry] of Object.entries(next.models)) {
          const cur = slots.get(profile)?.current;
          // A change of maxBatchSize alone needs no reload.
          if (cur !== undefined && entryEquals(cur.entry, entry)) cur.entry = entry;
        }
        for (const [profile, slot] of [...slots]) {
          if (next.models[profile] !== undefined) continue;
          if (slot.current !== undefined) retire(slot.current);
          slots.delete(profile);
        }
        config = next;
        batcher.reconfigure({ maxBatchSize: next.maxBatchSize, maxQueueDelayMs: next.maxQueueDelayMs });
        admission.resize({ maxItems: next.maxQueueItems, maxBytes: next.maxQueueBytes });
        updateRuntimeState(next);
        await report();
        await alertFallback(next);
        if (started && previous?.statusIntervalMs !== next.statusIntervalMs) startStatusTimer();
      });
    },

    start() {
      if (config === undefined) return Promise.reject(new EdgeMLError('INTERNAL', 'start() before configure()'));
      edge.onInput('tensors', (message) => {
        if (stopping !== undefined) {
          counts.retried++;
          logger.info('stopping: tensor not taken; the watcher will re-emit the source');
          return Promise.resolve();
        }
        const p = handleTensor(message.body).catch((err: unknown) => logger.error({ err }, `tensor handler failed unexpectedly: ${errorMessage(err)}`));
        handlers.add(p);
        void p.finally(() => handlers.delete(p));
        return p;
      });
      edge.onMethod(
        'reloadModel',
        jsonMethod<{ profile?: string }>({ schema: RELOAD_SCHEMA, logger, handler: (payload) => app.reloadModel(payload.profile) }),
      );
      started = true;
      startStatusTimer();
      logger.info({ profiles: [...slots.keys()], provider: runtimeState.active, onnxruntimeVersion: ORT_VERSION }, 'inferencer started');
      return Promise.resolve();
    },

    stop(signal) {
      stopping ??= (async () => {
        if (statusTimer !== undefined) clearInterval(statusTimer);
        batcher.flush();
        const aborted = new Promise<void>((resolve) => {
          if (signal.aborted) resolve();
          else signal.addEventListener('abort', () => resolve(), { once: true });
        });
        await Promise.race([Promise.all([...handlers]).then(() => batcher.idle()), aborted]);
        stopController.abort();
        batcher.close();
        admission.close();
        await Promise.race([Promise.all([...handlers]), aborted]);
        await modelChain;
        for (const slot of slots.values()) if (slot.current !== undefined) retire(slot.current);
        logger.info({ counts }, 'inferencer stopped');
      })();
      return stopping;
    },

    status: statusSnapshot,

    ready() {
      const reasons: string[] = [];
      for (const [profile, slot] of slots) if (slot.current === undefined) reasons.push(`no model serves profile ${profile}${slot.lastError === undefined ? '' : `: ${slot.lastError.message}`}`);
      if (slots.size === 0) reasons.push('no models configured');
      return { ready: reasons.length === 0, reasons };
    },

    reloadModel(profile) {
      return serialised(async () => {
        const c = config;
        if (c === undefined) throw new EdgeMLError('INTERNAL', 'not configured yet');
        const profiles = profile === undefined ? Object.keys(c.models) : [profile];
        const out: Record<string, unknown> = {};
        const failures: string[] = [];
        for (const p of profiles) {
          const entry = c.models[p];
          if (entry === undefined) throw new EdgeMLError('METHOD_PAYLOAD_INVALID', `no model is configured for profile ${p} (configured: ${Object.keys(c.models).join(', ')})`);
          try {
            const m = await loadCandidate(p, entry, c);
            swapIn(m);
            out[p] = { outcome: 'swapped', name: m.entry.name, version: m.entry.version, sha256: m.sha256, provider: m.session.provider };
          } catch (err: unknown) {
            const f = await recordFailure(p, entry, err);
            failures.push(`${p}: ${f.code}: ${f.message}`);
            out[p] = { outcome: 'refused', code: f.code, message: f.message };
          }
        }
        updateRuntimeState(c);
        await report();
        if (failures.length > 0) throw new EdgeMLError('MODEL_INVALID', `reload refused, previous models keep serving: ${failures.join('; ')}`, { details: out });
        return out;
      });
    },

    serving(profile) {
      const m = slots.get(profile)?.current;
      return m === undefined ? undefined : { name: m.entry.name, version: m.entry.version, sha256: m.sha256, provider: m.session.provider };
    },
  };

  const startStatusTimer = (): void => {
    if (statusTimer !== undefined) clearInterval(statusTimer);
    const intervalMs = config?.statusIntervalMs ?? INFERENCER_DEFAULTS.statusIntervalMs;
    statusTimer = setInterval(() => {
      const s = statusSnapshot();
      edge.updateReported({ status: { queue: s['queue'], counts: s['counts'], at: deps.now().toISOString() } }).catch((err: unknown) => logger.warn({ err }, 'could not report status'));
    }, intervalMs);
    statusTimer.unref();
  };

  return app;
}
