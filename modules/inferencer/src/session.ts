/**
 * The only file that imports onnxruntime-node: a session adapter that says which execution
 * provider actually runs and why a fallback happened (users of GPU inference are most often hurt
 * by a CUDA provider that silently did not load: onnxruntime #7484, #6124; iotedge #3959).
 */
import ort from 'onnxruntime-node';
import { EdgeMLError, errorMessage } from '@edgeml/shared';

/** onnxruntime-node's version, as the addon reports it. */
export const ORT_VERSION: string = ort.env.versions.node ?? ort.env.versions.common;

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

export interface SessionTensor {
  readonly dtype: 'float32' | 'uint8';
  readonly data: Float32Array | Uint8Array;
  readonly dims: readonly number[];
}

export interface OutputTensor {
  readonly name: string;
  readonly dtype: string;
  readonly data: Float32Array | Uint8Array | Int32Array | BigInt64Array | Float64Array;
  readonly dims: readonly number[];
}

export interface ModelSession {
  /** The provider that actually runs this session. */
  readonly provider: ExecutionProviderName;
  /** Why CUDA is not used although it was asked for (explicitly or by `auto`); undefined otherwise. */
  readonly fallbackReason: string | undefined;
  readonly inputs: readonly TensorSignature[];
  readonly outputs: readonly TensorSignature[];
  /** Runs the model on one input. @throws EdgeMLError INFERENCE_FAILED */
  run(inputName: string, input: SessionTensor): Promise<OutputTensor[]>;
  /** Frees the native session. Idempotent. */
  release(): Promise<void>;
}

// A missing CUDA library does not come back during the life of the process; remembering it spares
// a failed dlopen (and ONNX Runtime's error line on stderr) on every later session.
let cudaLoadFailure: string | undefined;

function signatureOf(meta: readonly ort.InferenceSession.ValueMetadata[]): TensorSignature[] {
  return meta.map((m) =>
    m.isTensor
      ? { name: m.name, dtype: m.type, shape: m.shape.map((d) => (typeof d === 'number' && d > 0 ? d : -1)) }
      : { name: m.name, dtype: 'non-tensor', shape: [] },
  );
}

function baseOptions(options: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    ...(options.intraOpThreads > 0 ? { intraOpNumThreads: options.intraOpThreads } : {}),
    ...(options.interOpThreads > 0 ? { interOpNumThreads: options.interOpThreads } : {}),
    // Errors only: ORT's warnings about unused initializers are noise for an operator.
    logSeverityLevel: 3,
  };
}

/**
 * Opens a session on `modelPath`. `cuda` and `auto` try the CUDA provider first and fall back to
 * the CPU with the reason recorded in `fallbackReason`; the caller reports it (and alerts when
 * `cuda` was asked for explicitly).
 * @throws EdgeMLError MODEL_INVALID when the file is not a loadable ONNX model
 */
export async function openSession(modelPath: string, options: SessionOptions): Promise<ModelSession> {
  let fallbackReason: string | undefined;
  if (options.executionProvider !== 'cpu') {
    if (cudaLoadFailure !== undefined) {
      fallbackReason = cudaLoadFailure;
    } else {
      try {
        const session = await ort.InferenceSession.create(modelPath, {
          ...baseOptions(options),
          executionProviders: [{ name: 'cuda', deviceId: options.cudaDeviceId }],
        });
        return wrap(session, 'cuda', undefined);
      } catch (err: unknown) {
        const message = errorMessage(err);
        fallbackReason = `CUDA execution provider could not be loaded: ${message}`;
        if (/load|shared librar|not (?:available|supported|found)|No such file/i.test(message)) cudaLoadFailure = fallbackReason;
        else if (/protobuf|parse|invalid|model/i.test(message)) throw new EdgeMLError('MODEL_INVALID', `model ${modelPath} cannot be loaded: ${message}`, { cause: err });
      }
    }
  }
  try {
    const session = await ort.InferenceSession.create(modelPath, { ...baseOptions(options), executionProviders: ['cpu'] });
    return wrap(session, 'cpu', fallbackReason);
  } catch (err: unknown) {
    throw new EdgeMLError('MODEL_INVALID', `model ${modelPath} cannot be loaded: ${errorMessage(err)}`, { cause: err });
  }
}

function wrap(session: ort.InferenceSession, provider: ExecutionProviderName, fallbackReason: string | undefined): ModelSession {
  let released: Promise<void> | undefined;
  return {
    provider,
    fallbackReason,
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

/** Test hook: forget a remembered CUDA load failure (a GPU test machine may try again). */
export function resetCudaProbe(): void {
  cudaLoadFailure = undefined;
}
