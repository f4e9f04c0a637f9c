// Worker-thread entry of the tensor pool (tensor-pool.ts): builds tensor files off the main thread.
import { parentPort } from 'node:worker_threads';
import { buildTensorFile, type TensorFileJob } from './tensor-file.js';

/** A request from the pool. */
export interface TensorWorkerRequest {
  readonly id: number;
  readonly job: TensorFileJob;
}

/**
 * The answer: the file (its buffer transferred back), or why it could not be built; either way the
 * pixels' buffer goes back too, for reuse.
 */
export type TensorWorkerResponse =
  | { readonly id: number; readonly ok: true; readonly buffer: ArrayBuffer; readonly sha256: string; readonly pixels: ArrayBuffer }
  | { readonly id: number; readonly ok: false; readonly message: string; readonly pixels: ArrayBuffer };

const port = parentPort;
if (port === null) throw new Error('tensor-worker.ts runs as a worker thread');
port.on('message', (request: TensorWorkerRequest) => {
  const pixels = request.job.pixels.data.buffer as ArrayBuffer;
  let response: TensorWorkerResponse;
  try {
    const file = buildTensorFile(request.job);
    response = { id: request.id, ok: true, buffer: file.buffer, sha256: file.sha256, pixels };
  } catch (err: unknown) {
    response = { id: request.id, ok: false, message: err instanceof Error ? err.message : String(err), pixels };
  }
  port.postMessage(response, response.ok ? [response.buffer, pixels] : [pixels]);
});
