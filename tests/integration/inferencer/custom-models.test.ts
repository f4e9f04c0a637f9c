/**
 * Models built in code (tiny ONNX graphs) through the real runtime: a model whose batch dimension
 * is fixed at 1 runs one tensor at a time whatever maxBatchSize says; the classification
 * post-processor applies softmax to logits; the raw post-processor summarises; metrics are served.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CLS_PROFILE_SPEC, MODEL_MANIFEST_SCHEMA, encodeNpy, type ModelManifest } from '@edgeml/inferencer';
import { SCHEMAS, type TensorMessage } from '@edgeml/shared';
import { identityModel, sha256Hex, startInferencer, type Harness } from './support.js';

async function installModel(root: string, manifest: Omit<ModelManifest, 'schema' | 'sha256'>, model: Buffer): Promise<void> {
  const dir = path.join(root, 'models', manifest.name, manifest.version);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'model.onnx'), model);
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ schema: MODEL_MANIFEST_SCHEMA, ...manifest, sha256: sha256Hex(model) }));
}

async function vectorTensor(root: string, profile: string, values: number[], n: number): Promise<TensorMessage> {
  const npy = encodeNpy({ dtype: 'float32', shape: [1, values.length], data: Float32Array.from(values) });
  const id = sha256Hex(`${profile}-${n}`);
  const rel = `staging/${id}/${profile}.npy`;
  await mkdir(path.join(root, 'staging', id), { recursive: true });
  await writeFile(path.join(root, rel), npy);
  return {
    schema: SCHEMAS.tensor,
    id,
    messageId: id.slice(0, 32),
    source: { path: `inbox/${n}.csv`, sha256: id, sizeBytes: 10, detectedAt: '2026-11-24T12:00:00.000Z' },
    part: `result:${profile}`,
    expectedParts: [`result:${profile}`],
    tensor: { path: rel, sha256: sha256Hex(npy), dtype: 'float32', shape: [1, values.length], layout: 'NC' },
    preprocessing: { profile, signature: `pp1-${profile}-test`, spec: CLS_PROFILE_SPEC },
    createdAt: '2026-11-24T12:00:01.000Z',
  };
}

describe('inferencer with models built in code', function () {
  this.timeout(60_000);
  let h: Harness;

  before(async () => {
    h = await startInferencer({ models: { cls: { name: 'paddleocr-cls', version: '1' } }, maxBatchSize: 16, maxQueueDelayMs: 20 });
    const common = (profile: string) => ({ profile, signature: `pp1-${profile}-test` });
    await installModel(
      h.root,
      {
        name: 'tiny-fixed',
        version: '1',
        inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: [1, 4] }],
        preprocessing: common('vec'),
        postprocessor: { kind: 'classification', topK: 2 },
        labels: ['a', 'b', 'c', 'd'],
      },
      identityModel([1, 4]),
    );
    await installModel(
      h.root,
      {
        name: 'tiny-dynamic',
        version: '1',
        inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 3] }],
        preprocessing: common('stats'),
        postprocessor: { kind: 'raw', firstN: 3 },
      },
      identityModel(['N', 3]),
    );
    const report = await h.patch({ models: { cls: null, vec: { name: 'tiny-fixed', version: '1' }, stats: { name: 'tiny-dynamic', version: '1' } } });
    assert.equal(report.status, 'applied', JSON.stringify(report.problems));
  });
  after(async () => {
    await h.close();
  });

  it('runs a fixed batch-1 model one tensor at a time and applies softmax to its logits', async () => {
    const msgs = await Promise.all(Array.from({ length: 12 }, (_, i) => vectorTensor(h.root, 'vec', [0, i % 4 === 2 ? 3 : 0, i % 4 === 2 ? 0 : 3, -1], i)));
    await Promise.all(msgs.map((m) => h.client.deliver('tensors', m)));
    const results = h.results().filter((r) => r['part'] === 'result:vec');
    assert.equal(results.length, 12);
    assert.ok(results.every((r) => (r['runtime'] as { batchSize: number }).batchSize === 1));
    const models = h.client.reported['models'] as Record<string, { fixedBatchOne: boolean }>;
    assert.equal(models['vec']!.fixedBatchOne, true);
    for (const [i, m] of msgs.entries()) {
      const r = results.find((x) => x['id'] === m.id)!;
      const out = r['outputs'] as { label: string; score: number; top: unknown[] };
      assert.equal(out.label, i % 4 === 2 ? 'b' : 'c');
      const expected = Math.exp(3) / (Math.exp(3) + 2 + Math.exp(-1));
      assert.ok(Math.abs(out.score - expected) < 1e-6, `${out.score} vs ${expected}`);
      assert.equal(out.top.length, 2);
    }
  });

  it('batches a dynamic model and summarises its outputs with the raw post-processor', async () => {
    const msgs = await Promise.all(Array.from({ length: 10 }, (_, i) => vectorTensor(h.root, 'stats', [i, i + 1, i + 2], 100 + i)));
    await Promise.all(msgs.map((m) => h.client.deliver('tensors', m)));
    const results = h.results().filter((r) => r['part'] === 'result:stats');
    assert.equal(results.length, 10);
    assert.ok(Math.max(...results.map((r) => (r['runtime'] as { batchSize: number }).batchSize)) > 1, 'batched');
    for (const [i, m] of msgs.entries()) {
      const r = results.find((x) => x['id'] === m.id)!;
      const [t] = (r['outputs'] as { tensors: { shape: number[]; mean: number; first: number[] }[] }).tensors;
      assert.deepEqual(t!.shape, [1, 3]);
      assert.deepEqual(t!.first, [i, i + 1, i + 2]);
      assert.equal(t!.mean, i + 1);
      assert.equal(h.client.sentTo('results').find((s) => (s.json as { id: string }).id === m.id)!.properties['label'], undefined);
    }
  });

  it('serves the metrics: queue depth, batch sizes, queue and inference time, results by label, failures by reason', async () => {
    const res = await fetch(`http://127.0.0.1:${h.running.ops.port}/metrics`);
    const text = await res.text();
    for (const name of [
      'edgeml_inferencer_queue_depth_items',
      'edgeml_inferencer_batch_size_items_bucket',
      'edgeml_inferencer_queue_time_seconds_bucket',
      'edgeml_inferencer_inference_time_seconds_bucket',
      'edgeml_inferencer_results_total{profile="vec",label="c"',
      'edgeml_inferencer_model_swaps_total',
    ]) {
      assert.ok(text.includes(name), name);
    }
    await h.client.deliver('tensors', { schema: 'nope' });
    const after = await (await fetch(`http://127.0.0.1:${h.running.ops.port}/metrics`)).text();
    assert.match(after, /edgeml_inferencer_failures_total\{code="MESSAGE_INVALID"/);
  });

  it('stop drains what is in flight, dead-letters nothing, and is idempotent', async () => {
    const msgs = await Promise.all(Array.from({ length: 40 }, (_, i) => vectorTensor(h.root, 'stats', [i, 0, 0], 500 + i)));
    const completionsBefore = h.completions().length;
    const delivered = msgs.map((m) => h.client.deliver('tensors', m));
    const stopped = h.running.stop('test');
    await Promise.all([...delivered, stopped, h.running.stop('again')]);
    const ids = new Set(h.results().map((r) => r['id']));
    assert.ok(msgs.every((m) => ids.has(m.id)), 'tensors admitted before the stop were finished');
    assert.equal(h.completions().length, completionsBefore);
    await h.client.deliver('tensors', msgs[0]!);
    assert.equal(h.completions().length, completionsBefore, 'after stop: left for re-emission, not dead-lettered');
  });
});
