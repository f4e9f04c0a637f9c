/**
 * The session worker pool with the real ONNX Runtime: batches run and are post-processed in a
 * worker thread, so the main thread keeps serving while a model runs; sessions are spread over the
 * workers and a smaller pool stops the workers it no longer needs.
 */
import assert from 'node:assert/strict';
import { createLogger } from '@edgeml/shared';
import { bundledModels, createSessionPool, type ModelManifest, type SessionPool } from '@edgeml/inferencer';

const logger = createLogger({ name: 'test', level: 'silent' });
const CPU = { executionProvider: 'cpu', cudaDeviceId: 0, intraOpThreads: 0, interOpThreads: 0 } as const;

describe('inferencer session worker pool (real ONNX Runtime)', function () {
  this.timeout(120_000);
  let pool: SessionPool;
  const det = bundledModels().find((b) => b.profile === 'det')!;
  const cls = bundledModels().find((b) => b.profile === 'cls')!;

  afterEach(async () => {
    await pool?.close();
  });

  it('runs a detector batch in a worker while the main thread keeps its timers', async () => {
    pool = createSessionPool({ size: 1, logger });
    const session = await pool.open(det.file, CPU);
    assert.equal(session.provider, 'cpu');
    const manifest = det.manifest as ModelManifest;
    const per = 3 * 640 * 640;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const t0 = performance.now();
    const response = await session.runBatch({
      inputName: 'x',
      input: { dtype: 'float32', data: Float32Array.from({ length: 2 * per }, (_, i) => Math.sin(i * 0.003) * 0.8), dims: [2, 3, 640, 640] },
      postprocessor: manifest.postprocessor,
      labels: [],
      geometries: [undefined, undefined],
    });
    const elapsedMs = performance.now() - t0;
    clearInterval(timer);
    assert.equal(response.items.length, 2);
    assert.ok(response.inferMs > 0);
    // Run on the main thread (as onnxruntime-node does inside a setImmediate), the run would have
    // stopped every timer for its whole length; in a worker they keep firing.
    const expected = Math.floor(response.inferMs / 5);
    console.log(`      run ${response.inferMs.toFixed(0)} ms in the worker; ${ticks} timer ticks of 5 ms on the main thread meanwhile (${elapsedMs.toFixed(0)} ms in all)`);
    assert.ok(ticks >= Math.max(2, expected / 4), `${ticks} ticks during a ${response.inferMs.toFixed(0)} ms run`);
    await session.release();
  });

  it('spreads sessions over its workers, releases them, and stops the workers a smaller pool does not need', async () => {
    pool = createSessionPool({ size: 2, logger });
    const a = await pool.open(cls.file, CPU);
    const b = await pool.open(cls.file, CPU);
    assert.equal(pool.workers, 2);
    assert.equal(pool.sessions, 2);
    const out = await a.run('x', { dtype: 'float32', data: new Float32Array(3 * 48 * 192), dims: [1, 3, 48, 192] });
    assert.deepEqual(out[0]!.dims, [1, 2]);
    pool.resize(1);
    await b.release();
    assert.equal(pool.workers, 1, 'the worker left without sessions beyond the new size stopped');
    await a.release();
    assert.equal(pool.sessions, 0);
    await assert.rejects(a.runBatch({ inputName: 'x', input: { dtype: 'float32', data: new Float32Array(3 * 48 * 192), dims: [1, 3, 48, 192] }, postprocessor: { kind: 'raw' }, labels: [], geometries: [undefined] }), { code: 'INFERENCE_FAILED' });
  });

  it('refuses a corrupt model with MODEL_INVALID and keeps working', async () => {
    pool = createSessionPool({ size: 1, logger });
    await assert.rejects(pool.open('/nonexistent/model.onnx', CPU), { code: 'MODEL_INVALID' });
    const s = await pool.open(cls.file, CPU);
    assert.equal(s.inputs[0]!.name, 'x');
    await s.release();
  });
});

