/**
 * Inferencer benchmark (prints, never asserts). `npx tsx bench/inferencer.ts [options]`
 *
 *   --cls-items N      classifier tensors per throughput row (default 256; rounded up to a multiple of the batch)
 *   --det-items N      detector tensors per throughput row (default 32)
 *   --batches B,B      batch sizes of the throughput rows (default 1,16)
 *   --rate R           arrivals per second for the latency run (default 100)
 *   --latency-items N  tensors in the latency run (default 300)
 *   --det-size S       detector input side for the sweep, a multiple of 32 (default 640, the det profile)
 *   --provider P       cpu | auto | cuda (default auto)
 *   --sweep-seconds T  time budget per batch size in the sweep (default 0.6)
 *   --rounds N         raw and module runs of each throughput row, alternated; the best of each is kept (default 2)
 *   --replicas R       also the classifier at batch 1 with `sessionReplicas: R` (default 2; 0 skips it)
 *
 * 1. Throughput, module beside the raw library on the same tensors, in the same process:
 *    - raw: plain onnxruntime-node — `InferenceSession.create` with the same provider, then `session.run`
 *      on batches stacked from the same tensor data, one run after another (concurrency 1). This is the
 *      ratio the issue's target is judged by;
 *    - raw job: the plain libraries doing the module's whole job, one batch after another (concurrency
 *      1): each tensor's `.npy` read with `readFileSync` and copied from its data offset into the batch,
 *      `session.run`, the top class of each item (argmax; the detector's output is left as it is), and
 *      each file unlinked (the directories are left, as the module's janitor leaves them to its sweep).
 *      Printed beside it, not instead: what the module costs over the library doing the same work;
 *    - module: the whole inferencer (runModule with the in-memory edge client): every tensor a message
 *      naming its own `.npy` file in staging, all delivered at once (concurrency = items), parsed,
 *      admitted, batched at exactly that batch size, read into a batch buffer, run and post-processed in
 *      the session worker, sent as a result; its file removed. Items count what was run: a row's items
 *      are a multiple of its batch size, so every batch is full on both sides.
 *    Raw and module runs alternate (`--rounds`) and the best of each is kept, because a shared machine's
 *    load moves both. `cpu ms/item` is the process's CPU time (every thread) per item: what each side
 *    costs, whatever the load. `loop p99` is the main thread's event-loop delay while the module ran.
 * 2. Batch-size sweep 1–32 with raw `session.run`: the source of the per-provider batching defaults.
 * 3. Latency (p50/p99, message in → result sent) at a fixed arrival rate through the inferencer.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, unlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
// The raw library itself, imported as the module's adapter imports it.
import ort from 'onnxruntime-node';

// Workspace packages resolve to their TypeScript sources only under the `@edgeml/source` condition;
// re-run once with it so `npx tsx bench/inferencer.ts` works without a build.
if (!process.execArgv.some((a) => a.includes('@edgeml/source')) && process.env['EDGEML_BENCH_CHILD'] === undefined) {
  const r = spawnSync(process.execPath, ['--conditions=@edgeml/source', '--import', 'tsx', ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, EDGEML_BENCH_CHILD: '1' },
  });
  process.exit(r.status ?? 1);
}

const { SCHEMAS, createMemoryEdgeClient, runModule } = await import('@edgeml/shared');
const { createHash } = await import('node:crypto');
const inf = await import('@edgeml/inferencer');

const arg = (name: string, fallback: number | string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : String(fallback);
};
const CLS_ITEMS = Number(arg('cls-items', 256));
const DET_ITEMS = Number(arg('det-items', 32));
const BATCHES = arg('batches', '1,16').split(',').map(Number);
const RATE = Number(arg('rate', 100));
const LAT_ITEMS = Number(arg('latency-items', 300));
const DET_SIZE = Number(arg('det-size', 640));
const PROVIDER = arg('provider', 'auto') as 'cpu' | 'auto' | 'cuda';
const SWEEP_S = Number(arg('sweep-seconds', 0.6));
const ROUNDS = Math.max(1, Number(arg('rounds', 2)));
const REPLICAS = Number(arg('replicas', 2));

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const fmt = (n: number, d = 1): string => n.toFixed(d);
const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

interface ModelCase {
  readonly profile: 'cls' | 'det';
  readonly file: string;
  readonly item: readonly number[];
  readonly variants: readonly Float32Array[];
  readonly spec: typeof inf.CLS_PROFILE_SPEC;
  readonly signature: string;
  readonly items: number;
}

const root = await mkdtemp(path.join(tmpdir(), 'edgeml-bench-inferencer-'));
try {
  const bundled = inf.bundledModels();
  const makeVariants = (item: readonly number[], n: number): Float32Array[] => {
    const per = item.reduce((a, b) => a * b, 1);
    return Array.from({ length: n }, (_, v) => Float32Array.from({ length: per }, (_, i) => Math.sin(i * (v + 1) * 0.001) * 0.8));
  };
  const cases: ModelCase[] = [
    { profile: 'cls', file: bundled.find((b) => b.profile === 'cls')!.file, item: [3, 48, 192], variants: makeVariants([3, 48, 192], 8), spec: inf.CLS_PROFILE_SPEC, signature: inf.DEFAULT_PROFILES.cls.signature, items: CLS_ITEMS },
    { profile: 'det', file: bundled.find((b) => b.profile === 'det')!.file, item: [3, 640, 640], variants: makeVariants([3, 640, 640], 2), spec: inf.DET_PROFILE_SPEC, signature: inf.DEFAULT_PROFILES.det.signature, items: DET_ITEMS },
  ];

  const client = createMemoryEdgeClient({
    moduleId: 'inferencer',
    initialDesired: { executionProvider: PROVIDER, models: { cls: { name: 'paddleocr-cls', version: '1' }, det: { name: 'paddleocr-det', version: '1' } }, maxQueueItems: 100_000, maxQueueBytes: 8 * 1024 ** 3 },
  });
  const running = await runModule(inf.inferencerModule, {
    env: { EDGEML_DATA_ROOT: root, EDGEML_METRICS_PORT: '0', EDGEML_LOG_LEVEL: 'error' },
    argv: [],
    connect: () => Promise.resolve(client),
  });
  const runtime = client.reported['runtime'] as { onnxruntimeVersion: string; executionProvider: { active: string; fallbackReason?: string | null } };
  const provider = runtime.executionProvider.active === 'cuda' ? 'cuda' : 'cpu';
  console.log(`onnxruntime-node ${runtime.onnxruntimeVersion}, provider ${runtime.executionProvider.active}${typeof runtime.executionProvider.fallbackReason === 'string' ? ` (fallback: ${runtime.executionProvider.fallbackReason.slice(0, 100)}…)` : ''}, ${cpus().length} CPUs, node ${process.version}`);

  let version = 1000;
  const patch = (properties: Record<string, unknown>): Promise<unknown> => running.binder.handle({ kind: 'patch', properties: { ...properties, $version: ++version } });

  /** Writes one `.npy` per message (the module removes each file once used), outside the timed part. */
  let seq = 0;
  const messages = async (c: ModelCase, n: number): Promise<object[]> => {
    const out: object[] = [];
    for (let i = 0; i < n; i++) {
      const k = seq++;
      const id = sha(`bench-${c.profile}-${k}`);
      const shape = [1, ...c.item];
      const npy = inf.encodeNpy({ dtype: 'float32', shape, data: c.variants[k % c.variants.length]! });
      const rel = `staging/${id}/${c.profile}.npy`;
      await mkdir(path.join(root, 'staging', id), { recursive: true });
      await writeFile(path.join(root, rel), npy);
      out.push({
        schema: SCHEMAS.tensor,
        id,
        messageId: id.slice(0, 32),
        source: { path: `inbox/${k}.png`, sha256: id, sizeBytes: 1000, detectedAt: new Date().toISOString() },
        part: `result:${c.profile}`,
        expectedParts: ['artifact', `result:${c.profile}`],
        tensor: { path: rel, sha256: sha(npy), dtype: 'float32', shape, layout: 'NCHW' },
        preprocessing: { profile: c.profile, signature: c.signature, spec: c.spec },
        createdAt: new Date().toISOString(),
      });
    }
    return out;
  };

  // ---- 1. throughput: module beside plain onnxruntime-node -----------------------------------------------
  const cpuMs = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const rawRun = async (c: ModelCase, batch: number, items: number): Promise<{ rate: number; cpuMsPerItem: number }> => {
    const session = await ort.InferenceSession.create(c.file, { graphOptimizationLevel: 'all', logSeverityLevel: 3, executionProviders: [provider === 'cuda' ? 'cuda' : 'cpu'] });
    const per = c.variants[0]!.length;
    const data = new Float32Array(per * batch);
    for (let b = 0; b < batch; b++) data.set(c.variants[b % c.variants.length]!, b * per);
    const feed = { [session.inputNames[0]!]: new ort.Tensor('float32', data, [batch, ...c.item]) };
    await session.run(feed); // warm-up at this shape
    const c0 = cpuMs();
    const t0 = performance.now();
    for (let done = 0; done < items; done += batch) await session.run(feed);
    const rate = items / ((performance.now() - t0) / 1000);
    const cpuMsPerItem = (cpuMs() - c0) / items;
    await session.release();
    return { rate, cpuMsPerItem };
  };
  /** The plain libraries doing the module's job on `items` staged files (see the header), one batch at a time. */
  const rawJobRun = async (c: ModelCase, batch: number, items: number): Promise<{ rate: number; cpuMsPerItem: number }> => {
    const session = await ort.InferenceSession.create(c.file, { graphOptimizationLevel: 'all', logSeverityLevel: 3, executionProviders: [provider === 'cuda' ? 'cuda' : 'cpu'] });
    const per = c.variants[0]!.length;
    const files: string[] = [];
    for (let i = 0; i < items + batch; i++) {
      const dir = path.join(root, 'raw-job', `${seq++}`);
      await mkdir(dir, { recursive: true });
      files.push(path.join(dir, `${c.profile}.npy`));
      await writeFile(files[i]!, inf.encodeNpy({ dtype: 'float32', shape: [1, ...c.item], data: c.variants[i % c.variants.length]! }));
    }
    const runBatch = async (batchFiles: readonly string[]): Promise<void> => {
      const data = new Float32Array(per * batchFiles.length);
      batchFiles.forEach((f, b) => {
        const bytes = readFileSync(f);
        const offset = 10 + bytes.readUInt16LE(8); // .npy 1.0: magic, version, header length, header
        data.set(new Float32Array(bytes.buffer, bytes.byteOffset + offset, per), b * per);
      });
      const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', data, [batchFiles.length, ...c.item]) });
      if (c.profile === 'cls') {
        const scores = out[session.outputNames[0]!]!.data as Float32Array;
        const classes = scores.length / batchFiles.length;
        for (let b = 0; b < batchFiles.length; b++) {
          let best = 0;
          for (let k = 1; k < classes; k++) if (scores[b * classes + k]! > scores[b * classes + best]!) best = k;
          top.push(best);
        }
      }
      for (const f of batchFiles) unlinkSync(f);
    };
    const top: number[] = [];
    await runBatch(files.slice(items)); // warm-up at this shape
    const c0 = cpuMs();
    const t0 = performance.now();
    for (let done = 0; done < items; done += batch) await runBatch(files.slice(done, done + batch));
    const rate = items / ((performance.now() - t0) / 1000);
    const cpuMsPerItem = (cpuMs() - c0) / items;
    await session.release();
    await rm(path.join(root, 'raw-job'), { recursive: true, force: true });
    return { rate, cpuMsPerItem };
  };
  const moduleRun = async (c: ModelCase, batch: number, items: number): Promise<{ rate: number; cpuMsPerItem: number; loopP99Ms: number }> => {
    // Every batch full, as on the raw side: the preferred size dispatches as soon as it is there, and the delay
    // is long enough that messages still being admitted (on a loaded machine) are not cut into a partial batch.
    await patch({ maxBatchSize: 256, maxQueueDelayMs: 500, models: { [c.profile]: { name: `paddleocr-${c.profile}`, version: '1', maxBatchSize: batch, preferredBatchSizes: [batch] } } });
    // Warm-up through the module at this batch size, not measured.
    await Promise.all((await messages(c, batch)).map((m) => client.deliver('tensors', m)));
    const msgs = await messages(c, items);
    client.sent.length = 0;
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const c0 = cpuMs();
    const t0 = performance.now();
    await Promise.all(msgs.map((m) => client.deliver('tensors', m)));
    const s = (performance.now() - t0) / 1000;
    const cpu = cpuMs() - c0;
    loop.disable();
    const results = client.sentTo('results').map((m) => (m.json as { runtime: { batchSize: number } }).runtime.batchSize);
    if (results.length !== items) console.log(`   (warning: ${results.length} results for ${items} tensors)`);
    if (results.some((b) => b !== batch)) console.log(`   (warning: batches of ${[...new Set(results)].join(', ')} for batch ${batch})`);
    return { rate: results.length / s, cpuMsPerItem: cpu / items, loopP99Ms: loop.percentile(99) / 1e6 };
  };

  /** One row: raw and module runs alternated `ROUNDS` times, the best of each kept. */
  const throughputRow = async (c: ModelCase, batch: number) => {
    const items = roundUp(c.items, batch);
    let raw = { rate: 0, cpuMsPerItem: Infinity };
    let job = { rate: 0, cpuMsPerItem: Infinity };
    let mod = { rate: 0, cpuMsPerItem: Infinity, loopP99Ms: 0 };
    for (let r = 0; r < ROUNDS; r++) {
      const a = await rawRun(c, batch, items);
      if (a.rate > raw.rate) raw = a;
      const j = await rawJobRun(c, batch, items);
      if (j.rate > job.rate) job = j;
      const b = await moduleRun(c, batch, items);
      if (b.rate > mod.rate) mod = b;
    }
    return { raw, job, mod, items };
  };

  console.log('\n1. Throughput, module / raw on the same tensors (items/s; raw = plain onnxruntime-node session.run)');
  console.log(`   best of ${ROUNDS} alternated runs per side`);
  console.log('   model  batch  items  raw conc  raw items/s  module conc  module items/s  ratio  raw cpu ms/item  module cpu ms/item  loop p99 ms  raw job items/s  module/raw job');
  const ratios: { label: string; ratio: number }[] = [];
  for (const c of cases) {
    if (c.items <= 0) continue;
    for (const batch of BATCHES) {
      const { raw, job, mod, items } = await throughputRow(c, batch);
      const ratio = mod.rate / raw.rate;
      ratios.push({ label: `${c.profile} batch ${batch}`, ratio });
      const decimals = c.profile === 'det' ? 2 : 1;
      console.log(
        `   ${c.profile.padEnd(5)}  ${String(batch).padStart(5)}  ${String(items).padStart(5)}  ${String(1).padStart(8)}  ${fmt(raw.rate, decimals).padStart(11)}  ${String(items).padStart(11)}  ${fmt(mod.rate, decimals).padStart(14)}  ${fmt(ratio, 2).padStart(5)}  ${fmt(raw.cpuMsPerItem, 2).padStart(15)}  ${fmt(mod.cpuMsPerItem, 2).padStart(18)}  ${fmt(mod.loopP99Ms).padStart(11)}  ${fmt(job.rate, decimals).padStart(15)}  ${fmt(mod.rate / job.rate, 2).padStart(14)}`,
      );
    }
  }
  const worst = ratios.reduce((a, b) => (b.ratio < a.ratio ? b : a));
  console.log(`   lowest ratio module/raw ${fmt(worst.ratio, 2)} (${worst.label})`);
  if (REPLICAS > 1 && cases[0]!.items > 0) {
    // Not the default (sessionReplicas 1): two sessions of the classifier side by side, each in its worker.
    await patch({ sessionReplicas: REPLICAS });
    const { raw, mod } = await throughputRow(cases[0]!, 1);
    await patch({ sessionReplicas: inf.INFERENCER_DEFAULTS.sessionReplicas });
    console.log(`   with sessionReplicas ${REPLICAS} (not the default): cls batch 1 raw ${fmt(raw.rate)} module ${fmt(mod.rate)} items/s, ratio ${fmt(mod.rate / raw.rate, 2)}, module cpu ${fmt(mod.cpuMsPerItem, 2)} ms/item`);
  }

  // ---- 2. batch-size sweep ------------------------------------------------------------------------
  const sweep = async (label: string, file: string, item: number[], sizes: number[]): Promise<void> => {
    const session = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'all', logSeverityLevel: 3, executionProviders: [provider === 'cuda' ? 'cuda' : 'cpu'] });
    const per = item.reduce((a, b) => a * b, 1);
    console.log(`\n2. Batch-size sweep, ${label} [N,${item.join(',')}], raw session.run, concurrency 1`);
    console.log('   batch  runs  ms/run  items/s');
    for (const b of sizes) {
      const data = Float32Array.from({ length: per * b }, (_, i) => Math.sin(i * 0.01) * 0.5);
      const feed = { [session.inputNames[0]!]: new ort.Tensor('float32', data, [b, ...item]) };
      await session.run(feed);
      let runs = 0;
      const t0 = performance.now();
      do {
        await session.run(feed);
        runs++;
      } while (performance.now() - t0 < SWEEP_S * 1000);
      const ms = (performance.now() - t0) / runs;
      console.log(`   ${String(b).padStart(5)}  ${String(runs).padStart(4)}  ${fmt(ms).padStart(6)}  ${fmt((b * 1000) / ms).padStart(7)}`);
    }
    await session.release();
  };
  if (SWEEP_S > 0) {
    await sweep('classifier', cases[0]!.file, [3, 48, 192], [1, 2, 4, 8, 16, 32]);
    await sweep(`detector (${DET_SIZE}×${DET_SIZE})`, cases[1]!.file, [3, DET_SIZE, DET_SIZE], DET_SIZE > 320 ? [1, 2, 4] : [1, 2, 4, 8]);
  }

  // ---- 3. latency at a fixed arrival rate --------------------------------------------------------------
  if (LAT_ITEMS > 0) console.log(`\n3. Latency at ${RATE} tensors/s (constant arrivals), ${LAT_ITEMS} classifier tensors through the inferencer`);
  if (LAT_ITEMS > 0) console.log('   maxBatchSize  maxQueueDelayMs  p50 ms  p99 ms  mean batch');
  const cls = cases[0]!;
  for (const [b, delay] of LAT_ITEMS > 0 ? ([[1, 0], [16, 2], [16, 10]] as const) : []) {
    await patch({ maxBatchSize: 256, maxQueueDelayMs: delay, models: { cls: { name: 'paddleocr-cls', version: '1', maxBatchSize: b, preferredBatchSizes: null } } });
    const msgs = await messages(cls, LAT_ITEMS);
    client.sent.length = 0;
    const lat: number[] = [];
    const pending: Promise<void>[] = [];
    const t0 = performance.now();
    for (let i = 0; i < LAT_ITEMS; i++) {
      const due = t0 + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const start = performance.now();
      pending.push(client.deliver('tensors', msgs[i]!).then(() => void lat.push(performance.now() - start)));
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
