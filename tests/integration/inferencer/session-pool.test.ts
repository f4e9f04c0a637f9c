/**
 * The session worker pool with the real ONNX Runtime: batches run and are post-processed in a
 * worker thread, so the main thread keeps serving while a model runs; sessions are spread over the
 * workers, a smaller pool stops the workers it no longer needs, and closing lets the runs and
 * opens under way finish before it stops the workers (stopping one inside ONNX Runtime's native
 * work can abort the process).
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

  it('close lets a run and an open under way finish, then stops the workers', async () => {
    pool = createSessionPool({ size: 2, logger });
    const session = await pool.open(det.file, CPU);
    const per = 3 * 640 * 640;
    const running = session.run('x', { dtype: 'float32', data: Float32Array.from({ length: 2 * per }, (_, i) => Math.sin(i * 0.003) * 0.8), dims: [2, 3, 640, 640] });
    const opening = pool.open(cls.file, CPU);
    await new Promise((r) => setTimeout(r, 20));
    await pool.close();
    const out = await running;
    assert.deepEqual(out[0]!.dims.slice(0, 2), [2, 1], 'the run under way answered, not cut off by the stop');
    const opened = await opening;
    assert.equal(opened.provider, 'cpu', 'the open under way answered too');
    assert.equal(pool.workers, 0);
    await assert.rejects(pool.open(cls.file, CPU), /closed/);
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

  it('runs the replicas of one model side by side, one per worker, and stops the extra worker with them', async () => {
    pool = createSessionPool({ size: 1, logger });
    const session = await pool.open(det.file, { ...CPU, intraOpThreads: 1 }, { cpu: 2, cuda: 1 });
    assert.equal(session.replicas, 2);
    assert.equal(pool.workers, 2, 'each replica in its own worker');
    assert.equal(pool.sessions, 1, 'the replicas are one session');
    const manifest = det.manifest as ModelManifest;
    const per = 3 * 640 * 640;
    const batch = () =>
      session.runBatch({
        inputName: 'x',
        input: { dtype: 'float32', data: Float32Array.from({ length: per }, (_, i) => Math.cos(i * 0.002) * 0.5), dims: [1, 3, 640, 640] },
        postprocessor: manifest.postprocessor,
        labels: [],
        geometries: [undefined],
      });
    await Promise.all([batch(), batch()]); // the first run of each replica is its slow one
    const t0 = performance.now();
    const [a, b] = await Promise.all([batch(), batch()]);
    const elapsedMs = performance.now() - t0;
    console.log(`      two runs of ${a!.inferMs.toFixed(0)} and ${b!.inferMs.toFixed(0)} ms (each timed in its worker) took ${elapsedMs.toFixed(0)} ms together`);
    // One after the other they would take at least the sum of their run times.
    assert.ok(elapsedMs < a!.inferMs + b!.inferMs, `${elapsedMs.toFixed(0)} ms for runs of ${a!.inferMs.toFixed(0)} + ${b!.inferMs.toFixed(0)} ms: they did not overlap`);
    await session.release();
    assert.equal(pool.workers, 1, 'the worker beyond the pool size stopped with its replica');
    assert.equal(pool.sessions, 0);
  });

  it('opens one session on CUDA-less hosts when only the CPU count asks for more, and a replica can be named for a run', async () => {
    pool = createSessionPool({ size: 2, logger });
    const session = await pool.open(cls.file, CPU, { cpu: 1, cuda: 4 });
    assert.equal(session.provider, 'cpu');
    assert.equal(session.replicas, 1, 'the count for the provider the session ended up on');
    const input = { dtype: 'float32' as const, data: new Float32Array(3 * 48 * 192), dims: [1, 3, 48, 192] };
    await assert.rejects(session.runBatch({ inputName: 'x', input, postprocessor: { kind: 'raw' }, labels: [], geometries: [undefined] }, 1), { code: 'INTERNAL' });
    const ok = await session.runBatch({ inputName: 'x', input: { ...input, data: new Float32Array(3 * 48 * 192) }, postprocessor: { kind: 'raw' }, labels: [], geometries: [undefined] }, 0);
    assert.equal(ok.items.length, 1);
    await session.release();
  });
});
