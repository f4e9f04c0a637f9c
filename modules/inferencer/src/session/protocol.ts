/**
 * Messages between the main thread and a session worker. Every request carries an id; the worker
 * answers each exactly once. A message carries an array: the requests of one event-loop turn
 * (worker-host.ts), the answers held together (run-queue.ts). Tensor data travels as transferred
 * ArrayBuffers (no copy).
 */
import type { CudaState } from './open.js';
import type { BatchRequest, BatchResponse, ExecutionProviderName, FilesBatchRequest, OutputTensor, SessionOptions, SessionTensor, TensorSignature } from './types.js';

export type WorkerRequest =
  | { readonly id: number; readonly op: 'open'; readonly modelPath: string; readonly options: SessionOptions; readonly cuda: CudaState }
  | { readonly id: number; readonly op: 'run'; readonly sessionId: number; readonly inputName: string; readonly input: SessionTensor }
  | { readonly id: number; readonly op: 'runBatch'; readonly sessionId: number; readonly request: BatchRequest }
  | { readonly id: number; readonly op: 'runFiles'; readonly sessionId: number; readonly request: FilesBatchRequest }
  | { readonly id: number; readonly op: 'release'; readonly sessionId: number };

export interface OpenReply {
  readonly sessionId: number;
  readonly provider: ExecutionProviderName;
  readonly fallbackReason: string | undefined;
  readonly inputs: readonly TensorSignature[];
  readonly outputs: readonly TensorSignature[];
  readonly cuda: CudaState;
}

export type WorkerReplyValue = OpenReply | OutputTensor[] | BatchResponse | null;

export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly value: WorkerReplyValue }
  | { readonly id: number; readonly ok: false; readonly error: { readonly code: string; readonly message: string } };

/**
 * The ArrayBuffers of typed arrays that may be moved to the worker: only a view that covers its
 * whole buffer (a batch buffer built for this run); a view into a larger buffer (Node's Buffer pool,
 * a caller's array) is copied instead, since moving it would detach memory someone else uses.
 */
export function transferables(arrays: readonly ArrayBufferView[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const a of arrays) {
    if (a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength) out.add(a.buffer);
  }
  return [...out];
}
