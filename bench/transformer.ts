/**
 * Transformer benchmark: `npx tsx bench/transformer.ts [options]`
 *
 *   --images N          images per run (default 24)
 *   --size WxH          synthetic photo-like JPEG size (default 1280x960)
 *   --rounds N          rounds (each runs every image pipeline once), best kept (default 4)
 *   --csv-mb N          CSV size for the CSV → Arrow run (default 16)
 *   --vips-threads N    image.vipsThreads for every pipeline (default 1, the module default)
 *   --concurrency N     items at a time for every pipeline (default 2, maxConcurrentItems' default)
 *   --tensor-workers N  image.tensorWorkers (default 1, the module default)
 *   --candidates N      normalisation candidates, N det tensors each (default 40; 0 skips)
 *   --big-csv           also convert a generated CSV of --big-csv-mb (default 1024) in a child
 *                       process and report its peak RSS (the "1 GB CSV under 300 MB" check)
 *
 * Images: bench/transformer-images.ts (the module against a plain sharp pipeline doing the same job,
 * and the normalisation candidates). Tables: CSV → Arrow MiB/s.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

// Workspace packages resolve to their TypeScript sources under the `@edgeml/source` condition
// (as in the tests); re-run this file with it when it was started without.
if (!process.execArgv.some((a) => a.includes('@edgeml/source')) && process.env['EDGEML_BENCH_CHILD'] !== '1') {
  const r = spawnSync(process.execPath, [...process.execArgv, '--conditions=@edgeml/source', ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, EDGEML_BENCH_CHILD: '1' },
  });
  process.exit(r.status ?? 1);
}

const sharp = (await import('sharp')).default;
const shared = await import('@edgeml/shared');
const tr = await import('@edgeml/transformer');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

/** The conversion alone, in this process, for the peak-RSS measurement. */
async function childConvert(source: string, sha: string): Promise<void> {
  const target = `${source}.arrow`;
  const t0 = performance.now();
  const result = await tr.convertTable({ sourcePath: source, targetPath: target, format: 'csv', expectedSha256: sha, options: configFor({}).table });
  const seconds = (performance.now() - t0) / 1000;
  const maxRssBytes = process.resourceUsage().maxRSS * 1024;
  const arrowBytes = (await stat(target)).size;
  await rm(target, { force: true });
  process.stdout.write(`${JSON.stringify({ seconds, maxRssBytes, rows: result.rows, batches: result.batches, arrowBytes, inferMs: result.inferMs, convertMs: result.convertMs })}\n`);
}

function configFor(desired: Record<string, unknown>) {
  const binder = shared.createTwinConfigBinder({
    schema: tr.TRANSFORMER_CONFIG_SCHEMA,
    build: tr.buildTransformerConfig,
    apply: () => Promise.resolve(),
    report: () => Promise.resolve(),
    logger: shared.createLogger({ name: 'bench', level: 'silent' }),
  });
  const r = binder.validate(desired);
  if ('problems' in r) throw new Error(r.problems.join('; '));
  return r.config;
}

async function writeCsv(file: string, targetBytes: number): Promise<{ bytes: number; sha256: string; rows: number }> {
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  let bytes = 0;
  let rows = 0;
  const header = 'id,ts,value,flag,name,city,note\n';
  const cities = ['Oslo', 'Zürich', '"Paris, FR"', 'Kyiv', '東京'];
  let chunk = header;
  while (bytes + chunk.length < targetBytes) {
    for (let i = 0; i < 5000; i++, rows++) {
      const ts = new Date(Date.UTC(2024, 0, 1) + rows * 1000).toISOString();
      chunk += `${rows},${ts},${(rows * 0.37).toFixed(3)},${rows % 3 === 0},name-${rows % 9973},${cities[rows % 5]},${rows % 7 === 0 ? '' : 'ok'}\n`;
    }
    const buf = Buffer.from(chunk);
    hash.update(buf);
    bytes += buf.length;
    if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
    chunk = '';
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return { bytes, sha256: hash.digest('hex'), rows };
}

async function csvBench(root: string): Promise<void> {
  const mb = Number(arg('csv-mb', '16'));
  const file = path.join(root, 'bench.csv');
  const gen = await writeCsv(file, mb * 1024 * 1024);
  const t0 = performance.now();
  const result = await tr.convertTable({ sourcePath: file, targetPath: `${file}.arrow`, format: 'csv', expectedSha256: gen.sha256, options: configFor({}).table });
  const seconds = (performance.now() - t0) / 1000;
  console.log(`csv → arrow: ${mib(gen.bytes)} MiB, ${result.rows} rows × 7 columns, ${result.batches} batches`);
  console.log(`  ${(gen.bytes / 1024 / 1024 / seconds).toFixed(1)} MiB/s overall (${seconds.toFixed(2)} s: infer pass ${(result.inferMs / 1000).toFixed(2)} s, convert pass ${(result.convertMs / 1000).toFixed(2)} s)`);
}

async function bigCsv(root: string): Promise<void> {
  const mb = Number(arg('big-csv-mb', '1024'));
  const file = path.join(root, 'big.csv');
  const gen = await writeCsv(file, mb * 1024 * 1024);
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, '--child-convert', file, gen.sha256], {
    env: { ...process.env, EDGEML_BENCH_CHILD: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`child conversion exited ${code}`);
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as { seconds: number; maxRssBytes: number; rows: number; batches: number; arrowBytes: number };
  console.log(`big csv → arrow (child process): ${mib(gen.bytes)} MiB, ${r.rows} rows, ${r.batches} batches, Arrow ${mib(r.arrowBytes)} MiB`);
  console.log(`  ${(gen.bytes / 1024 / 1024 / r.seconds).toFixed(1)} MiB/s, ${r.seconds.toFixed(1)} s, peak RSS ${mib(r.maxRssBytes)} MiB ${r.maxRssBytes < 300 * 1024 * 1024 ? '(< 300 MiB: ok)' : '(OVER 300 MiB)'}`);
}

if (process.argv.includes('--child-convert')) {
  const i = process.argv.indexOf('--child-convert');
  await childConvert(process.argv[i + 1]!, process.argv[i + 2]!);
} else {
  const root = await mkdtemp(path.join(os.tmpdir(), 'edgeml-bench-transformer-'));
  try {
    console.log(`node ${process.version}, sharp ${sharp.versions.sharp} / libvips ${sharp.versions.vips}, ${os.cpus().length} cores`);
    const images = await import('./transformer-images.js');
    const [width, height] = arg('size', '1280x960').split('x').map(Number) as [number, number];
    const concurrency = Number(arg('concurrency', '2'));
    const vipsThreads = Number(arg('vips-threads', '1'));
    const tensorWorkers = Number(arg('tensor-workers', '1'));
    await images.imageBench(root, {
      count: Number(arg('images', '24')),
      width,
      height,
      concurrency,
      vipsThreads,
      tensorWorkers,
      rounds: Number(arg('rounds', '4')),
      config: configFor({ maxConcurrentItems: concurrency, image: { vipsThreads, tensorWorkers } }),
    });
    const candidates = Number(arg('candidates', '40'));
    if (candidates > 0) await images.normalisationCandidates(candidates);
    await csvBench(root);
    if (flag('big-csv')) await bigCsv(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
