/**
 * One batch through a session: run it, split every batched output into its items, post-process
 * each item. Runs where the session lives (the session worker), so the main thread receives small
 * post-processed results instead of whole output maps (a detector's is 1.6 MB per item).
 */
import { EdgeMLError, errorCode, errorMessage } from '@edgeml/shared';
import { postprocess } from '../postprocess/index.js';
import type { ItemTensor } from '../postprocess/types.js';
import type { BackendSession } from './ort.js';
import type { BatchRequest, BatchResponse, OutputTensor } from './types.js';

/** One item's outputs: every output whose first dimension is the batch is sliced; others are shared. */
export function sliceItem(outputs: readonly OutputTensor[], index: number, batch: number): ItemTensor[] {
  return outputs.map((o) => {
    if (o.dims[0] !== batch) return o;
    const per = o.data.length / batch;
    return { name: o.name, dtype: o.dtype, data: o.data.subarray(index * per, (index + 1) * per), dims: [1, ...o.dims.slice(1)] };
  });
}

/** @throws EdgeMLError INFERENCE_FAILED when the run itself fails (item failures are returned per item) */
export async function runBatchOn(session: BackendSession, request: BatchRequest): Promise<BatchResponse> {
  const batch = request.input.dims[0] ?? 0;
  if (batch !== request.geometries.length) throw new EdgeMLError('INTERNAL', `batch of ${batch} items carries ${request.geometries.length} geometries`);
  const t0 = performance.now();
  const outputs = await session.run(request.inputName, request.input);
  const t1 = performance.now();
  const items = request.geometries.map((geometry, i) => {
    try {
      return postprocess(request.postprocessor, sliceItem(outputs, i, batch), { labels: request.labels, geometry });
    } catch (err: unknown) {
      const code = errorCode(err);
      return { code: code === 'INTERNAL' ? 'INFERENCE_FAILED' : code, message: `post-processing failed: ${errorMessage(err)}` };
    }
  });
  return { inferMs: t1 - t0, postprocessMs: performance.now() - t1, items };
}
