/**
 * Tables benchmark: `npm run bench:tables -- [options]` (or `npx tsx bench/tables.ts`)
 *
 *   --mb N        generated CSV size in MiB (default 32)
 *   --gib         a 1 GiB CSV instead (the size; about a minute per path here)
 *   --no-arrow    skip the built-in CSV → Arrow parser (the pre-DuckDB path, ~4 MiB/s) and parquet-wasm after it
 *
 * CSV → Parquet through the transformer's module path (convertCsvToParquet: DuckDB plus the byte
 * checks beside it, temp file, fsync, rename) against DuckDB used raw (one COPY … TO … parquet with
 * the same memory limit, threads, compression and row group size) on the same file in the same run,
 * each in its own child process so each peak RSS is its own. Prints MiB/s, seconds and peak RSS per
 * path and the module/raw ratio. Same CSV generator as bench/transformer.ts (7 mixed columns).
 * The candidates the issue named beside them: the built-in parser (CSV → Arrow IPC, the path before
 * DuckDB) and parquet-wasm (0.8.0: Arrow → Parquet in WebAssembly; it reads no CSV, so its row is the
 * built-in parser's Arrow stream written as Parquet with the same compression and row groups, and it
 * prints the parquet-wasm share of the time).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type * as Arrow from 'apache-arrow';

if (!process.execArgv.some((a) => a.includes('@edgeml/source')) && process.env['EDGEML_BENCH_CHILD'] !== '1') {
  const r = spawnSync(process.execPath, [...process.execArgv, '--conditions=@edgeml/source', ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, EDGEML_BENCH_CHILD: '1' } });
  process.exit(r.status ?? 1);
}

const shared = await import('@edgeml/shared');
const tr = await import('@edgeml/transformer');

const flag = (name: string): boolean => process.argv.includes(`--${name}`);
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}
const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

function tableOptions() {
  const binder = shared.createTwinConfigBinder({
    schema: tr.TRANSFORMER_CONFIG_SCHEMA,
    build: tr.buildTransformerConfig,
    apply: () => Promise.resolve(),
    report: () => Promise.resolve(),
    logger: shared.createLogger({ name: 'bench', level: 'silent' }),
  });
  const r = binder.validate({});
  if ('problems' in r) throw new Error(r.problems.join('; '));
  return r.config.table;
}

async function writeCsv(file: string, targetBytes: number): Promise<{ bytes: number; sha256: string; rows: number }> {
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  let bytes = 0;
  let rows = 0;
  const cities = ['Oslo', 'Zürich', '"Paris, FR"', 'Kyiv', '東京'];
  let chunk = 'id,ts,value,flag,name,city,note\n';
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

/** One path, in this (child) process; prints one JSON line. */
async function child(which: string, source: string, sha: string): Promise<void> {
  const options = tableOptions();
  const target = `${source}.${which}.${which === 'arrow' ? 'arrow' : 'parquet'}`;
  const t0 = performance.now();
  let rows: number;
  let wasmSeconds: number | undefined;
  if (which === 'module') {
    const engine = tr.createDuckDbEngine(() => ({ memoryLimitBytes: options.engineMemoryLimitBytes, threads: options.engineThreads }));
    rows = (await tr.convertCsvToParquet({ sourcePath: source, targetPath: target, expectedSha256: sha, options, engine })).rows;
    engine.close();
  } else if (which === 'raw') {
    const engine = tr.createDuckDbEngine(() => ({ memoryLimitBytes: options.engineMemoryLimitBytes, threads: options.engineThreads }));
    const session = await engine.session();
    const [count] = await session.all(`COPY (SELECT * FROM read_csv('${source}')) TO '${target}' (FORMAT parquet, COMPRESSION ${options.parquetCompression}, ROW_GROUP_SIZE ${options.rowGroupRows})`);
    rows = Number(count?.['Count']);
    session.close();
    engine.close();
  } else if (which === 'wasm') {
    const arrowFile = `${source}.wasm.arrow`;
    rows = (await tr.convertTable({ sourcePath: source, targetPath: arrowFile, format: 'csv', expectedSha256: sha, options })).rows;
    const t1 = performance.now();
    const pq = await import('parquet-wasm');
    // The built-in path writes the IPC file format; parquet-wasm reads the stream format.
    const arrow = createRequire(new URL('../modules/transformer/package.json', import.meta.url))('apache-arrow') as typeof Arrow;
    const stream = arrow.tableToIPC(arrow.tableFromIPC(await readFile(arrowFile)), 'stream');
    const codec = options.parquetCompression === 'zstd' ? pq.Compression.ZSTD : pq.Compression.SNAPPY;
    const props = new pq.WriterPropertiesBuilder().setCompression(codec).setMaxRowGroupSize(options.rowGroupRows).build();
    await writeFile(target, pq.writeParquet(pq.Table.fromIPCStream(stream), props));
    await rm(arrowFile, { force: true });
    wasmSeconds = (performance.now() - t1) / 1000; // includes the file → stream re-encoding (apache-arrow)
  } else {
    rows = (await tr.convertTable({ sourcePath: source, targetPath: target, format: 'csv', expectedSha256: sha, options })).rows;
  }
  const seconds = (performance.now() - t0) / 1000;
  const outputBytes = (await stat(target)).size;
  await rm(target, { force: true });
  process.stdout.write(`${JSON.stringify({ which, seconds, rows, outputBytes, maxRssBytes: process.resourceUsage().maxRSS * 1024, ...(wasmSeconds === undefined ? {} : { wasmSeconds }) })}\n`);
}

interface ChildResult {
  readonly which: string;
  readonly seconds: number;
  readonly rows: number;
  readonly outputBytes: number;
  readonly maxRssBytes: number;
  /** parquet-wasm's share (Arrow IPC read + Parquet write), for the wasm row. */
  readonly wasmSeconds?: number;
}

async function runChild(which: string, file: string, sha: string): Promise<ChildResult> {
  const c = spawn(process.execPath, [...process.execArgv, process.argv[1]!, '--child', which, file, sha], { env: { ...process.env, EDGEML_BENCH_CHILD: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => c.on('close', resolve));
  if (code !== 0) throw new Error(`${which} exited ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult;
}

if (flag('child')) {
  const i = process.argv.indexOf('--child');
  await child(process.argv[i + 1]!, process.argv[i + 2]!, process.argv[i + 3]!);
} else {
  const root = await mkdtemp(path.join(os.tmpdir(), 'edgeml-bench-tables-'));
  try {
    const targetBytes = flag('gib') ? 1024 * 1024 * 1024 : Number(arg('mb', '32')) * 1024 * 1024;
    const file = path.join(root, 'bench.csv');
    const gen = await writeCsv(file, targetBytes);
    const o = tableOptions();
    console.log(`node ${process.version}, ${os.cpus().length} cores; CSV ${mib(gen.bytes)} MiB, ${gen.rows} rows × 7 columns; DuckDB memory limit ${mib(o.engineMemoryLimitBytes)} MiB, ${o.engineThreads} threads, ${o.parquetCompression}, row groups of ${o.rowGroupRows}`);
    const paths = ['raw', 'module', ...(flag('no-arrow') ? [] : ['arrow', 'wasm'])];
    const results = [];
    for (const which of paths) results.push(await runChild(which, file, gen.sha256));
    const label: Record<string, string> = { raw: 'DuckDB raw (COPY → Parquet)', module: 'module path (convertCsvToParquet)', arrow: 'built-in parser (CSV → Arrow IPC)', wasm: 'built-in parser + parquet-wasm' };
    for (const r of results) {
      const wasm = r.wasmSeconds === undefined ? '' : `  (parquet-wasm ${r.wasmSeconds.toFixed(2)} s of it)`;
      console.log(`${label[r.which]!.padEnd(36)} ${(gen.bytes / 1024 / 1024 / r.seconds).toFixed(1).padStart(7)} MiB/s  ${r.seconds.toFixed(2).padStart(7)} s  peak RSS ${mib(r.maxRssBytes).padStart(7)} MiB  rows ${r.rows}  output ${mib(r.outputBytes)} MiB${wasm}`);
    }
    const raw = results.find((r) => r.which === 'raw')!;
    const mod = results.find((r) => r.which === 'module')!;
    console.log(`module / raw throughput: ${(raw.seconds / mod.seconds).toFixed(2)} (target ≥ 0.9)`);
    if (mod.rows !== gen.rows || raw.rows !== gen.rows) throw new Error(`row counts differ: generated ${gen.rows}, module ${mod.rows}, raw ${raw.rows}`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
