/**
 * One batch through a session: run it, split every batched output into its items, post-process
 * each item. Runs where the session lives (the session worker), so the main thread receives small
 * post-processed results instead of whole output maps (a detector's is 1.6 MB per item).
 */
import { EdgeMLError, errorCode, errorMessage } from '@edgeml/shared';
import { postprocess } from '../postprocess/index.js';
import type { ItemTensor, PostprocessResult } from '../postprocess/types.js';
import { BYTES_PER_ELEMENT } from '../tensor-checks.js';
import { readTensorInto } from '../tensor-file.js';
import type { BackendSession } from './ort.js';
import type { BatchRequest, BatchResponse, FilesBatchRequest, ItemFailure, OutputTensor } from './types.js';

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
      return postprocess(request.postprocessor, sliceItem(outputs, i, batch), { labels: request.labels, geometry, firstRow: request.firstRows?.[i] });
    } catch (err: unknown) {
      const code = errorCode(err);
      return { code: code === 'INTERNAL' ? 'INFERENCE_FAILED' : code, message: `post-processing failed: ${errorMessage(err)}` };
    }
  });
  return { inferMs: t1 - t0, postprocessMs: performance.now() - t1, items };
}

/**
 * Batch buffers of the thread that runs the sessions, kept for the next batches of the same size
 * (allocating and zero-filling a new one per batch cost more than the reads it serves). Several per
 * size: the batches in flight to the worker are each read into their own buffer before the runs
 * queued behind one another start, and a buffer allocated per batch meant page faults, a memset and,
 * through V8's external-memory accounting, extra garbage collections in the worker.
 */
export class BatchBuffers {
  readonly #free = new Map<number, ArrayBuffer[]>();
  #bytes = 0;

  /** At most this many bytes are kept (beyond it, a buffer is left to the garbage collector). */
  constructor(readonly maxBytes = 64 * 1024 * 1024) {}

  take(byteLength: number): ArrayBuffer {
    const b = this.#free.get(byteLength)?.pop();
    if (b === undefined) return new ArrayBuffer(byteLength);
    this.#bytes -= byteLength;
    return b;
  }

  give(buffer: ArrayBuffer): void {
    if (this.#bytes + buffer.byteLength > this.maxBytes) return;
    let list = this.#free.get(buffer.byteLength);
    if (list === undefined) {
      list = [];
      this.#free.set(buffer.byteLength, list);
    }
    list.push(buffer);
    this.#bytes += buffer.byteLength;
  }
}

/**
 * Reads every item's file into its slot of one batch buffer, closes the holes left by items that
 * failed to read, runs the rest and post-processes them. One result or failure per item, in order.
 * @throws EdgeMLError INFERENCE_FAILED when the run itself fails
 */
export async function runFilesOn(session: BackendSession, request: FilesBatchRequest, buffers: BatchBuffers): Promise<BatchResponse> {
  const itemBytes = request.itemShape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[request.dtype];
  const buffer = buffers.take(itemBytes * request.items.length);
  try {
    const t0 = performance.now();
    const out: (PostprocessResult | ItemFailure | undefined)[] = request.items.map(() => undefined);
    const good: number[] = [];
    request.items.forEach((item, i) => {
      const slot = good.length;
      try {
        readTensorInto(item.file, item.tensor, new Uint8Array(buffer, slot * itemBytes, itemBytes), { verifySha256: item.verifySha256 });
        good.push(i);
      } catch (err: unknown) {
        out[i] = { code: errorCode(err), message: errorMessage(err) };
      }
    });
    const readMs = performance.now() - t0;
    if (good.length === 0) return { inferMs: 0, postprocessMs: 0, readMs, items: out as ItemFailure[] };
    const elements = (good.length * itemBytes) / BYTES_PER_ELEMENT[request.dtype];
    const data = request.dtype === 'float32' ? new Float32Array(buffer, 0, elements) : new Uint8Array(buffer, 0, elements);
    const response = await runBatchOn(session, {
      inputName: request.inputName,
      input: { dtype: request.dtype, data, dims: [good.length, ...request.itemShape] },
      postprocessor: request.postprocessor,
      labels: request.labels,
      geometries: good.map((i) => request.items[i]!.geometry),
      firstRows: good.map((i) => request.items[i]!.firstRow),
    });
    good.forEach((i, n) => {
      out[i] = response.items[n] ?? { code: 'INTERNAL', message: `the run returned ${response.items.length} results for ${good.length} items` };
    });
    return { inferMs: response.inferMs, postprocessMs: response.postprocessMs, readMs, items: out as (PostprocessResult | ItemFailure)[] };
  } finally {
    buffers.give(buffer);
  }
}
