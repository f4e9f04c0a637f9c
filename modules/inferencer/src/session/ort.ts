/**
 * The only file that imports onnxruntime-node: it opens a session with one named execution provider
 * and runs it (users of GPU inference are most often hurt by a CUDA provider that silently did not
 * load: onnxruntime #7484, #6124; iotedge #3959 — so which provider runs is always reported). Which provider to ask for, and what a failure means, is decided in open.ts from
 * outcomes (ONNX Runtime gives only message text, which is never parsed).
 */
import ort from 'onnxruntime-node';
import { EdgeMLError, errorMessage } from '@edgeml/shared';
import type { ExecutionProviderName, OutputTensor, SessionTensor, TensorSignature } from './types.js';

/** onnxruntime-node's version, as the addon reports it. */
export const ORT_VERSION: string = ort.env.versions.node ?? ort.env.versions.common;

export interface BackendSessionOptions {
  readonly cudaDeviceId: number;
  /** 0 lets ONNX Runtime decide (one thread per physical core). */
  readonly intraOpThreads: number;
  readonly interOpThreads: number;
}

/** A native session as the backend opened it. */
export interface BackendSession {
  readonly inputs: readonly TensorSignature[];
  readonly outputs: readonly TensorSignature[];
  /** @throws EdgeMLError INFERENCE_FAILED */
  run(inputName: string, input: SessionTensor): Promise<OutputTensor[]>;
  /** Idempotent. */
  release(): Promise<void>;
}

/** Opens sessions; a fake of this interface drives the provider-selection tests. */
export interface SessionBackend {
  readonly version: string;
  /**
   * Opens `model` (a path or ONNX bytes) on exactly one execution provider.
   * @throws EdgeMLError MODEL_INVALID with the library's message (whatever the cause: the caller decides by outcome)
   */
  create(model: string | Uint8Array, provider: ExecutionProviderName, options: BackendSessionOptions): Promise<BackendSession>;
}

function signatureOf(meta: readonly ort.InferenceSession.ValueMetadata[]): TensorSignature[] {
  return meta.map((m) =>
    m.isTensor
      ? { name: m.name, dtype: m.type, shape: m.shape.map((d) => (typeof d === 'number' && d > 0 ? d : -1)) }
      : { name: m.name, dtype: 'non-tensor', shape: [] },
  );
}

function sessionOptions(provider: ExecutionProviderName, options: BackendSessionOptions): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    ...(options.intraOpThreads > 0 ? { intraOpNumThreads: options.intraOpThreads } : {}),
    ...(options.interOpThreads > 0 ? { interOpNumThreads: options.interOpThreads } : {}),
    executionProviders: provider === 'cuda' ? [{ name: 'cuda', deviceId: options.cudaDeviceId }] : ['cpu'],
    // Errors only: ORT's warnings about unused initializers are noise for an operator.
    logSeverityLevel: 3,
  };
}

function wrap(session: ort.InferenceSession): BackendSession {
  let released: Promise<void> | undefined;
  return {
    inputs: signatureOf(session.inputMetadata),
    outputs: signatureOf(session.outputMetadata),
    async run(inputName, input) {
      if (released !== undefined) throw new EdgeMLError('INFERENCE_FAILED', 'session already released');
      const feed = { [inputName]: new ort.Tensor(input.dtype, input.data, input.dims) };
      let result: ort.InferenceSession.OnnxValueMapType;
      try {
        result = await session.run(feed);
      } catch (err: unknown) {
        throw new EdgeMLError('INFERENCE_FAILED', `model run failed: ${errorMessage(err)}`, { cause: err });
      }
      const out: OutputTensor[] = [];
      for (const name of session.outputNames) {
        const t = result[name];
        if (t === undefined) continue;
        out.push({ name, dtype: t.type, data: t.data as OutputTensor['data'], dims: t.dims });
      }
      return out;
    },
    release() {
      released ??= session.release();
      return released;
    },
  };
}

/** The real backend: onnxruntime-node. */
export const ORT_BACKEND: SessionBackend = {
  version: ORT_VERSION,
  async create(model, provider, options) {
    try {
      const session = typeof model === 'string' ? await ort.InferenceSession.create(model, sessionOptions(provider, options)) : await ort.InferenceSession.create(model, sessionOptions(provider, options));
      return wrap(session);
    } catch (err: unknown) {
      throw new EdgeMLError('MODEL_INVALID', `ONNX Runtime could not open the model on the ${provider} provider: ${errorMessage(err)}`, { cause: err });
    }
  },
};
