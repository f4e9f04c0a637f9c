/**
 * Inferencer benchmark (prints, never asserts). `npx tsx bench/inferencer.ts [options]`
 *
 *   --items N          tensors per throughput run (default 256)
 *   --max-batch N      the inferencer's maxBatchSize for the throughput run (default 16)
 *   --rate R           arrivals per second for the latency run (default 100)
 *   --latency-items N  tensors in the latency run (default 300)
 *   --det-size S       detector input side for the sweep, a multiple of 32 (default 320; the det profile is 640)
 *   --det-items N      detector tensors (640×640, the det profile) per throughput run (default 12)
 *   --provider P       cpu | auto | cuda (default auto)
 *   --sweep-seconds T  time budget per batch size in the sweep (default 0.6)
 *
 * 1. Throughput: the whole inferencer (message parse, .npy read + SHA-256, batching, post-processing,
 *    result messages) beside a raw `session.run` loop on the same model and input shapes, same process.
 * 2. Batch-size sweep 1–32 with raw `session.run`, for the classifier and the detector.
 * 3. Latency (p50/p99, message in → result sent) at a fixed arrival rate through the inferencer.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import path from 'node:path';

// Workspace packages resolve to their TypeScript sources only under the `@edgeml/source` condition;
// re-run once with it so `npx tsx bench/inferencer.ts` works without a build.
if (!process.execArgv.some((a) => a.includes('@edgeml/source')) && process.env['EDGEML_BENCH_CHILD'] === undefined) {
  const r = spawnSync(process.execPath, ['--conditions=@edgeml/source', '--import', 'tsx', ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, EDGEML_BENCH_CHILD: '1' },
  });
  process.exit(r.status ?? 1);
}

const { SCHEMAS, createHash, createMemoryEdgeClient, runModule } = await import('@edgeml/shared').then(async (s) => ({ ...s, createHash: (await import('node:crypto')).createHash }));
const inf = await import('@edgeml/inferencer');

const arg = (name: string, fallback: number | string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : String(fallback);
};
const ITEMS = Number(arg('items', 256));
const MAX_BATCH = Number(arg('max-batch', 16));
const RATE = Number(arg('rate', 100));
const LAT_ITEMS = Number(arg('latency-items', 300));
const DET_SIZE = Number(arg('det-size', 320));
const PROVIDER = arg('provider', 'auto') as 'cpu' | 'auto' | 'cuda';
const SWEEP_S = Number(arg('sweep-seconds', 0.6));
const DET_ITEMS = Number(arg('det-items', 12));

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const fmt = (n: number, d = 1): string => n.toFixed(d);

const root = await mkdtemp(path.join(tmpdir(), 'edgeml-bench-inferencer-'));
try {
  const models = inf.bundledModels();
  const clsModel = models.find((m) => m.profile === 'cls')!;
  const detModel = models.find((m) => m.profile === 'det')!;
  const sessionOptions = { executionProvider: PROVIDER, cudaDeviceId: 0, intraOpThreads: 0, interOpThreads: 0 } as const;

  // A few distinct cls tensors, written as the transformer would, reused under distinct ids.
  const clsShape = [1, 3, 48, 192];
  const clsCount = 3 * 48 * 192;
  const variants: { rel: string; sha256: string; data: Float32Array }[] = [];
  for (let v = 0; v < 8; v++) {
    const data = Float32Array.from({ length: clsCount }, (_, i) => Math.sin(i * (v + 1) * 0.001));
    const npy = inf.encodeNpy({ dtype: 'float32', shape: clsShape, data });
    const rel = `staging/bench/cls-${v}.npy`;
    await mkdir(path.join(root, 'staging', 'bench'), { recursive: true });
    await writeFile(path.join(root, rel), npy);
    variants.push({ rel, sha256: sha(npy), data });
  }
  const message = (n: number): object => {
    const v = variants[n % variants.length]!;
    const id = sha(`bench-${n}`);
    return {
      schema: SCHEMAS.tensor,
      id,
      messageId: id.slice(0, 32),
      source: { path: `inbox/${n}.png`, sha256: id, sizeBytes: 1000, detectedAt: new Date().toISOString() },
      part: 'result:cls',
      expectedParts: ['artifact', 'result:cls'],
      tensor: { path: v.rel, sha256: v.sha256, dtype: 'float32', shape: clsShape, layout: 'NCHW' },
      preprocessing: { profile: 'cls', signature: inf.DEFAULT_PROFILES.cls.signature, spec: inf.CLS_PROFILE_SPEC },
      createdAt: new Date().toISOString(),
    };
  };

  const client = createMemoryEdgeClient({ moduleId: 'inferencer', initialDesired: { executionProvider: PROVIDER, models: { cls: { name: 'paddleocr-cls', version: '1' }, det: { name: 'paddleocr-det', version: '1' } }, maxBatchSize: MAX_BATCH, maxQueueDelayMs: 2 } });
  const running = await runModule(inf.inferencerModule, {
    env: { EDGEML_DATA_ROOT: root, EDGEML_METRICS_PORT: '0', EDGEML_LOG_LEVEL: 'error' },
    argv: [],
    connect: () => Promise.resolve(client),
  });
  const runtime = client.reported['runtime'] as { onnxruntimeVersion: string; executionProvider: { active: string; fallbackReason?: string | null } };
  console.log(`onnxruntime-node ${runtime.onnxruntimeVersion}, provider ${runtime.executionProvider.active}${typeof runtime.executionProvider.fallbackReason === 'string' ? ` (fallback: ${runtime.executionProvider.fallbackReason.slice(0, 100)}…)` : ''}, ${cpus().length} CPUs, node ${process.version}`);

  // ---- 1. throughput: inferencer vs raw session.run ----------------------------------------------------
  const raw = await inf.openSession(clsModel.file, sessionOptions);
  const rawLoop = async (batch: number, items: number): Promise<number> => {
    const data = new Float32Array(clsCount * batch);
    for (let b = 0; b < batch; b++) data.set(variants[b % variants.length]!.data, b * clsCount);
    const t0 = performance.now();
    for (let done = 0; done < items; done += batch) await raw.run('x', { dtype: 'float32', data, dims: [batch, 3, 48, 192] });
    return items / ((performance.now() - t0) / 1000);
  };
  const appRun = async (batch: number, items: number, offset: number): Promise<number> => {
    await running.binder.handle({ kind: 'patch', properties: { $version: 1000 + offset, maxBatchSize: batch } });
    client.sent.length = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: items }, (_, i) => client.deliver('tensors', message(offset + i))));
    const s = (performance.now() - t0) / 1000;
    const results = client.sentTo('results').length;
    if (results !== items) console.log(`  (warning: ${results} results for ${items} tensors)`);
    return items / s;
  };
  await rawLoop(MAX_BATCH, MAX_BATCH * 2); // warm-up
  await appRun(MAX_BATCH, MAX_BATCH * 2, 900_000);
  console.log(`\n1. Throughput, classifier [N,3,48,192], ${ITEMS} tensors (items/s)`);
  console.log('   batch  raw session.run  inferencer  ratio');
  for (const b of [1, MAX_BATCH]) {
    const r = await rawLoop(b, ITEMS);
    const a = await appRun(b, ITEMS, b * 100_000);
    console.log(`   ${String(b).padStart(5)}  ${fmt(r).padStart(15)}  ${fmt(a).padStart(10)}  ${fmt(a / r, 2).padStart(5)}`);
  }

  // Detector at the det profile's shape: few items, each run is expensive on a CPU.
  {
    const detShape = [1, 3, 640, 640];
    const per = 3 * 640 * 640;
    const data = Float32Array.from({ length: per }, (_, i) => Math.sin(i * 0.003) * 0.8);
    const npy = inf.encodeNpy({ dtype: 'float32', shape: detShape, data });
    await writeFile(path.join(root, 'staging/bench/det.npy'), npy);
    const detMessage = (n: number): object => {
      const id = sha(`bench-det-${n}`);
      return {
        schema: SCHEMAS.tensor,
        id,
        messageId: id.slice(0, 32),
        source: { path: `inbox/d${n}.png`, sha256: id, sizeBytes: 1000, detectedAt: new Date().toISOString() },
        part: 'result:det',
        expectedParts: ['artifact', 'result:det'],
        tensor: { path: 'staging/bench/det.npy', sha256: sha(npy), dtype: 'float32', shape: detShape, layout: 'NCHW' },
        preprocessing: { profile: 'det', signature: inf.DEFAULT_PROFILES.det.signature, spec: inf.DET_PROFILE_SPEC },
        createdAt: new Date().toISOString(),
      };
    };
    const detRaw = await inf.openSession(detModel.file, sessionOptions);
    console.log(`\n1b. Throughput, detector [N,3,640,640], ${DET_ITEMS} tensors (items/s)`);
    console.log('   batch  raw session.run  inferencer  ratio');
    for (const b of [1, 4]) {
      const batchData = new Float32Array(per * b);
      for (let k = 0; k < b; k++) batchData.set(data, k * per);
      await detRaw.run('x', { dtype: 'float32', data: batchData, dims: [b, 3, 640, 640] });
      let t0 = performance.now();
      for (let done = 0; done < DET_ITEMS; done += b) await detRaw.run('x', { dtype: 'float32', data: batchData, dims: [b, 3, 640, 640] });
      const r = DET_ITEMS / ((performance.now() - t0) / 1000);
      await running.binder.handle({ kind: 'patch', properties: { $version: 1500 + b, maxBatchSize: b } });
      client.sent.length = 0;
      t0 = performance.now();
      await Promise.all(Array.from({ length: DET_ITEMS }, (_, i) => client.deliver('tensors', detMessage(b * 1000 + i))));
      const a = DET_ITEMS / ((performance.now() - t0) / 1000);
      console.log(`   ${String(b).padStart(5)}  ${fmt(r, 2).padStart(15)}  ${fmt(a, 2).padStart(10)}  ${fmt(a / r, 2).padStart(5)}`);
    }
    await detRaw.release();
    await running.binder.handle({ kind: 'patch', properties: { $version: 1600, maxBatchSize: MAX_BATCH } });
  }

  // ---- 2. batch-size sweep ------------------------------------------------------------------------
  const sweep = async (label: string, session: Awaited<ReturnType<typeof inf.openSession>>, item: number[]): Promise<void> => {
    const per = item.reduce((a, b) => a * b, 1);
    console.log(`\n2. Batch-size sweep, ${label} [N,${item.join(',')}] raw session.run`);
    console.log('   batch  runs  ms/run  items/s');
    for (const b of [1, 2, 4, 8, 16, 32]) {
      const data = Float32Array.from({ length: per * b }, (_, i) => Math.sin(i * 0.01) * 0.5);
      await session.run('x', { dtype: 'float32', data, dims: [b, ...item] });
      let runs = 0;
      const t0 = performance.now();
      do {
        await session.run('x', { dtype: 'float32', data, dims: [b, ...item] });
        runs++;
      } while (performance.now() - t0 < SWEEP_S * 1000);
      const ms = (performance.now() - t0) / runs;
      console.log(`   ${String(b).padStart(5)}  ${String(runs).padStart(4)}  ${fmt(ms).padStart(6)}  ${fmt((b * 1000) / ms).padStart(7)}`);
    }
  };
  await sweep('classifier', raw, [3, 48, 192]);
  const det = await inf.openSession(detModel.file, sessionOptions);
  await sweep(`detector (${DET_SIZE}×${DET_SIZE})`, det, [3, DET_SIZE, DET_SIZE]);
  await det.release();
  await raw.release();

  // ---- 3. latency at a fixed arrival rate --------------------------------------------------------------
  console.log(`\n3. Latency at ${RATE} tensors/s (constant arrivals), ${LAT_ITEMS} classifier tensors through the inferencer`);
  console.log('   maxBatchSize  maxQueueDelayMs  p50 ms  p99 ms  mean batch');
  for (const [b, delay] of [[1, 0], [MAX_BATCH, 2], [MAX_BATCH, 10]] as const) {
    await running.binder.handle({ kind: 'patch', properties: { $version: 2000 + b * 100 + delay, maxBatchSize: b, maxQueueDelayMs: delay } });
    client.sent.length = 0;
    const lat: number[] = [];
    const pending: Promise<void>[] = [];
    const t0 = performance.now();
    for (let i = 0; i < LAT_ITEMS; i++) {
      const due = t0 + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const start = performance.now();
      pending.push(client.deliver('tensors', message(3_000_000 + b * 10_000 + delay * 1000 + i)).then(() => void lat.push(performance.now() - start)));
    }
    await Promise.all(pending);
    const batches = client.sentTo('results').map((m) => (m.json as { runtime: { batchSize: number } }).runtime.batchSize);
    const meanBatch = batches.reduce((a, x) => a + x, 0) / Math.max(1, batches.length);
    console.log(`   ${String(b).padStart(12)}  ${String(delay).padStart(15)}  ${fmt(pct(lat, 50)).padStart(6)}  ${fmt(pct(lat, 99)).padStart(6)}  ${fmt(meanBatch, 2).padStart(10)}`);
  }
  await running.stop('bench done');
} finally {
  await rm(root, { recursive: true, force: true });
}
