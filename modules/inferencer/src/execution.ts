/**
 * Runs one batch: takes the model serving the profile, checks every tensor against it again (the
 * model may have been swapped since the tensor was admitted), reads every tensor file straight into
 * its slot of one batch buffer, and hands the batch to the model's session (a worker thread), which
 * runs it and post-processes each item.
 */
import { EdgeMLError, type ImageGeometry, type TensorMessage } from '@edgeml/shared';
import type { ModelServing } from './models/serving.js';
import type { ResultModel } from './outputs.js';
import type { PostprocessResult } from './postprocess/types.js';
import { isItemFailure } from './session/types.js';
import type { InferencerMetrics } from './status.js';
import { BYTES_PER_ELEMENT, tensorMismatch } from './tensor-checks.js';
import { readTensorInto } from './tensor-file.js';

/** A tensor admitted and waiting for its batch (its file is read when the batch is prepared). */
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

/** Bytes of batch buffers kept for reuse, at most (beyond it a returned buffer is left to the GC). */
const POOLED_BYTES_MAX = 64 * 1024 * 1024;

/** Batch buffers handed back by the session worker, kept for the next batch of the same size. */
class BufferPool {
  readonly #free = new Map<number, ArrayBuffer[]>();
  #bytes = 0;

  take(byteLength: number): ArrayBuffer {
    const b = this.#free.get(byteLength)?.pop();
    if (b === undefined) return new ArrayBuffer(byteLength);
    this.#bytes -= byteLength;
    return b;
  }

  give(buffer: ArrayBufferLike | undefined): void {
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0 || this.#bytes + buffer.byteLength > POOLED_BYTES_MAX) return;
    const list = this.#free.get(buffer.byteLength) ?? [];
    // A few per size: the batches in flight per model, plus one.
    if (list.length >= 4) return;
    list.push(buffer);
    this.#free.set(buffer.byteLength, list);
    this.#bytes += buffer.byteLength;
  }
}

export function createBatchRunner(serving: ModelServing, metrics: InferencerMetrics) {
  const buffers = new BufferPool();
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
      const dtype = first.message.tensor.dtype;
      const itemBytes = first.itemShape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[dtype];
      const buffer = buffers.take(itemBytes * runnable.length);
      const read = await Promise.allSettled(runnable.map((i, slot) => readTensorInto(items[i]!.file, items[i]!.message.tensor, new Uint8Array(buffer, slot * itemBytes, itemBytes), { verifySha256: items[i]!.verifySha256 })));
      // Items whose file failed leave a hole: close it so the run sees only good items.
      const good: number[] = [];
      read.forEach((r, slot) => {
        const i = runnable[slot]!;
        if (r.status === 'rejected') {
          out[i] = r.reason instanceof Error ? r.reason : new EdgeMLError('INTERNAL', String(r.reason));
          return;
        }
        if (good.length !== slot) new Uint8Array(buffer).copyWithin(good.length * itemBytes, slot * itemBytes, (slot + 1) * itemBytes);
        good.push(i);
      });
      if (good.length === 0) return out as Error[];
      const bytes = good.length === runnable.length ? buffer : buffer.slice(0, good.length * itemBytes);
      if (bytes !== buffer) buffers.give(buffer);
      const response = await model.session.runBatch({
        inputName: model.inputName,
        input: { dtype, data: dtype === 'float32' ? new Float32Array(bytes) : new Uint8Array(bytes), dims: [good.length, ...first.itemShape] },
        postprocessor: model.manifest.postprocessor,
        labels: model.manifest.labels ?? [],
        geometries: good.map((i) => items[i]!.message.preprocessing.geometry as ImageGeometry | undefined),
      });
      buffers.give(response.input?.buffer);
      metrics.inferTime.observe({ profile, provider: model.session.provider }, response.inferMs / 1000);
      metrics.postprocessTime.observe({ profile }, response.postprocessMs / 1000);
      const resultModel: ResultModel = { name: model.entry.name, version: model.entry.version, sha256: model.sha256, provider: model.session.provider };
      good.forEach((i, n) => {
        const item = response.items[n];
        if (item === undefined) out[i] = new EdgeMLError('INTERNAL', `the session returned ${response.items.length} results for ${good.length} items`);
        else if (isItemFailure(item)) out[i] = new EdgeMLError(item.code === 'MODEL_INVALID' ? 'MODEL_INVALID' : 'INFERENCE_FAILED', item.message);
        else out[i] = { model: resultModel, post: item, inferMs: response.inferMs };
      });
      return out as (ItemResult | Error)[];
    } finally {
      serving.release(model);
    }
  };
}
