/**
 * The image half of bench/transformer.ts (imported by it once workspace packages resolve to their
 * sources). Three ways to turn the same JPEGs into the same outputs (cls + det tensors as .npy, a
 * PNG artifact), each run `concurrency` images at a time:
 *
 * - module: the real app (memory edge client) doing all it does in production: read, content hash,
 *   probe, one decode, resizes, normalisation on its tensor worker thread, atomic fsync'd writes,
 *   contract-checked messages; and once more with its tensors built on the main thread instead
 *   (the normalisation candidate not taken), for the record;
 * - plain sharp, one pipeline per output: what the sharp documentation suggests, written here with
 *   sharp and plain typed arrays only (no module code): `sharp(file).rotate().resize(…).raw()` per
 *   tensor (JPEG shrink-on-load per output), a per-element normalisation loop, `.npy` header + data
 *   written with one writev, `sharp(file).rotate().resize(…).png()`; no hashing, no fsync, no messages;
 * - plain sharp, decode once: the same, but the file decoded to raw pixels once and every output
 *   made from them.
 *
 * Each round runs every pipeline once, starting with a different one each round; the best time of
 * each is kept. The ratio is module throughput / the faster plain pipeline. The plain tensors are compared with
 * the module's (mean and max difference in 8-bit levels) so that "the same job" is checked, not assumed.
 */
import { open, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import * as shared from '@edgeml/shared';
import * as tr from '@edgeml/transformer';

export interface ImageBenchOptions {
  readonly count: number;
  readonly width: number;
  readonly height: number;
  readonly concurrency: number;
  readonly vipsThreads: number;
  readonly tensorWorkers: number;
  readonly rounds: number;
  readonly config: tr.TransformerConfig;
}

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

/** A photo-like test image: shading, hard edges, stripes and a little sensor noise. */
export function photoPixels(width: number, height: number, seed: number): Uint8Array {
  const px = new Uint8Array(width * height * 3);
  let x = seed;
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < width; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      const noise = ((x >>> 24) & 7) - 4;
      const o = (y * width + i) * 3;
      const disc = (i - width / 3 - seed * 7) ** 2 + (y - height / 2) ** 2 < (height / 4) ** 2;
      const stripe = Math.floor(i / 24) % 2 === 0 && y > height * 0.75;
      px[o] = Math.max(0, Math.min(255, (disc ? 220 : 40 + (180 * i) / width) + noise));
      px[o + 1] = Math.max(0, Math.min(255, (stripe ? 20 : 60 + 120 * Math.sin(y / 90) ** 2) + noise));
      px[o + 2] = Math.max(0, Math.min(255, (disc ? 30 : 200 - (150 * y) / height) + noise));
    }
  }
  return px;
}

async function runPool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

// ---- the plain pipelines (sharp + typed arrays; nothing from the module) --------------------------

interface PlainProfile {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly resize: 'contain' | 'padRight';
  readonly bgr: boolean;
  readonly nchw: boolean;
  readonly scale: number;
  readonly mean: readonly number[];
  readonly std: readonly number[];
  readonly background: readonly number[];
}

interface PlainJob {
  readonly profiles: readonly PlainProfile[];
  readonly artifactMax: { readonly width: number; readonly height: number };
}

/** Resized size and padding: letterbox (contain) or PaddleOCR's pad-right. */
function plainPlacement(p: PlainProfile, w: number, h: number): { rw: number; rh: number; left: number; top: number } {
  if (p.resize === 'contain') {
    const s = Math.min(p.width / w, p.height / h);
    const rw = Math.min(p.width, Math.max(1, Math.round(w * s)));
    const rh = Math.min(p.height, Math.max(1, Math.round(h * s)));
    return { rw, rh, left: Math.floor((p.width - rw) / 2), top: Math.floor((p.height - rh) / 2) };
  }
  return { rw: Math.min(p.width, Math.max(1, Math.ceil((p.height * w) / h))), rh: p.height, left: 0, top: 0 };
}

/** HWC RGB bytes → normalised float32 canvas in the profile's colour order and layout, padded. */
function plainNormalise(src: Uint8Array, rw: number, rh: number, p: PlainProfile, left: number, top: number): Float32Array {
  const W = p.width;
  const H = p.height;
  const out = new Float32Array(W * H * 3);
  for (let c = 0; c < 3; c++) {
    const bg = (p.background[p.bgr ? 2 - c : c]! * p.scale - p.mean[c]!) / p.std[c]!;
    for (let i = 0; i < W * H; i++) out[p.nchw ? c * W * H + i : i * 3 + c] = bg;
  }
  for (let y = 0; y < rh; y++) {
    for (let x = 0; x < rw; x++) {
      const s = (y * rw + x) * 3;
      const t = (y + top) * W + x + left;
      for (let c = 0; c < 3; c++) {
        const v = (src[s + (p.bgr ? 2 - c : c)]! * p.scale - p.mean[c]!) / p.std[c]!;
        out[p.nchw ? c * W * H + t : t * 3 + c] = v;
      }
    }
  }
  return out;
}

async function writePlainNpy(file: string, p: PlainProfile, data: Float32Array): Promise<void> {
  const shape = p.nchw ? `(1, 3, ${p.height}, ${p.width})` : `(1, ${p.height}, ${p.width}, 3)`;
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  dict += ' '.repeat((64 - ((11 + dict.length) % 64)) % 64) + '\n';
  const header = Buffer.alloc(10 + dict.length);
  header.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  header.writeUInt16LE(dict.length, 8);
  header.write(dict, 10, 'latin1');
  const handle = await open(file, 'w');
  try {
    await handle.writev([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
  } finally {
    await handle.close();
  }
}

function fitWithin(w: number, h: number, max: { width: number; height: number }): { width: number; height: number } {
  const s = Math.min(1, max.width / w, max.height / h);
  return { width: Math.max(1, Math.round(w * s)), height: Math.max(1, Math.round(h * s)) };
}

/** Plain sharp, one pipeline per output (sharp decodes the file for each, with shrink-on-load). */
async function plainPerOutput(file: string, outDir: string, job: PlainJob): Promise<void> {
  const bytes = await readFile(file);
  const meta = await sharp(bytes).metadata();
  const swap = (meta.orientation ?? 1) >= 5;
  const w = swap ? meta.height : meta.width;
  const h = swap ? meta.width : meta.height;
  for (const p of job.profiles) {
    const { rw, rh, left, top } = plainPlacement(p, w, h);
    const data = await sharp(bytes).rotate().resize(rw, rh, { fit: 'fill' }).removeAlpha().raw().toBuffer();
    await writePlainNpy(path.join(outDir, `${path.basename(file)}-${p.name}.npy`), p, plainNormalise(data, rw, rh, p, left, top));
  }
  const size = fitWithin(w, h, job.artifactMax);
  await writeFile(path.join(outDir, `${path.basename(file)}.png`), await sharp(bytes).rotate().resize(size.width, size.height, { fit: 'fill' }).png({ compressionLevel: 6 }).toBuffer());
}

/** Plain sharp, decoded once to raw pixels; every output from them. */
async function plainDecodeOnce(file: string, outDir: string, job: PlainJob): Promise<void> {
  const { data: pixels, info } = await sharp(await readFile(file)).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } } as const;
  for (const p of job.profiles) {
    const { rw, rh, left, top } = plainPlacement(p, info.width, info.height);
    const data = await sharp(pixels, raw).resize(rw, rh, { fit: 'fill' }).raw().toBuffer();
    await writePlainNpy(path.join(outDir, `${path.basename(file)}-${p.name}.npy`), p, plainNormalise(data, rw, rh, p, left, top));
  }
  const size = fitWithin(info.width, info.height, job.artifactMax);
  await writeFile(path.join(outDir, `${path.basename(file)}.png`), await sharp(pixels, raw).resize(size.width, size.height, { fit: 'fill' }).png({ compressionLevel: 6 }).toBuffer());
}

function plainJob(cfg: tr.TransformerConfig): PlainJob {
  const profiles = Object.entries(cfg.image.profiles)
    .filter(([, p]) => p.enabled)
    .map(([name, p]): PlainProfile => {
      if (p.resize !== 'contain' && p.resize !== 'padRight') throw new Error(`the plain pipeline covers contain and padRight, not ${p.resize}`);
      if (p.dtype !== 'float32') throw new Error('the plain pipeline writes float32');
      return { name, width: p.width, height: p.height, resize: p.resize, bgr: p.colorOrder === 'BGR', nchw: p.layout === 'NCHW', scale: p.scale, mean: p.mean, std: p.std, background: p.background };
    });
  return { profiles, artifactMax: { width: cfg.image.artifact.maxWidth, height: cfg.image.artifact.maxHeight } };
}

/** Mean and max |module − plain| in 8-bit levels over one tensor. */
function levels(a: Float32Array, b: Float32Array, spec: shared.PreprocessingSpec): { mean: number; max: number } {
  let sum = 0;
  let max = 0;
  const plane = a.length / 3;
  for (let i = 0; i < a.length; i++) {
    const c = (spec.layout === 'NCHW' ? Math.floor(i / plane) : i % 3) as 0 | 1 | 2;
    const d = (Math.abs(a[i]! - b[i]!) * spec.std[c]) / spec.scale;
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.length, max };
}

// ---- the run -------------------------------------------------------------------------------------

/** Module vs plain sharp on the same images; prints the rows bench/run.ts reads. */
export async function imageBench(root: string, o: ImageBenchOptions): Promise<void> {
  const paths = shared.dataPaths(root);
  await mkdir(paths.inbox, { recursive: true });
  const files: { name: string; bytes: Buffer }[] = [];
  for (let i = 0; i < o.count; i++) {
    const bytes = await sharp(Buffer.from(photoPixels(o.width, o.height, i + 1)), { raw: { width: o.width, height: o.height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    const name = `img${i}.jpg`;
    await writeFile(path.join(paths.inbox, name), bytes);
    files.push({ name, bytes });
  }
  const cfg = o.config;
  tr.configureSharp({ vipsThreads: cfg.image.vipsThreads });
  const job = plainJob(cfg);

  // The module twice: as shipped (tensors on worker threads) and with tensors built on the main thread.
  const modules = await Promise.all(
    [undefined, tr.createInlineTensorEncoder()].map(async (tensors) => {
      const edge = shared.createMemoryEdgeClient({ moduleId: 'transformer' });
      const deps = { edge, logger: shared.createLogger({ name: 'transformer', level: 'silent' }), registry: new shared.Registry(), paths, env: {}, now: () => new Date() };
      const app = tr.createTransformerApp(deps, tensors === undefined ? {} : { tensors });
      await app.configure(cfg, undefined);
      await app.start();
      return { edge, app };
    }),
  );
  const messages = files.map((f) => {
    const id = shared.sha256(f.bytes);
    const t = new Date().toISOString();
    const source = { path: `inbox/${f.name}`, sha256: id, sizeBytes: f.bytes.length, detectedAt: t, name: f.name, extension: '.jpg', kind: 'image' as const, mtimeMs: 1 };
    return { schema: shared.SCHEMAS.file, id, messageId: id.slice(0, 16), attempt: 1, source, detectedAt: t, stableAt: t, createdAt: t };
  });
  const runModule = async (m: (typeof modules)[number], attempt: number): Promise<void> => {
    await Promise.all(messages.map((msg) => m.edge.deliver('files', { ...msg, attempt })));
    await m.app.idle();
  };
  const perOutputDir = path.join(root, 'plain-per-output');
  const decodeOnceDir = path.join(root, 'plain-decode-once');
  await mkdir(perOutputDir, { recursive: true });
  await mkdir(decodeOnceDir, { recursive: true });
  // Warm-up: codecs load on first use; the module's tensor thread starts on its first image.
  await plainPerOutput(path.join(paths.inbox, files[0]!.name), perOutputDir, job);
  await plainDecodeOnce(path.join(paths.inbox, files[0]!.name), decodeOnceDir, job);
  for (const m of modules) {
    await m.edge.deliver('files', messages[0]!);
    await m.app.idle();
  }

  const best = { module: Infinity, moduleInline: Infinity, perOutput: Infinity, decodeOnce: Infinity };
  // CPU time of the whole process (every thread: main, libuv's, libvips', the tensor worker) per
  // image, median over the rounds: the work each pipeline costs, much less sensitive to other load
  // on the machine than wall time.
  const cpu: Record<keyof typeof best, number[]> = { module: [], moduleInline: [], perOutput: [], decodeOnce: [] };
  const mainBusy: Record<keyof typeof best, number[]> = { module: [], moduleInline: [], perOutput: [], decodeOnce: [] };
  const median = (v: readonly number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
  const time = async (key: keyof typeof best, fn: () => Promise<void>): Promise<number> => {
    const c0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    await fn();
    const seconds = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    cpu[key].push((c.user + c.system) / 1000 / o.count);
    mainBusy[key].push(performance.eventLoopUtilization(elu0).active / o.count);
    return seconds;
  };
  const pipelines: { key: keyof typeof best; run: (round: number) => Promise<void> }[] = [
    { key: 'perOutput', run: () => runPool(files, o.concurrency, (f) => plainPerOutput(path.join(paths.inbox, f.name), perOutputDir, job)) },
    { key: 'decodeOnce', run: () => runPool(files, o.concurrency, (f) => plainDecodeOnce(path.join(paths.inbox, f.name), decodeOnceDir, job)) },
    { key: 'module', run: (round) => runModule(modules[0]!, round + 2) },
    { key: 'moduleInline', run: (round) => runModule(modules[1]!, round + 2) },
  ];
  for (let round = 0; round < o.rounds; round++) {
    // Each round starts with another pipeline: on a shared machine, position in the round matters.
    for (let i = 0; i < pipelines.length; i++) {
      const p = pipelines[(round + i) % pipelines.length]!;
      best[p.key] = Math.min(best[p.key], await time(p.key, () => p.run(round)));
    }
  }
  for (const m of modules) {
    await m.app.stop(AbortSignal.timeout(5000));
    const forwarded = (m.app.status() as { forwarded: number }).forwarded;
    if (forwarded !== o.rounds * o.count + 1) throw new Error(`module forwarded ${forwarded} of ${o.rounds * o.count + 1} images`);
  }

  // The same job: the module's tensors against the plain ones, for every image.
  const sent = modules[0]!.edge.sentTo('tensors').map((m) => m.json as shared.TensorMessage);
  const agreement: string[] = [];
  for (const p of job.profiles) {
    let mean = 0;
    let max = 0;
    for (const f of files) {
      const t = sent.find((s) => s.source.path === `inbox/${f.name}` && s.preprocessing.profile === p.name)!;
      const mine = shared.decodeNpy(await readFile(path.join(root, t.tensor.path))).data as Float32Array;
      const plain = shared.decodeNpy(await readFile(path.join(perOutputDir, `${f.name}-${p.name}.npy`))).data as Float32Array;
      const d = levels(mine, plain, t.preprocessing.spec as shared.PreprocessingSpec);
      mean += d.mean / files.length;
      max = Math.max(max, d.max);
    }
    agreement.push(`${p.name} mean ${mean.toFixed(2)} / max ${max.toFixed(0)} levels`);
  }

  const rate = (seconds: number): number => o.count / seconds;
  const rawBest = Math.max(rate(best.perOutput), rate(best.decodeOnce));
  const totalBytes = files.reduce((a, f) => a + f.bytes.length, 0);
  console.log(`images: ${o.count} × ${o.width}×${o.height} JPEG (${mib(totalBytes)} MiB), profiles ${job.profiles.map((p) => p.name).join('+')} + PNG artifact`);
  console.log(`  batch 1 (one image per item), concurrency ${o.concurrency} items at a time (module: maxConcurrentItems; plain: a pool of ${o.concurrency}), vipsThreads ${o.vipsThreads}, tensorWorkers ${o.tensorWorkers}, best of ${o.rounds} rounds, each starting with another pipeline`);
  const work = (key: keyof typeof best): string => `cpu ${median(cpu[key]).toFixed(0)} ms/image, main thread busy ${median(mainBusy[key]).toFixed(0)} ms/image`;
  console.log(`  plain sharp, one pipeline per output  ${rate(best.perOutput).toFixed(1)} images/s  (${best.perOutput.toFixed(2)} s; ${work('perOutput')})`);
  console.log(`  plain sharp, decode once              ${rate(best.decodeOnce).toFixed(1)} images/s  (${best.decodeOnce.toFixed(2)} s; ${work('decodeOnce')})`);
  console.log(`  module, tensors on the main thread     ${rate(best.moduleInline).toFixed(1)} images/s  (${best.moduleInline.toFixed(2)} s; ${work('moduleInline')}; the candidate not taken)`);
  console.log(`  module     ${rate(best.module).toFixed(1)} images/s  (${best.module.toFixed(2)} s; ${work('module')}; as shipped: includes content hash, fsync'd atomic writes, messages)`);
  console.log(`  raw sharp  ${rawBest.toFixed(1)} images/s  (the faster plain pipeline)`);
  console.log(`  ratio module/raw = ${(rate(best.module) / rawBest).toFixed(2)}`);
  console.log(`  same tensors: module vs plain per-output pipeline: ${agreement.join('; ')}`);
}

// ---- normalisation candidates ----------------------------------------------------------------------

/**
 * Ways to turn a resized 8-bit RGB image into the det tensor (640×640, BGR, NCHW, float32,
 * letterboxed), each fed the same pixels `n` times in a row: wall time per tensor, and how long the
 * main thread was busy per tensor (event-loop utilisation), which is what message handling waits
 * on. Each candidate's output is checked once against the module's reference values.
 */
export async function normalisationCandidates(n: number): Promise<void> {
  const spec = tr.profileSpec(tr.DEFAULT_PROFILES.det);
  const plan = tr.planResize(1280, 960, spec);
  const src = await sharp(Buffer.from(photoPixels(1280, 960, 3)), { raw: { width: 1280, height: 960, channels: 3 } }).resize(plan.resizeWidth, plan.resizeHeight, { fit: 'fill' }).raw().toBuffer();
  const pixels = { data: new Uint8Array(src.buffer, src.byteOffset, src.byteLength), width: plan.resizeWidth, height: plan.resizeHeight };
  const reference = tr.toTensor(pixels, plan, spec).data as Float32Array;
  const maxError = (values: Float32Array): number => values.reduce((m, v, i) => Math.max(m, Math.abs(v - reference[i]!)), 0);
  const tensorData = (t: tr.EncodedTensor): Float32Array => new Float32Array(t.bytes.buffer, t.bytes.byteOffset + t.bytes.length - reference.length * 4, reference.length).slice();

  const measure = async (label: string, once: () => Promise<void>, check: () => Promise<Float32Array>, note = ''): Promise<void> => {
    const error = maxError(await check()); // also the warm-up (a worker's start)
    const elu0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await once();
    const wallMs = (performance.now() - t0) / n;
    const busyMs = performance.eventLoopUtilization(elu0).active / n;
    console.log(`  ${label.padEnd(50)} ${wallMs.toFixed(2).padStart(6)} ms/tensor, main thread busy ${busyMs.toFixed(2).padStart(6)} ms, max |error| ${error.toExponential(1)}${note}`);
  };

  console.log(`normalisation candidates: det tensor (640×640×3 float32, ${mib(reference.length * 4)} MiB) from ${plan.resizeWidth}×${plan.resizeHeight} RGB, ${n} in a row`);
  const fresh = tr.createInlineTensorEncoder({ maxRecycledBytes: 0 });
  await measure('main thread: loop, fresh buffer, .npy + hash', async () => void (await fresh.encode(pixels, plan, spec)), async () => tensorData(await fresh.encode(pixels, plan, spec)));
  const reused = tr.createInlineTensorEncoder();
  await measure(
    'main thread: loop, reused buffer, .npy + hash',
    async () => reused.recycle(await reused.encode(pixels, plan, spec)),
    async () => tensorData(await reused.encode(pixels, plan, spec)),
  );
  const pool = new tr.TensorWorkerPool({ threads: 1 });
  await measure(
    'worker thread: loop, reused buffer, .npy + hash',
    async () => pool.recycle(await pool.encode(pixels, plan, spec)),
    async () => tensorData(await pool.encode(pixels, plan, spec)),
    '  ← the module',
  );
  await pool.close();
  // libvips through sharp: colour order by recomb, (x·scale − mean)/std by linear, float output.
  // Timed without the layout (HWC, no padding) the tensor still needs afterwards.
  const a = [0, 1, 2].map((c) => spec.scale / spec.std[c as 0 | 1 | 2]);
  const b = [0, 1, 2].map((c) => -spec.mean[c as 0 | 1 | 2] / spec.std[c as 0 | 1 | 2]);
  const vips = () =>
    sharp(src, { raw: { width: pixels.width, height: pixels.height, channels: 3 } })
      .recomb([
        [0, 0, 1],
        [0, 1, 0],
        [1, 0, 0],
      ])
      .linear(a, b)
      .raw({ depth: 'float' })
      .toBuffer();
  await measure(
    'libvips: sharp recomb + linear → float (HWC only)',
    async () => void (await vips()),
    async () => {
      const data = await vips();
      const hwc = new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4);
      const out = Float32Array.from(reference);
      const W = plan.outputWidth;
      for (let y = 0; y < pixels.height; y++) for (let x = 0; x < pixels.width; x++) for (let c = 0; c < 3; c++) out[c * W * W + (y + plan.padTop) * W + x + plan.padLeft] = hwc[(y * pixels.width + x) * 3 + c]!;
      return out;
    },
    '  (unusable: sharp casts linear() back to 8 bits)',
  );
}
