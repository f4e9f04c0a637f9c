/**
 * Which execution provider a model runs on, decided by outcomes, never by error text:
 *
 * 1. Whether the CUDA provider loads at all is learnt once per device by opening a known-good
 *    model (identity-model.ts) with it — the probe. Only the probe's failure is remembered, so a
 *    missing CUDA library does not cost a failed dlopen on every later session.
 * 2. A model that fails on CUDA although the probe passed is tried on the CPU: if the CPU refuses
 *    it too, the model is at fault (MODEL_INVALID) and CUDA stays available; if the CPU takes it,
 *    that model alone falls back, with the reason reported.
 *
 * (Before, a corrupt model's load error matched the "CUDA unavailable" message pattern and switched
 * CUDA off for the life of the process.)
 */
import { EdgeMLError, errorMessage } from '@edgeml/shared';
import { identityModel } from './identity-model.js';
import type { BackendSession, SessionBackend } from './ort.js';
import type { ExecutionProviderName, SessionOptions } from './types.js';

/** What is known of the CUDA provider on one device. */
export type CudaState = { readonly state: 'unknown' } | { readonly state: 'available' } | { readonly state: 'unavailable'; readonly reason: string };

export const CUDA_UNKNOWN: CudaState = Object.freeze({ state: 'unknown' });

/**
 * What this process knows of CUDA, per device: a provider library that does not load does not come
 * back during the life of the process (and each failed probe prints ONNX Runtime's own error line),
 * so every session opened in this process — in any worker — starts from it.
 */
const processCuda = new Map<number, CudaState>();

export function knownCuda(deviceId: number): CudaState {
  return processCuda.get(deviceId) ?? CUDA_UNKNOWN;
}

/** Records what an open learnt (a probe's outcome); `unknown` changes nothing. */
export function learnCuda(deviceId: number, state: CudaState): void {
  if (state.state !== 'unknown') processCuda.set(deviceId, state);
}

/** Test hook: forget what the CUDA probe learnt (a GPU test machine may try again). */
export function resetCudaProbe(): void {
  processCuda.clear();
}

export interface OpenedSession {
  readonly session: BackendSession;
  readonly provider: ExecutionProviderName;
  readonly fallbackReason: string | undefined;
  /** The CUDA state after this open (the probe may have run); the caller keeps it for the next open. */
  readonly cuda: CudaState;
}

const PROBE_MODEL = identityModel([1]);

/** Opens the probe model on CUDA. */
export async function probeCuda(backend: SessionBackend, options: SessionOptions): Promise<CudaState> {
  try {
    const probe = await backend.create(PROBE_MODEL, 'cuda', options);
    await probe.release();
    return { state: 'available' };
  } catch (err: unknown) {
    return { state: 'unavailable', reason: errorMessage(err) };
  }
}

async function openOnCpu(backend: SessionBackend, modelPath: string, options: SessionOptions): Promise<BackendSession> {
  try {
    return await backend.create(modelPath, 'cpu', options);
  } catch (err: unknown) {
    throw new EdgeMLError('MODEL_INVALID', `model ${modelPath} cannot be loaded: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * Opens `modelPath` on the provider `options.executionProvider` asks for (`auto` and `cuda` try
 * CUDA first), given what is known of CUDA on that device.
 * @throws EdgeMLError MODEL_INVALID when the model loads on no provider
 */
export async function openModelSession(backend: SessionBackend, modelPath: string, options: SessionOptions, known: CudaState): Promise<OpenedSession> {
  if (options.executionProvider === 'cpu') {
    return { session: await openOnCpu(backend, modelPath, options), provider: 'cpu', fallbackReason: undefined, cuda: known };
  }
  const cuda = known.state === 'unknown' ? await probeCuda(backend, options) : known;
  if (cuda.state === 'unavailable') {
    return { session: await openOnCpu(backend, modelPath, options), provider: 'cpu', fallbackReason: `CUDA execution provider could not be loaded: ${cuda.reason}`, cuda };
  }
  let cudaFailure: unknown;
  try {
    return { session: await backend.create(modelPath, 'cuda', options), provider: 'cuda', fallbackReason: undefined, cuda };
  } catch (err: unknown) {
    cudaFailure = err;
  }
  // The provider works (the probe ran on it): the CPU tells whether the model itself is at fault.
  const session = await openOnCpu(backend, modelPath, options);
  return { session, provider: 'cpu', fallbackReason: `the CUDA execution provider loads, but not this model: ${errorMessage(cudaFailure)}`, cuda };
}
