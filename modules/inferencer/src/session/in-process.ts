/**
 * A session on the calling thread, for the container self-check and tests of the session layer;
 * the module itself runs its sessions in the worker pool (pool.ts). Same provider selection.
 */
import { BatchBuffers, runBatchOn, runFilesOn } from './batch-core.js';
import { knownCuda, learnCuda, openModelSession } from './open.js';
import { ORT_BACKEND, type SessionBackend } from './ort.js';
import type { ModelSession, SessionOptions } from './types.js';

/**
 * Opens `modelPath` on this thread. `cuda` and `auto` try CUDA first and fall back to the CPU with
 * the reason in `fallbackReason`.
 * @throws EdgeMLError MODEL_INVALID when the model loads on no provider
 */
export async function openSession(modelPath: string, options: SessionOptions, backend: SessionBackend = ORT_BACKEND): Promise<ModelSession> {
  const opened = await openModelSession(backend, modelPath, options, knownCuda(options.cudaDeviceId));
  learnCuda(options.cudaDeviceId, opened.cuda);
  const s = opened.session;
  const buffers = new BatchBuffers();
  return {
    provider: opened.provider,
    fallbackReason: opened.fallbackReason,
    inputs: s.inputs,
    outputs: s.outputs,
    run: (inputName, input) => s.run(inputName, input),
    runBatch: (request) => runBatchOn(s, request),
    runFiles: (request) => runFilesOn(s, request, buffers),
    release: () => s.release(),
  };
}
