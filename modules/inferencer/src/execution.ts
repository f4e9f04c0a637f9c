/**
 * Runs one batch: takes the model serving the profile, checks every tensor against it again (the
 * model may have been swapped since the tensor was admitted), and hands the batch to the model's
 * session (a worker thread), which reads every tensor file straight into one batch buffer, runs the
 * batch and post-processes each item. Nothing of a tensor's data passes through the main thread.
 */
import { EdgeMLError, ERROR_CODES, type ErrorCode, type ImageGeometry, type ResultComparison, type TensorMessage } from '@edgeml/shared';
import { effectiveBatching } from './batching.js';
import type { LoadedModel, ModelServing } from './models/serving.js';
import { agrees } from './rollout/compare.js';
import type { RolloutManager } from './rollout/manager.js';
import type { ResultModel } from './outputs.js';
import type { PostprocessResult } from './postprocess/types.js';
import { isItemFailure, type BatchResponse } from './session/types.js';
import type { InferencerMetrics } from './status.js';
import { tensorMismatch } from './tensor-checks.js';

/** A tensor admitted and waiting for its batch (its file is read when the batch runs). */
export interface QueuedTensor {
  readonly message: TensorMessage;
  /** Absolute, resolved path of the tensor file. */
  readonly file: string;
  /** Shape of one item, without the batch dimension. */
  readonly itemShape: readonly number[];
  /** True for a file outside the suite's staging area (tensor-file.ts says why). */
  readonly verifySha256: boolean;
}

export interface ItemResult {
  readonly model: ResultModel;
  readonly post: PostprocessResult;
  readonly inferMs: number;
  /** A rollout candidate (shadow) or the live model (canary) on the same item: its answer and whether it agrees. */
  readonly comparison?: ResultComparison;
}

/** Batcher keys: `<profile>|<dtype>|<item shape>`; the profile is the lane (one session). */
export function batchKey(profile: string, dtype: string, itemShape: readonly number[]): string {
  return `${profile}|${dtype}|${itemShape.join('x')}`;
}

export function profileOfKey(key: string): string {
  return key.slice(0, key.indexOf('|'));
}

const asCode = (code: string): ErrorCode => (code in ERROR_CODES ? (code as ErrorCode) : 'INFERENCE_FAILED');

const resultModelOf = (m: LoadedModel): ResultModel => ({ name: m.name, version: m.version, sha256: m.sha256, digest: m.digest, provider: m.session.provider });

/** One model's run of some items of the batch, read from their files in the session worker. */
function runOn(model: LoadedModel, items: readonly QueuedTensor[], indexes: readonly number[]): Promise<BatchResponse> {
  const first = items[indexes[0]!]!;
  return model.session.runFiles({
    inputName: model.inputName,
    dtype: first.message.tensor.dtype,
    itemShape: first.itemShape,
    items: indexes.map((i) => {
      const t = items[i]!;
      return { file: t.file, tensor: t.message.tensor, verifySha256: t.verifySha256, geometry: t.message.preprocessing.geometry as ImageGeometry | undefined, firstRow: t.message.preprocessing.rows?.first };
    }),
    postprocessor: model.manifest.postprocessor,
    labels: model.manifest.labels ?? [],
  });
}

/** A candidate's run of the sampled items, in batches it accepts (a model fixed at batch 1 runs them one by one). */
async function runInChunks(model: LoadedModel, items: readonly QueuedTensor[], indexes: readonly number[]): Promise<BatchResponse> {
  const size = effectiveBatching({ ...model, provider: model.session.provider }, { maxBatchSize: indexes.length }).maxBatchSize;
  if (size >= indexes.length) return runOn(model, items, indexes);
  const parts: BatchResponse[] = [];
  for (let i = 0; i < indexes.length; i += size) parts.push(await runOn(model, items, indexes.slice(i, i + size)));
  return { inferMs: parts.reduce((a, p) => a + p.inferMs, 0), postprocessMs: parts.reduce((a, p) => a + p.postprocessMs, 0), items: parts.flatMap((p) => p.items) };
}

/**
 * Runs batches on the model serving each profile. When a rollout runs for the profile, the sampled
 * items run on the candidate too, at the same time (both read the same tensor files): in `shadow`
 * the live model's results are sent and the candidate's only compared; in `canary` the candidate's
 * are sent (the live model's answer to the same items is the comparison, and the fallback when the
 * candidate fails on an item, so no item fails because of a candidate).
 */
export function createBatchRunner(
  serving: ModelServing,
  metrics: InferencerMetrics,
  rollout?: Pick<RolloutManager, 'active' | 'sampled' | 'observe'>,
  /** Told each live run's time (the batcher's depth per model follows it: lane-depth.ts). */
  observeRun?: (profile: string, inferMs: number) => void,
) {
  return async (key: string, items: readonly QueuedTensor[]): Promise<(ItemResult | Error)[]> => {
    const profile = profileOfKey(key);
    const model = serving.acquire(profile);
    if (model === undefined) return items.map(() => new EdgeMLError('TENSOR_MISMATCH', `no model serves profile ${profile} any more`));
    const active = rollout?.active(profile);
    const candidate = active?.candidate;
    if (candidate !== undefined) serving.hold(candidate);
    try {
      const out: (ItemResult | Error | undefined)[] = items.map((t) => {
        const why = tensorMismatch(t.message, model.manifest);
        return why === undefined ? undefined : new EdgeMLError('TENSOR_MISMATCH', why);
      });
      const runnable = items.map((_, i) => i).filter((i) => out[i] === undefined);
      if (runnable.length === 0) return out as Error[];
      const sampled = active === undefined || candidate === undefined ? [] : runnable.filter((i) => rollout!.sampled(active, items[i]!.message.id) && tensorMismatch(items[i]!.message, candidate.manifest) === undefined);
      const [response, candidateRun] = await Promise.all([
        runOn(model, items, runnable),
        sampled.length === 0 ? undefined : runInChunks(candidate!, items, sampled).then((r) => r, (err: unknown) => (err instanceof Error ? err : new Error(String(err)))),
      ]);
      if (response.inferMs > 0) {
        metrics.inferTime.observe({ profile, provider: model.session.provider }, response.inferMs / 1000);
        observeRun?.(profile, response.inferMs);
      }
      metrics.postprocessTime.observe({ profile }, response.postprocessMs / 1000);
      const resultModel = resultModelOf(model);
      runnable.forEach((i, n) => {
        const item = response.items[n];
        if (item === undefined) out[i] = new EdgeMLError('INTERNAL', `the session returned ${response.items.length} results for ${runnable.length} items`);
        else if (isItemFailure(item)) out[i] = new EdgeMLError(asCode(item.code), item.message);
        else out[i] = { model: resultModel, post: item, inferMs: response.inferMs };
      });
      if (active !== undefined && candidateRun !== undefined) {
        const failedWhole = candidateRun instanceof Error;
        const outcomes: (boolean | 'failed')[] = [];
        sampled.forEach((i, n) => {
          const live = out[i];
          const item = failedWhole ? undefined : candidateRun.items[n];
          // A score that is not a number (NaN from a broken model) is a failure of the candidate.
          if (item === undefined || isItemFailure(item) || (item.score !== undefined && !Number.isFinite(item.score))) {
            if (!(live instanceof Error)) outcomes.push('failed');
            return;
          }
          // An item the live model failed on is the item's fault, not a disagreement.
          if (live === undefined || live instanceof Error) return;
          const agreed = agrees(live.post, item);
          outcomes.push(agreed);
          const answer = (m: LoadedModel, p: typeof item): ResultComparison => ({
            mode: active.spec.mode,
            model: { name: m.name, version: m.version, sha256: m.sha256, digest: m.digest },
            agrees: agreed,
            ...(p.label === undefined ? {} : { label: p.label }),
            ...(p.score === undefined || !Number.isFinite(p.score) ? {} : { score: p.score }),
          });
          out[i] =
            active.spec.mode === 'canary'
              ? { model: resultModelOf(candidate!), post: item, inferMs: (candidateRun as BatchResponse).inferMs, comparison: answer(model, live.post) }
              : { ...live, comparison: answer(candidate!, item) };
        });
        void rollout!.observe(active, {
          outcomes,
          liveMs: response.inferMs,
          liveItems: runnable.length,
          candidateMs: failedWhole ? 0 : candidateRun.inferMs,
          candidateItems: failedWhole ? 0 : sampled.length,
        });
      }
      return out as (ItemResult | Error)[];
    } finally {
      serving.release(model);
      if (candidate !== undefined) serving.release(candidate);
    }
  };
}
