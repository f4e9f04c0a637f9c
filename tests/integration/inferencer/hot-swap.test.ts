/**
 * Verified hot swap with the real runtime: swaps under load lose nothing, refused models (corrupt,
 * SHA-256 mismatch, wrong signature) leave the old one serving, memory stays bounded over swaps.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { INFERENCER_DEFAULTS, MANIFEST_FILE, MODEL_FILE, bundledModels, replicaPlan, installBundledModels, type ModelManifest } from '@edgeml/inferencer';
import { sha256Hex, preprocessCls, renderText, startInferencer, tensorCopy, writeTensor, type Harness } from './support.js';

/** Installs a copy of a model file under `<name>/<version>` with the given manifest changes. */
async function installVersion(root: string, from: { name: string; version: string }, to: { name: string; version: string }, options: { modelFile?: string; modelBytes?: Buffer; manifest?: Partial<ModelManifest> } = {}): Promise<string> {
  const srcDir = path.join(root, 'models', from.name, from.version);
  const dir = path.join(root, 'models', to.name, to.version);
  await mkdir(dir, { recursive: true });
  if (options.modelBytes !== undefined) await writeFile(path.join(dir, MODEL_FILE), options.modelBytes);
  else await copyFile(options.modelFile ?? path.join(srcDir, MODEL_FILE), path.join(dir, MODEL_FILE));
  const manifest = JSON.parse(await readFile(path.join(srcDir, MANIFEST_FILE), 'utf8')) as ModelManifest;
  const sha = sha256Hex(await readFile(path.join(dir, MODEL_FILE)));
  const next = { ...manifest, name: to.name, version: to.version, sha256: sha, ...options.manifest };
  await writeFile(path.join(dir, MANIFEST_FILE), JSON.stringify(next));
  return sha;
}

describe('inferencer hot swap with the real runtime', function () {
  this.timeout(180_000);
  let h: Harness;
  let tensor: Awaited<ReturnType<typeof writeTensor>>;
  const CLS = { name: 'paddleocr-cls', version: '1' };

  before(async () => {
    // The detector is not needed here; serving only `cls` keeps each swap cheap.
    h = await startInferencer({ models: { cls: CLS }, maxBatchSize: 16, maxQueueDelayMs: 2 });
    await installVersion(h.root, CLS, { name: CLS.name, version: '2' });
    const img = await renderText(260, 40, [{ text: 'Hot swap under load', x: 6, y: 29, fontSize: 26 }], { rotate180: true });
    tensor = await writeTensor(h.root, { profile: 'cls', ...(await preprocessCls(img)), seed: 'swap' });
  });
  after(async () => {
    await h.close();
  });

  /** The tensor as another source's, with its own file (the module removes a tensor file once used). */
  const withId = (n: number): Promise<typeof tensor> => tensorCopy(h.root, tensor, sha256Hex(`swap-${n}`));

  const deliverAndCheckServing = async (version: string): Promise<void> => {
    const msg = await withId(Math.floor(Math.random() * 1e12));
    await h.client.deliver('tensors', msg);
    const r = h.results().find((x) => x['id'] === msg.id);
    assert.ok(r, 'the old model still serves');
    assert.equal((r['model'] as { version: string }).version, version);
    assert.equal((r['outputs'] as { label: string }).label, '180');
  };

  it('swaps 10 times while 500 tensors flow, losing no tensor and failing no inference', async () => {
    const flow = (async () => {
      const pending: Promise<void>[] = [];
      for (let i = 0; i < 500; i++) {
        pending.push(h.client.deliver('tensors', await withId(i)));
        if (i % 25 === 24) await new Promise((r) => setTimeout(r, 5));
      }
      await Promise.all(pending);
    })();
    const swaps = (async () => {
      for (let s = 1; s <= 10; s++) {
        const report = await h.patch({ models: { cls: { ...CLS, version: s % 2 === 1 ? '2' : '1' } } });
        assert.equal(report.status, 'applied', JSON.stringify(report.problems));
      }
    })();
    await Promise.all([flow, swaps]);
    // Tensors beyond the intake bound (maxQueueItems) were deferred, not lost: offer them again, as the watcher does.
    const results = (): Record<string, unknown>[] => h.results().filter((r) => (r['part'] as string) === 'result:cls');
    let offered = 0;
    for (let round = 0; round < 20; round++) {
      const done = new Set(results().map((r) => r['id'] as string));
      const again = [...new Set(h.completions().filter((c) => c['outcome'] === 'deferred' && c['code'] === 'OVERLOADED').map((c) => c['id'] as string))].filter((id) => !done.has(id));
      if (again.length === 0) break;
      offered += again.length;
      await Promise.all(again.map(async (id) => h.client.deliver('tensors', await tensorCopy(h.root, tensor, id))));
    }
    const ids = new Set(results().map((r) => r['id'] as string));
    for (let i = 0; i < 500; i++) assert.ok(ids.has(sha256Hex(`swap-${i}`)), `result for tensor ${i}`);
    const notDeferred = h.completions().filter((c) => c['outcome'] !== 'deferred' || c['code'] !== 'OVERLOADED');
    assert.deepEqual(notDeferred, [], 'nothing dead-lettered');
    assert.equal(h.alerts().filter((a) => a['severity'] === 'error').length, 0);
    const versions = new Set(results().map((r) => (r['model'] as { version: string }).version));
    assert.deepEqual([...versions].sort(), ['1', '2'], 'both versions served during the flow');
    assert.ok(results().every((r) => (r['outputs'] as { label: string }).label === '180'));
    const left = (await readdir(path.join(h.root, 'staging'), { recursive: true })).filter((n) => n.endsWith('.npy') && !tensor.tensor.path.endsWith(n));
    assert.deepEqual(left, [], 'every tensor file removed from staging across the swaps');
    const status = h.running.binder.lastReport();
    assert.equal(status?.status, 'applied');
    // Each swap opened the new version in as many replicas as configured (session/replicas.ts) and released the old ones.
    const replicas = replicaPlan({ sessionReplicas: INFERENCER_DEFAULTS.sessionReplicas, intraOpThreads: 0 }, availableParallelism()).cpu;
    assert.equal((h.client.reported['models'] as Record<string, { replicas: number }>)['cls']!.replicas, replicas);
    console.log(`      largest batch ${Math.max(...results().map((r) => (r['runtime'] as { batchSize: number }).batchSize))}; ${offered} deferred (intake full) and offered again`);
  });

  it('refuses a corrupt model; the old one keeps serving', async () => {
    await installVersion(h.root, CLS, { name: CLS.name, version: 'corrupt' }, { modelBytes: Buffer.from('this is not an onnx model at all') });
    const serving = (h.client.reported['models'] as Record<string, { version: string }>)['cls']!.version;
    const alertsBefore = h.alerts().length;
    const report = await h.patch({ models: { cls: { ...CLS, version: 'corrupt' } } });
    assert.equal(report.status, 'rejected');
    assert.match(report.problems.join(' '), /MODEL_INVALID/);
    const cls = (h.client.reported['models'] as Record<string, { version: string; lastError: { code: string; message: string } }>)['cls']!;
    assert.equal(cls.version, serving);
    assert.equal(cls.lastError.code, 'MODEL_INVALID');
    const alert = h.alerts().slice(alertsBefore).find((a) => a['code'] === 'MODEL_INVALID');
    assert.ok(alert, 'an alert');
    await deliverAndCheckServing(serving);
  });

  it('refuses a SHA-256 mismatch; the old one keeps serving', async () => {
    const serving = (h.client.reported['models'] as Record<string, { version: string }>)['cls']!.version;
    const report = await h.patch({ models: { cls: { ...CLS, version: '2', sha256: 'a'.repeat(64) } } });
    assert.equal(report.status, 'rejected');
    assert.match(report.problems.join(' '), /SHA-256 mismatch/);
    assert.ok(h.alerts().some((a) => /SHA-256 mismatch/.test(String(a['message']))));
    await deliverAndCheckServing(serving);
  });

  it('refuses a model whose signature does not match its manifest; the old one keeps serving', async () => {
    const det = bundledModels().find((b) => b.profile === 'det')!;
    // The detector's bytes under the classifier's manifest: its output is a [N,1,H,W] map, not [N,2].
    await installVersion(h.root, CLS, { name: CLS.name, version: 'wrong-signature' }, { modelFile: det.file });
    const serving = (h.client.reported['models'] as Record<string, { version: string }>)['cls']!.version;
    // `sha256: null` removes the bad hash the previous (rejected) patch left in the desired document.
    const report = await h.patch({ models: { cls: { ...CLS, version: 'wrong-signature', sha256: null } } });
    assert.equal(report.status, 'rejected');
    assert.match(report.problems.join(' '), /does not match its manifest/);
    await deliverAndCheckServing(serving);
  });

  it('clears partial downloads left in the staging directory at start, and installs the bundled models idempotently', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'edgeml-inferencer-staging-'));
    await mkdir(path.join(root, 'models', '.staging'), { recursive: true });
    await writeFile(path.join(root, 'models', '.staging', 'half.onnx'), 'partial');
    const other = await startInferencer({ models: { cls: CLS } }, root);
    try {
      await assert.rejects(stat(path.join(root, 'models', '.staging', 'half.onnx')));
      const again = await installBundledModels(path.join(root, 'models'));
      assert.ok(again.every((m) => !m.installed), 'already in the store');
    } finally {
      await other.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('reloadModel validates its payload and swaps on request; memory stays bounded over 20 swaps', async () => {
    for (const bad of [{ profile: 'CLS!' }, { profile: 'cls', extra: 1 }, { profile: 42 }, [1, 2]]) {
      const r = await h.client.invoke('reloadModel', bad);
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.equal((r.payload as { code: string }).code, 'METHOD_PAYLOAD_INVALID');
      assert.ok((r.payload as { problems: string[] }).problems.length > 0);
    }
    const unknown = await h.client.invoke('reloadModel', { profile: 'nope' });
    assert.equal(unknown.status, 500);
    const rss: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await h.client.invoke('reloadModel', { profile: 'cls' });
      assert.equal(r.status, 200, JSON.stringify(r.payload));
      await h.client.deliver('tensors', await withId(10_000 + i));
      global.gc?.();
      rss.push(Math.round(process.memoryUsage().rss / 1048576));
    }
    console.log(`      RSS over 20 swaps (MiB): ${rss.join(' ')}`);
    const growth = (rss[19] ?? 0) - (rss[4] ?? 0);
    assert.ok(growth < 64, `RSS grew ${growth} MiB over 15 swaps`);
  });
});
