/**
 * Uploader benchmark: `npx tsx bench/uploader.ts [options]`
 *
 *   --files N           small files per run (default 50; the figure: --files 500)
 *   --size-mb N         size of each small file in MiB (default 1)
 *   --large-mb N        also one large file of N MiB (default 0 = skip; the figure: --large-mb 512)
 *   --concurrency N     items in flight, both sides (default 4)
 *   --rounds N          alternate raw/uploader N times and keep each side's best (default 1)
 *   --full              shorthand for --files 500 --large-mb 512
 *
 * Against a real Azurite (npm, on-disk), in one process: the same generated files uploaded
 * (a) with raw @azure/storage-blob `uploadFile` (the same SDK copy the uploader uses), N files at a
 * time, single shot up to 16 MiB and 8 MiB blocks × 4 above it (the uploader's defaults), and
 * (b) through the real uploader app (durable SQLite queue, SHA-256 check, Content-MD5 per request,
 * create-if-absent, completions through a memory edge client), `concurrency` N. Reported: MiB/s of
 * each and uploader/raw. Prints, never asserts.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Storage from '@azure/storage-blob';

if (!process.execArgv.some((a) => a.includes('@edgeml/source')) && process.env['EDGEML_BENCH_CHILD'] !== '1') {
  const r = spawnSync(process.execPath, [...process.execArgv, '--conditions=@edgeml/source', ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, EDGEML_BENCH_CHILD: '1' },
  });
  process.exit(r.status ?? 1);
}

const shared = await import('@edgeml/shared');
const uploader = await import('@edgeml/uploader');
// The tests' Azurite helper, loaded by URL: bench/ is its own TypeScript project and tests/ is not in it.
interface Azurite {
  readonly connectionString: string;
  stop(): Promise<void>;
}
const { startAzurite } = (await import(pathToFileURL(path.resolve(import.meta.dirname, '../tests/helpers/azurite.ts')).href)) as { startAzurite: () => Promise<Azurite> };
// The SDK copy the uploader resolves (12.32 in its own node_modules), not the root's older one.
const storage = createRequire(path.resolve(import.meta.dirname, '../modules/uploader/package.json'))('@azure/storage-blob') as typeof Storage;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}
const full = process.argv.includes('--full');
const files = Number(arg('files', full ? '500' : '50'));
const sizeMiB = Number(arg('size-mb', '1'));
const largeMiB = Number(arg('large-mb', full ? '512' : '0'));
const concurrency = Number(arg('concurrency', '4'));
const rounds = Number(arg('rounds', '1'));
const MiB = 1024 * 1024;

interface BenchFile {
  readonly file: string;
  readonly rel: string;
  readonly sizeBytes: number;
  readonly sha256: string;
}

async function generate(dir: string, name: string, sizeBytes: number): Promise<BenchFile> {
  const file = path.join(dir, name);
  const hash = createHash('sha256');
  const h = await open(file, 'w');
  const chunk = randomBytes(Math.min(sizeBytes, 4 * MiB));
  for (let o = 0; o < sizeBytes; o += chunk.length) {
    const part = chunk.subarray(0, Math.min(chunk.length, sizeBytes - o));
    part.writeUInt32BE(o / chunk.length, 0);
    hash.update(part);
    await h.write(part);
  }
  await h.close();
  return { file, rel: '', sizeBytes, sha256: hash.digest('hex') };
}

async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function rawRun(connectionString: string, container: string, set: readonly BenchFile[]): Promise<number> {
  const c = storage.BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container);
  await c.createIfNotExists();
  const t0 = performance.now();
  await pool(set, concurrency, async (f) => {
    await c.getBlockBlobClient(path.basename(f.file)).uploadFile(f.file, { blockSize: 8 * MiB, concurrency: 4, maxSingleShotSize: 16 * MiB });
  });
  return (performance.now() - t0) / 1000;
}

async function uploaderRun(connectionString: string, container: string, root: string, set: readonly BenchFile[]): Promise<number> {
  const paths = shared.dataPaths(root);
  await rm(paths.state('uploader'), { recursive: true, force: true });
  const edge = shared.createMemoryEdgeClient({ deviceId: 'bench', moduleId: 'uploader' });
  const logger = shared.createLogger({ name: 'bench', level: 'error' });
  const app = uploader.createUploaderApp({ edge, logger, registry: new shared.Registry(), paths, env: { EDGEML_STORAGE_CONNECTION_STRING: connectionString, IOTEDGE_DEVICEID: 'bench' }, now: () => new Date() });
  const binder = shared.createTwinConfigBinder({ schema: uploader.UPLOADER_CONFIG_SCHEMA, build: uploader.buildUploaderConfig, apply: () => Promise.resolve(), report: () => Promise.resolve(), logger });
  const cfg = binder.validate({ containerName: container, concurrency, deleteAfterUpload: false });
  if ('problems' in cfg) throw new Error(cfg.problems.join('; '));
  await app.configure(cfg.config as never, undefined);
  await edge.open();
  await app.start();
  const t0 = performance.now();
  for (const f of set) {
    const id = f.sha256;
    await edge.deliver('artifacts', {
      schema: shared.SCHEMAS.artifact,
      id,
      messageId: `bench-${id}`,
      source: { path: `inbox/${id}.bin`, sha256: id, sizeBytes: f.sizeBytes, detectedAt: '2026-11-24T00:00:00.000Z' },
      part: 'artifact',
      expectedParts: ['artifact'],
      artifact: { path: f.rel, sha256: f.sha256, sizeBytes: f.sizeBytes, kind: 'table', format: 'bin', contentType: 'application/octet-stream', metadata: {} },
      createdAt: new Date().toISOString(),
    });
  }
  // Each part is announced `held` when queued, then `uploaded`: wait for the final outcomes.
  const final = () => edge.sentTo('completed').filter((m) => (m.json as { outcome: string }).outcome !== 'held');
  while (final().length < set.length) await new Promise((r) => setTimeout(r, 5));
  const seconds = (performance.now() - t0) / 1000;
  const bad = final().filter((m) => (m.json as { outcome: string }).outcome !== 'uploaded');
  if (bad.length > 0) console.log(`  !! ${bad.length} not uploaded: ${bad[0]?.body.toString().slice(0, 300)}`);
  await app.stop(AbortSignal.timeout(10_000));
  return seconds;
}

const azurite = await startAzurite();
const root = await mkdtemp(path.join(os.tmpdir(), 'edgeml-bench-uploader-'));
try {
  const staging = path.join(root, 'staging', 'bench');
  await mkdir(staging, { recursive: true });
  const sets: { label: string; files: BenchFile[] }[] = [];
  const small: BenchFile[] = [];
  for (let i = 0; i < files; i++) small.push(await generate(staging, `small-${i}.bin`, sizeMiB * MiB));
  if (files > 0) sets.push({ label: `${files} × ${sizeMiB} MiB`, files: small });
  if (largeMiB > 0) sets.push({ label: `1 × ${largeMiB} MiB`, files: [await generate(staging, 'large.bin', largeMiB * MiB)] });
  const withRel = (fs: BenchFile[]) => fs.map((f) => ({ ...f, rel: path.relative(root, f.file) }));
  console.log(`uploader bench: Azurite (npm, on disk), concurrency ${concurrency}, ${os.cpus().length} CPUs, node ${process.version}`);
  for (const [n, set] of sets.entries()) {
    const bytes = set.files.reduce((s, f) => s + f.sizeBytes, 0);
    let rawBest = Infinity;
    let upBest = Infinity;
    for (let r = 0; r < rounds; r++) {
      rawBest = Math.min(rawBest, await rawRun(azurite.connectionString, `raw-${n}-${r}`, set.files));
      upBest = Math.min(upBest, await uploaderRun(azurite.connectionString, `up-${n}-${r}`, root, withRel(set.files)));
    }
    const mibs = (s: number): string => (bytes / MiB / s).toFixed(1);
    console.log(
      `${set.label.padEnd(16)} raw SDK ${rawBest.toFixed(2)} s (${mibs(rawBest)} MiB/s)   uploader ${upBest.toFixed(2)} s (${mibs(upBest)} MiB/s)   uploader/raw throughput ${(rawBest / upBest).toFixed(2)}`,
    );
  }
} finally {
  await azurite.stop();
  await rm(root, { recursive: true, force: true });
}
