import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import { errorCode, type PreprocessingSpec } from '@edgeml/shared';
import { DEFAULT_PROFILES, TensorWorkerPool, createInlineTensorEncoder, encodeNpy, planResize, profileSpec, spawnTensorWorker, toTensor, type RgbPixels } from '@edgeml/transformer';

function pixels(width: number, height: number, seed: number): RgbPixels {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * seed) % 251;
  return { data, width, height };
}

function job(spec: PreprocessingSpec, w: number, h: number, seed = 7) {
  const plan = planResize(w, h, spec);
  return { plan, px: pixels(plan.resizeWidth, plan.resizeHeight, seed) };
}

describe('transformer/tensor-pool (real worker threads)', function () {
  this.timeout(60_000);
  const det = profileSpec(DEFAULT_PROFILES.det);
  const cls = profileSpec(DEFAULT_PROFILES.cls);

  it('builds the same .npy bytes on a worker thread as on the main thread, and reuses recycled buffers', async () => {
    const pool = new TensorWorkerPool({ threads: 1 });
    const inline = createInlineTensorEncoder();
    try {
      for (const [spec, w, h] of [[det, 300, 200], [cls, 100, 50], [det, 120, 400]] as const) {
        const { plan, px } = job(spec, w, h);
        const reference = toTensor(px, plan, spec);
        const expected = encodeNpy({ dtype: spec.dtype, shape: reference.shape, data: reference.data });
        const fromWorker = await pool.encode(px, plan, spec);
        const fromMain = await inline.encode(px, plan, spec);
        assert.ok(fromWorker.bytes.equals(expected), 'worker bytes');
        assert.ok(fromMain.bytes.equals(expected), 'main-thread bytes');
        assert.equal(fromWorker.sha256, fromMain.sha256);
        assert.deepEqual([...fromWorker.shape], [...reference.shape]);
        pool.recycle(fromWorker);
      }
      // Two det tensors were recycled; the next det job travels with one of them and comes back filled.
      const { plan, px } = job(det, 640, 100, 3);
      const first = await pool.encode(px, plan, det);
      const buffer = first.bytes.buffer;
      pool.recycle(first);
      const pending = pool.encode(px, plan, det);
      assert.equal(buffer.byteLength, 0, 'the recycled buffer went to the worker with the job (transferred, detached here)');
      const second = await pending;
      assert.equal(second.sha256, first.sha256);
      assert.equal(pool.size, 1);
    } finally {
      await pool.close();
    }
  });

  it('a worker that dies fails its job with INTERNAL; the next job starts a new worker', async () => {
    const started: Worker[] = [];
    const pool = new TensorWorkerPool({
      threads: 1,
      spawn: () => {
        const w = spawnTensorWorker();
        started.push(w);
        return w;
      },
    });
    try {
      const { plan, px } = job(det, 640, 640);
      const doomed = pool.encode(px, plan, det);
      await started[0]!.terminate();
      await assert.rejects(doomed, (err: unknown) => errorCode(err) === 'INTERNAL' && /tensor worker exited/.test((err as Error).message));
      const ok = await pool.encode(px, plan, det);
      assert.equal(ok.bytes.length, 128 + 640 * 640 * 3 * 4);
      assert.equal(started.length, 2);
    } finally {
      await pool.close();
    }
  });

  it('runs up to `threads` jobs at once, shrinks when told, and close() aborts what is queued', async () => {
    const pool = new TensorWorkerPool({ threads: 2 });
    const { plan, px } = job(det, 500, 500);
    await Promise.all([pool.encode(px, plan, det), pool.encode(px, plan, det)]);
    assert.equal(pool.size, 2);
    pool.setThreads(1);
    assert.equal(pool.size, 1, 'an idle extra thread stops at once');
    const queued = Promise.allSettled([pool.encode(px, plan, det), pool.encode(px, plan, det), pool.encode(px, plan, det)]);
    await pool.close();
    const outcomes = await queued;
    assert.ok(outcomes.every((o) => o.status === 'rejected' && errorCode(o.reason) === 'ABORTED'), JSON.stringify(outcomes.map((o) => o.status)));
    await assert.rejects(pool.encode(px, plan, det), (err: unknown) => errorCode(err) === 'ABORTED');
    await pool.close();
    assert.equal(pool.size, 0);
  });
});
