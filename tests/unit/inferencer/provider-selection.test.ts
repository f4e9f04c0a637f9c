/**
 * Which execution provider a model runs on (session/open.ts), with a fake backend that implements
 * the real SessionBackend interface: CUDA availability is learnt from a probe on a known-good model,
 * and a model's own failure never switches CUDA off.
 */
import assert from 'node:assert/strict';
import { EdgeMLError } from '@edgeml/shared';
import { CUDA_UNKNOWN, knownCuda, learnCuda, openModelSession, resetCudaProbe, type BackendSession, type CudaState, type ExecutionProviderName, type SessionBackend, type SessionOptions } from '@edgeml/inferencer';

const OPTIONS = (executionProvider: SessionOptions['executionProvider']): SessionOptions => ({ executionProvider, cudaDeviceId: 0, intraOpThreads: 0, interOpThreads: 0 });

/** A backend where `cudaLoads` says whether the CUDA provider loads, and `corrupt` names model files no provider can open. */
function fakeBackend(options: { cudaLoads: boolean; corrupt?: readonly string[]; cudaRefuses?: readonly string[] }) {
  const calls: { model: string; provider: ExecutionProviderName }[] = [];
  const session: BackendSession = { inputs: [], outputs: [], run: () => Promise.resolve([]), release: () => Promise.resolve() };
  const backend: SessionBackend = {
    version: 'fake',
    create(model, provider) {
      const name = typeof model === 'string' ? model : '(probe)';
      calls.push({ model: name, provider });
      // The message a corrupt model gives is the one that once matched the "CUDA unavailable" pattern.
      if (options.corrupt?.includes(name)) return Promise.reject(new EdgeMLError('MODEL_INVALID', `Load model from ${name} failed: Protobuf parsing failed; shared library not found`));
      if (provider === 'cuda' && !options.cudaLoads) return Promise.reject(new EdgeMLError('MODEL_INVALID', 'Failed to load library libonnxruntime_providers_cuda.so: libcudart.so.13: cannot open shared object file'));
      if (provider === 'cuda' && options.cudaRefuses?.includes(name)) return Promise.reject(new EdgeMLError('MODEL_INVALID', 'CUDA EP does not support an operator of this model'));
      return Promise.resolve(session);
    },
  };
  return { backend, calls };
}

describe('inferencer execution provider selection (decided by outcomes, not by error text)', () => {
  it("regression: a corrupt model's load error does not switch CUDA off for the life of the process", async () => {
    // Before, a corrupt model's message matched the /load|shared librar|not found/ pattern of a missing CUDA library,
    // and every later session ran on the CPU until the process restarted.
    const { backend, calls } = fakeBackend({ cudaLoads: true, corrupt: ['corrupt.onnx'] });
    let cuda: CudaState = CUDA_UNKNOWN;
    await assert.rejects(openModelSession(backend, 'corrupt.onnx', OPTIONS('cuda'), cuda), (err: EdgeMLError) => err.code === 'MODEL_INVALID' && /corrupt\.onnx cannot be loaded/.test(err.message));
    // The probe ran on its own model and passed: CUDA is known to be available.
    assert.deepEqual(calls[0], { model: '(probe)', provider: 'cuda' });
    cuda = { state: 'available' };
    const good = await openModelSession(backend, 'good.onnx', OPTIONS('cuda'), cuda);
    assert.equal(good.provider, 'cuda');
    assert.equal(good.fallbackReason, undefined);
    assert.equal(good.cuda.state, 'available');
  });

  it('the failed open of a corrupt model leaves the CUDA state it learnt as available', async () => {
    const { backend } = fakeBackend({ cudaLoads: true, corrupt: ['corrupt.onnx'] });
    const err = await openModelSession(backend, 'corrupt.onnx', OPTIONS('auto'), CUDA_UNKNOWN).catch((e: unknown) => e);
    assert.equal((err as EdgeMLError).code, 'MODEL_INVALID');
    // The caller keeps what the probe learnt only from a successful open; a fresh probe says available again.
    const again = await openModelSession(backend, 'good.onnx', OPTIONS('auto'), CUDA_UNKNOWN);
    assert.equal(again.provider, 'cuda');
  });

  it('a CUDA provider that does not load is learnt once (the probe) and every model falls back with the reason', async () => {
    const { backend, calls } = fakeBackend({ cudaLoads: false });
    const first = await openModelSession(backend, 'a.onnx', OPTIONS('auto'), CUDA_UNKNOWN);
    assert.equal(first.provider, 'cpu');
    assert.match(first.fallbackReason ?? '', /CUDA execution provider could not be loaded: .*libcudart\.so\.13/);
    assert.equal(first.cuda.state, 'unavailable');
    const second = await openModelSession(backend, 'b.onnx', OPTIONS('cuda'), first.cuda);
    assert.equal(second.provider, 'cpu');
    assert.deepEqual(
      calls.map((c) => `${c.model}@${c.provider}`),
      ['(probe)@cuda', 'a.onnx@cpu', 'b.onnx@cpu'],
      'no second probe, no CUDA attempt per model',
    );
  });

  it('a model the CUDA provider refuses runs on the CPU alone; CUDA stays available for the others', async () => {
    const { backend } = fakeBackend({ cudaLoads: true, cudaRefuses: ['odd.onnx'] });
    const odd = await openModelSession(backend, 'odd.onnx', OPTIONS('cuda'), CUDA_UNKNOWN);
    assert.equal(odd.provider, 'cpu');
    assert.match(odd.fallbackReason ?? '', /loads, but not this model/);
    assert.equal(odd.cuda.state, 'available');
    const other = await openModelSession(backend, 'other.onnx', OPTIONS('cuda'), odd.cuda);
    assert.equal(other.provider, 'cuda');
  });

  it('what the process learnt is kept per device; a failed open teaches it nothing', async () => {
    resetCudaProbe();
    const { backend } = fakeBackend({ cudaLoads: true, corrupt: ['corrupt.onnx'] });
    // As the session pool does: open with what the process knows, then keep what the open learnt.
    const open = async (model: string): Promise<void> => {
      const r = await openModelSession(backend, model, OPTIONS('cuda'), knownCuda(0));
      learnCuda(0, r.cuda);
    };
    await assert.rejects(open('corrupt.onnx'), { code: 'MODEL_INVALID' });
    assert.equal(knownCuda(0).state, 'unknown', 'the corrupt model left no verdict on CUDA');
    await open('good.onnx');
    assert.equal(knownCuda(0).state, 'available');
    learnCuda(0, CUDA_UNKNOWN);
    assert.equal(knownCuda(0).state, 'available', 'unknown never overwrites what was learnt');
    assert.equal(knownCuda(1).state, 'unknown', 'per device');
    resetCudaProbe();
  });

  it('cpu never touches CUDA', async () => {
    const { backend, calls } = fakeBackend({ cudaLoads: true });
    const s = await openModelSession(backend, 'm.onnx', OPTIONS('cpu'), CUDA_UNKNOWN);
    assert.equal(s.provider, 'cpu');
    assert.equal(s.cuda.state, 'unknown');
    assert.deepEqual(calls, [{ model: 'm.onnx', provider: 'cpu' }]);
  });
});
