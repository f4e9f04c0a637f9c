/**
 * Runs one batch: takes the model serving the profile, checks every tensor against it again (the
 * model may have been swapped since the tensor was admitted), and hands the batch to the model's
 * session (a worker thread), which reads every tensor file straight into one batch buffer, runs the
 * batch and post-processes each item. Nothing of a tensor's data passes through the main thread.
 */
import { EdgeMLError, ERROR_CODES, type ErrorCode, type ImageGeometry, type TensorMessage } from '@edgeml/shared';
import type { ModelServing } from './models/serving.js';
import type { ResultModel } from './outputs.js';
import type { PostprocessResult } from './postprocess/types.js';
import { isItemFailure } from './session/types.js';
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
}

/** Batcher keys: `<profile>|<dtype>|<item shape>`; the profile is the lane (one session). */
export function batchKey(profile: string, dtype: string, itemShape: readonly number[]): string {
  return `${profile}|${dtype}|${itemShape.join('x')}`;
}

export function profileOfKey(key: string): string {
  return key.slice(0, key.indexOf('|'));
}

const asCode = (code: string): ErrorCode => (code in ERROR_CODES ? (code as ErrorCode) : 'INFERENCE_FAILED');

export function createBatchRunner(serving: ModelServing, metrics: InferencerMetrics) {
  return async (key: string, items: readonly QueuedTensor[]): Promise<(ItemResult | Error)[]> => {
    const profile = profileOfKey(key);
    const model = serving.acquire(profile);
    if (model === undefined) return items.map(() => new EdgeMLError('TENSOR_MISMATCH', `no model serves profile ${profile} any more`));
    try {
      const out: (ItemResult | Error | undefined)[] = items.map((t) => {
        const why = tensorMismatch(t.message, model.manifest);
        return why === undefined ? undefined : new EdgeMLError('TENSOR_MISMATCH', why);
      });
      const runnable = items.map((_, i) => i).filter((i) => out[i] === undefined);
      const first = items[runnable[0] ?? -1];
      if (first === undefined) return out as Error[];
      const response = await model.session.runFiles({
        inputName: model.inputName,
        dtype: first.message.tensor.dtype,
        itemShape: first.itemShape,
        items: runnable.map((i) => {
          const t = items[i]!;
          return { file: t.file, tensor: t.message.tensor, verifySha256: t.verifySha256, geometry: t.message.preprocessing.geometry as ImageGeometry | undefined };
        }),
        postprocessor: model.manifest.postprocessor,
        labels: model.manifest.labels ?? [],
      });
      if (response.inferMs > 0) metrics.inferTime.observe({ profile, provider: model.session.provider }, response.inferMs / 1000);
      metrics.postprocessTime.observe({ profile }, response.postprocessMs / 1000);
      const resultModel: ResultModel = { name: model.name, version: model.version, sha256: model.sha256, digest: model.digest, provider: model.session.provider };
      runnable.forEach((i, n) => {
        const item = response.items[n];
        if (item === undefined) out[i] = new EdgeMLError('INTERNAL', `the session returned ${response.items.length} results for ${runnable.length} items`);
        else if (isItemFailure(item)) out[i] = new EdgeMLError(asCode(item.code), item.message);
        else out[i] = { model: resultModel, post: item, inferMs: response.inferMs };
      });
      return out as (ItemResult | Error)[];
    } finally {
      serving.release(model);
    }
  };
}
