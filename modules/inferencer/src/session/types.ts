/**
 * What the rest of the inferencer knows of a model session, wherever it runs (a worker thread in
 * the module, the calling thread in the self-check): its signature, the provider that actually runs
 * it and why a fallback happened, and two verbs — a raw run and a batch run that also slices and
 * post-processes every item.
 */
import type { ImageGeometry } from '@edgeml/shared';
import type { PostprocessorSpec, PostprocessResult } from '../postprocess/types.js';
import type { TensorRef } from '../tensor-file.js';

export type ExecutionProviderChoice = 'auto' | 'cuda' | 'cpu';
export type ExecutionProviderName = 'cuda' | 'cpu';

export interface SessionOptions {
  readonly executionProvider: ExecutionProviderChoice;
  readonly cudaDeviceId: number;
  /** 0 lets ONNX Runtime decide (one thread per physical core). */
  readonly intraOpThreads: number;
  readonly interOpThreads: number;
}

/** One model input or output as the model itself declares it; dynamic dimensions are -1. */
export interface TensorSignature {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
}

export type TensorData = Float32Array | Uint8Array;

export interface SessionTensor {
  readonly dtype: 'float32' | 'uint8';
  readonly data: TensorData;
  readonly dims: readonly number[];
}

export interface OutputTensor {
  readonly name: string;
  readonly dtype: string;
  readonly data: Float32Array | Uint8Array | Int32Array | BigInt64Array | Float64Array;
  readonly dims: readonly number[];
}

/** A batch to run: the stacked input and what each item's post-processing needs. */
export interface BatchRequest {
  readonly inputName: string;
  /** `dims[0]` is the number of items; the data may be transferred to another thread (do not reuse it). */
  readonly input: SessionTensor;
  readonly postprocessor: PostprocessorSpec;
  readonly labels: readonly string[];
  /** Per item, in order: the tensor's geometry (detectors map boxes back to source pixels). */
  readonly geometries: readonly (ImageGeometry | undefined)[];
  /** Per item, in order: a table window's first row (anomaly scores name table rows); absent for images. */
  readonly firstRows?: readonly (number | undefined)[];
}

/** One tensor of a batch, read from its file where the session runs (tensor-file.ts). */
export interface FileItem {
  /** Absolute, resolved path of the `.npy`. */
  readonly file: string;
  readonly tensor: TensorRef;
  /** True for a file outside the suite's staging area. */
  readonly verifySha256: boolean;
  readonly geometry: ImageGeometry | undefined;
  /** A table window's first row. */
  readonly firstRow?: number | undefined;
}

/** A batch whose tensors are read from their files, straight into one batch buffer, where the session runs. */
export interface FilesBatchRequest {
  readonly inputName: string;
  readonly dtype: 'float32' | 'uint8';
  /** Shape of one item, without the batch dimension. */
  readonly itemShape: readonly number[];
  readonly items: readonly FileItem[];
  readonly postprocessor: PostprocessorSpec;
  readonly labels: readonly string[];
}

/** A failure of one item (its file, or its post-processing); the rest of the batch is unaffected. */
export interface ItemFailure {
  readonly code: string;
  readonly message: string;
}

export interface BatchResponse {
  /** Time of the model run alone, in ms. */
  readonly inferMs: number;
  /** Time of reading the items' files (files batches only), in ms. */
  readonly readMs?: number;
  /** Time of slicing and post-processing every item, in ms. */
  readonly postprocessMs: number;
  readonly items: readonly (PostprocessResult | ItemFailure)[];
}

export interface ModelSession {
  /** The provider that actually runs this session. */
  readonly provider: ExecutionProviderName;
  /** Why CUDA is not used although it was asked for (explicitly or by `auto`); undefined otherwise. */
  readonly fallbackReason: string | undefined;
  readonly inputs: readonly TensorSignature[];
  readonly outputs: readonly TensorSignature[];
  /** Sessions of this model side by side (session/replicas.ts); runs go to the least busy. */
  readonly replicas: number;
  /** Runs the model on one input. @throws EdgeMLError INFERENCE_FAILED */
  run(inputName: string, input: SessionTensor): Promise<OutputTensor[]>;
  /**
   * Runs a batch, slices it per item and post-processes each; `replica` (0-based) picks the session
   * (a warm-up warms each), otherwise the least busy runs it. @throws EdgeMLError INFERENCE_FAILED (the whole run failed)
   */
  runBatch(request: BatchRequest, replica?: number): Promise<BatchResponse>;
  /**
   * Reads each item's tensor file into one batch buffer, runs the items that read well, post-processes
   * each; one result or failure per item, in order. @throws EdgeMLError INFERENCE_FAILED (the whole run failed)
   */
  runFiles(request: FilesBatchRequest): Promise<BatchResponse>;
  /** Frees the native session. Idempotent. */
  release(): Promise<void>;
}

/** True for an item of a {@link BatchResponse} that failed. */
export function isItemFailure(item: PostprocessResult | ItemFailure): item is ItemFailure {
  return typeof (item as ItemFailure).code === 'string' && (item as PostprocessResult).outputs === undefined;
}
