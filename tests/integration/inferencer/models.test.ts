/**
 * Real ONNX Runtime, real PaddleOCR models, through the real module (runModule + in-memory edge
 * client): orientation accuracy on rendered text, detector boxes in source pixels, batched ==
 * one-by-one, and the CUDA fallback being said out loud.
 */
import assert from 'node:assert/strict';
import { RESULT_MESSAGE_SCHEMA, parseMessage, SCHEMAS } from '@edgeml/shared';
import { ORT_VERSION, type DetectedBox } from '@edgeml/inferencer';
import { SAMPLE_LINES, preprocessCls, preprocessDet, renderText, restoreTensor, startInferencer, writeTensor, type Harness } from './support.js';

function iou(a: { x: number; y: number; width: number; height: number }, b: { x: number; y: number; width: number; height: number }): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  return inter / (a.width * a.height + b.width * b.height - inter);
}

describe('inferencer with the real PaddleOCR models', function () {
  this.timeout(120_000);
  let h: Harness;

  before(async () => {
    h = await startInferencer({ maxBatchSize: 16, maxQueueDelayMs: 20 });
  });
  after(async () => {
    await h.close();
  });

  it('classifies rendered text lines, half of them upside down, correctly at >= 95%', async () => {
    const cases: { expected: string; msg: Awaited<ReturnType<typeof writeTensor>> }[] = [];
    let i = 0;
    for (const text of SAMPLE_LINES) {
      for (const rotate180 of [false, true]) {
        const fontSize = 24 + (i % 4) * 4;
        const width = Math.ceil(text.length * fontSize * 0.62) + 16;
        const img = await renderText(width, Math.ceil(fontSize * 1.5), [{ text, x: 8, y: Math.round(fontSize * 1.1), fontSize }], { rotate180 });
        const t = await preprocessCls(img);
        cases.push({ expected: rotate180 ? '180' : '0', msg: await writeTensor(h.root, { profile: 'cls', ...t, seed: `cls-${i}` }) });
        i++;
      }
    }
    await Promise.all(cases.map((c) => h.client.deliver('tensors', c.msg)));
    const byId = new Map(h.results().map((r) => [r['id'] as string, r]));
    let correct = 0;
    for (const c of cases) {
      const r = byId.get(c.msg.id);
      assert.ok(r, `a result for ${c.msg.id}`);
      if ((r['outputs'] as { label: string }).label === c.expected) correct++;
    }
    const accuracy = correct / cases.length;
    console.log(`      orientation accuracy ${correct}/${cases.length} = ${(accuracy * 100).toFixed(1)}%`);
    assert.ok(accuracy >= 0.95, `accuracy ${accuracy}`);
    assert.equal(h.completions().length, 0, JSON.stringify(h.completions()));
  });

  it('sends results that follow the contract, with routing properties and a deterministic messageId', async () => {
    const sent = h.client.sentTo('results');
    assert.ok(sent.length > 0);
    const first = sent[0]!;
    const body = parseMessage(first.body, SCHEMAS.result);
    assert.equal(RESULT_MESSAGE_SCHEMA.title, SCHEMAS.result);
    assert.equal(body.part, 'result:cls');
    assert.deepEqual(body.expectedParts, ['artifact', 'result:cls']);
    assert.equal(body.model.name, 'paddleocr-cls');
    assert.match(body.model.sha256, /^[0-9a-f]{64}$/);
    assert.equal(body.runtime.provider, 'cpu');
    assert.ok(body.runtime.batchSize >= 1);
    const outputs = body.outputs as { label: string; score: number; top: { label: string; score: number }[] };
    assert.equal(outputs.top.length, 2);
    assert.equal(first.properties['schema'], SCHEMAS.result);
    assert.equal(first.properties['model'], 'paddleocr-cls');
    assert.equal(first.properties['label'], outputs.label);
    assert.equal(Number(first.properties['score']), outputs.score);
    assert.equal(first.messageId, body.messageId);
    // The same tensor again yields the same messageId (duplicates are recognisable).
    const again = sent.filter((m) => (m.json as { id: string }).id === body.id);
    assert.equal(again.length, 1);
  });

  it('batched outputs equal one-by-one outputs within 1e-5', async () => {
    const msgs = [];
    for (let i = 0; i < 12; i++) {
      const text = SAMPLE_LINES[i]!;
      const img = await renderText(text.length * 18 + 16, 42, [{ text, x: 8, y: 30, fontSize: 28 }], { rotate180: i % 2 === 1 });
      msgs.push(await writeTensor(h.root, { profile: 'cls', ...(await preprocessCls(img)), seed: `batch-eq-${i}` }));
    }
    const scores = async (): Promise<Map<string, { score: number; batchSize: number }>> => {
      const out = new Map<string, { score: number; batchSize: number }>();
      for (const r of h.results()) {
        const o = r['outputs'] as { top: { label: string; score: number }[] };
        out.set(r['id'] as string, { score: o.top.find((t) => t.label === '180')!.score, batchSize: (r['runtime'] as { batchSize: number }).batchSize });
      }
      return out;
    };
    await h.patch({ maxBatchSize: 1, maxQueueDelayMs: 0 });
    for (const m of msgs) await h.client.deliver('tensors', m);
    const single = await scores();
    h.client.sent.length = 0;
    await h.patch({ maxBatchSize: 16, maxQueueDelayMs: 50 });
    // The module removed each tensor file once its result was sent: write them again.
    for (const m of msgs) await restoreTensor(h.root, m);
    await Promise.all(msgs.map((m) => h.client.deliver('tensors', m)));
    const batched = await scores();
    let maxBatch = 0;
    for (const m of msgs) {
      const a = single.get(m.id)!;
      const b = batched.get(m.id)!;
      assert.equal(a.batchSize, 1);
      maxBatch = Math.max(maxBatch, b.batchSize);
      assert.ok(Math.abs(a.score - b.score) <= 1e-5, `${a.score} vs ${b.score}`);
    }
    assert.ok(maxBatch >= 8, `tensors were batched (largest batch ${maxBatch})`);
  });

  it('finds rendered text with the detector, boxes in source pixels overlapping the text at IoU >= 0.5', async () => {
    const images = [
      { w: 480, h: 320, lines: [{ text: 'Invoice 2024-118', x: 30, y: 70, fontSize: 36 }, { text: 'Total 1,250.00', x: 60, y: 220, fontSize: 40 }] },
      { w: 300, h: 420, lines: [{ text: 'Gate 12', x: 40, y: 120, fontSize: 48 }, { text: 'Zone C', x: 60, y: 320, fontSize: 44 }] },
    ];
    const msgs = [];
    const truth = new Map<string, { x: number; y: number; width: number; height: number }[]>();
    for (const [i, spec] of images.entries()) {
      const img = await renderText(spec.w, spec.h, spec.lines);
      const t = await preprocessDet(img);
      const msg = await writeTensor(h.root, { profile: 'det', data: t.data, shape: t.shape, geometry: t.geometry, seed: `det-${i}` });
      truth.set(msg.id, img.boxes);
      msgs.push(msg);
    }
    await Promise.all(msgs.map((m) => h.client.deliver('tensors', m)));
    for (const m of msgs) {
      const r = h.results().find((x) => x['id'] === m.id);
      assert.ok(r, 'a detector result');
      const out = r['outputs'] as { boxes: DetectedBox[]; coordinates: string };
      assert.equal(out.coordinates, 'source');
      for (const gt of truth.get(m.id)!) {
        const best = Math.max(0, ...out.boxes.map((b) => iou(b.bbox, gt)));
        console.log(`      text at ${JSON.stringify(gt)}: best IoU ${best.toFixed(3)} of ${out.boxes.length} boxes`);
        assert.ok(best >= 0.5, `IoU ${best} for ${JSON.stringify(gt)} in ${JSON.stringify(out.boxes.map((b) => b.bbox))}`);
      }
      assert.equal(r['part'], 'result:det');
    }
  });

  it('changes a model\'s maxBatchSize without reloading it', async () => {
    const before = (h.client.reported['models'] as Record<string, { loadedAt: string; sha256: string }>)['det']!;
    const report = await h.patch({ models: { cls: { name: 'paddleocr-cls', version: '1' }, det: { name: 'paddleocr-det', version: '1', maxBatchSize: 2 } } });
    assert.equal(report.status, 'applied', JSON.stringify(report.problems));
    const after = (h.client.reported['models'] as Record<string, { loadedAt: string }>)['det']!;
    assert.equal(after.loadedAt, before.loadedAt);
    assert.equal((h.running.binder.current() as { models: Record<string, { maxBatchSize?: number }> }).models['det']!.maxBatchSize, 2);
  });

  it('reports the provider in use and the ONNX Runtime version', () => {
    const runtime = h.client.reported['runtime'] as { onnxruntimeVersion: string; executionProvider: { requested: string; active: string; fallbackReason: string | null } };
    assert.equal(runtime.onnxruntimeVersion, ORT_VERSION);
    assert.equal(runtime.executionProvider.requested, 'auto');
    assert.equal(runtime.executionProvider.active, 'cpu');
    assert.match(runtime.executionProvider.fallbackReason ?? '', /CUDA/);
    // `auto` falling back on a CPU machine is reported, not alerted.
    assert.equal(h.alerts().filter((a) => a['code'] === 'EXECUTION_PROVIDER_UNAVAILABLE').length, 0);
  });

  it('falls back to the CPU when cuda is requested, and says so (reported property + alert)', async () => {
    const report = await h.patch({ executionProvider: 'cuda' });
    assert.equal(report.status, 'applied', JSON.stringify(report.problems));
    const runtime = h.client.reported['runtime'] as { executionProvider: { requested: string; active: string; fallbackReason: string | null } };
    assert.equal(runtime.executionProvider.requested, 'cuda');
    assert.equal(runtime.executionProvider.active, 'cpu');
    assert.match(runtime.executionProvider.fallbackReason ?? '', /CUDA execution provider could not be loaded/);
    const alert = h.alerts().find((a) => a['code'] === 'EXECUTION_PROVIDER_UNAVAILABLE');
    assert.ok(alert, 'an alert');
    assert.equal(alert['severity'], 'warning');
    assert.equal((alert['details'] as { active: string }).active, 'cpu');
    assert.equal((alert['details'] as { onnxruntimeVersion: string }).onnxruntimeVersion, ORT_VERSION);
    const models = h.client.reported['models'] as Record<string, { provider: string }>;
    assert.equal(models['cls']!.provider, 'cpu');
    const status = (await h.client.invoke('getStatus', {})).payload as { executionProvider: { active: string } };
    assert.equal(status.executionProvider.active, 'cpu');
  });
});
