/**
 * Watcher benchmark: `npx tsx bench/watcher.ts [options]`
 *
 *   --files N           files dropped at once into the inbox (default 1000; the figure is 10000)
 *   --rounds N          drop rounds per side, interleaved; medians are reported (default 3)
 *   --initial-scan      also measure the initial scan of --scan-files files present before start
 *   --scan-files N      files for the initial scan (default 100000)
 *   --window-ms N       stabilityWindowMs for the run (default 1000, checks 2)
 *   --no-events         initial scan with useEvents false (inventory only; chokidar holds every entry in memory)
 *
 * Drop: N small files are written at once into a fresh inbox, and three sides are timed from the
 * first write, each alone in the process (one after the other, the order rotated every round, so
 * neither pays for the other's CPU):
 *   - raw chokidar: `add` events for all N (detection only: no stability, no identity, no record);
 *   - chokidar doing the watcher's job: `awaitWriteFinish` (size unchanged for the same window) then
 *     a SHA-256 of each file (detection, stability and identity, but nothing durable);
 *   - the watcher (runModule + watcherModule, a counting in-memory edge client, real ledger with
 *     fsync): all N `files` messages, i.e. events, two stability checks (size and mtime), SHA-256,
 *     the durable ledger (stable files recorded, emissions written ahead) and the sends.
 * The ratio is raw chokidar's time over the watcher's time minus the stability window (the
 * window is a setting, not work). The writer is a separate process (as a user's copy is), the
 * folders exist before the drop, and the process runs with UV_THREADPOOL_SIZE=16 as the watcher's
 * image does (all sides alike). Peak RSS is the process's.
 *
 * Initial scan: N files present before start; the watcher's time to emit them all (the inventory
 * walk, stability, hashing, ledger) beside raw chokidar's time to `ready` on the same tree
 * (ignoreInitial: false, reporting every file).
 *
 * Prints, never asserts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EdgeClient, MemoryEdgeClient, RunningModule } from '@edgeml/shared';
import type * as ChokidarTypes from 'chokidar';

type ChokidarModule = typeof ChokidarTypes;

// Workspace packages resolve to their TypeScript sources under the `@edgeml/source` condition
// (as in the tests), and libuv's pool is sized as in the watcher's image; re-run this file with
// both when it was started without (once: the child has both).
const hasCondition = process.execArgv.some((a) => a.includes('@edgeml/source'));
if ((!hasCondition && process.env['EDGEML_BENCH_CHILD'] !== '1') || process.env['UV_THREADPOOL_SIZE'] === undefined) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...(hasCondition ? [] : ['--conditions=@edgeml/source']), ...process.argv.slice(1)], {
    stdio: 'inherit',
    // As the watcher's image sets it (Dockerfile); libuv reads it once, so it must be set before start.
    env: { UV_THREADPOOL_SIZE: '16', ...process.env, EDGEML_BENCH_CHILD: '1' },
  });
  process.exit(r.status ?? 1);
}

const shared = await import('@edgeml/shared');
const watcher = await import('@edgeml/watcher');
// The chokidar the watcher uses (v5, in its own node_modules), not whatever the root resolves to.
const chokidarPath = createRequire(path.resolve(import.meta.dirname, '../modules/watcher/package.json')).resolve('chokidar');
const chokidar = (await import(pathToFileURL(chokidarPath).href)) as ChokidarModule;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}
const files = Number(arg('files', '1000'));
const rounds = Math.max(1, Number(arg('rounds', '3')));
/** For profiling one side alone: a comma-separated list of sides (default: all three). */
const onlySides = process.argv.includes('--sides') ? arg('sides', '').split(',') : undefined;
const scanFiles = Number(arg('scan-files', '100000'));
const windowMs = Number(arg('window-ms', '1000'));
const initialScan = process.argv.includes('--initial-scan');
const scanEvents = !process.argv.includes('--no-events');

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const peakRss = (): number => process.resourceUsage().maxRSS * 1024;
let sampledPeak = 0;
const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, process.memoryUsage().rss)), 50);

/** A memory edge client that counts `files` messages instead of keeping them (100,000 bodies would dominate RSS). */
let lastClient: MemoryEdgeClient | undefined;
function countingClient(onFiles: () => void, useEvents = true): EdgeClient {
  const mem = shared.createMemoryEdgeClient({ moduleId: 'watcher', initialDesired: { ...desired(), useEvents } });
  lastClient = mem;
  return {
    deviceId: mem.deviceId,
    moduleId: mem.moduleId,
    open: (s) => mem.open(s),
    close: () => mem.close(),
    onInput: (n, h) => mem.onInput(n, h),
    onMethod: (n, h) => mem.onMethod(n, h),
    onDesired: (l) => mem.onDesired(l),
    onConnectionChange: (l) => mem.onConnectionChange(l),
    updateReported: (p) => mem.updateReported(p),
    sendOutput: (output) => {
      if (output === 'files') onFiles();
      return Promise.resolve();
    },
  };
}

function desired(): Record<string, unknown> {
  return { stabilityWindowMs: windowMs, stabilityChecks: 2, maxInFlight: 100_000, inventoryIntervalMs: 3_600_000, hashConcurrency: 8 };
}

async function startWatcher(root: string, onFiles: () => void, useEvents = true): Promise<RunningModule> {
  return shared.runModule(watcher.watcherModule, {
    env: { EDGEML_DATA_ROOT: root, EDGEML_METRICS_PORT: '0', EDGEML_LOG_LEVEL: 'warn' },
    argv: [],
    connect: () => Promise.resolve(countingClient(onFiles, useEvents)),
    twinWaitMs: 1_000,
  });
}

function until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const deadline = Date.now() + timeoutMs;
    const t = setInterval(() => {
      if (predicate()) {
        clearInterval(t);
        resolve(true);
      } else if (Date.now() > deadline) {
        clearInterval(t);
        resolve(false);
      }
    }, 10);
  });
}

/** Plain JavaScript for the writer process: N small files, 500 at a time, 1000 per folder. */
const WRITER_SOURCE = `
const { mkdir, writeFile } = require('node:fs/promises');
const path = require('node:path');
const [dir, n, perDir] = process.argv.slice(1).map((a, i) => (i === 0 ? a : Number(a)));
async function writeTree() {
  for (let start = 0; start < n; start += 500) {
    await Promise.all(Array.from({ length: Math.min(500, n - start) }, async (_, k) => {
      const i = start + k;
      const sub = path.join(dir, 'd' + Math.floor(i / perDir));
      await mkdir(sub, { recursive: true });
      await writeFile(path.join(sub, 'f' + i + '.csv'), 'id,value\\n' + i + ',' + i * 7 + '\\n');
    }));
  }
}
async function prepare() {
  for (let d = 0; d * perDir < n; d++) await mkdir(path.join(dir, 'd' + d), { recursive: true });
}
process.once('message', () => writeTree().then(() => process.send('done'), (err) => { console.error(err); process.exit(1); }));
prepare().then(() => process.send('ready'), (err) => { console.error(err); process.exit(1); });
`;

/**
 * Writes the tree from a separate process, as a user's copy onto the share would: a writer in the
 * measured process would share its event loop and libuv thread pool (the watcher's stats and reads
 * queued behind the writer's 1,500 file operations). The folders are made first, before the timed
 * part (chokidar's awaitWriteFinish otherwise loses a quarter of the files written into a folder it
 * has just seen appear). Resolves once the writer is ready, with a function that starts the writes
 * and resolves when they are done.
 */
async function writerProcess(dir: string, n: number, perDir: number): Promise<() => Promise<void>> {
  const child = spawn(process.execPath, ['-e', WRITER_SOURCE, dir, String(n), String(perDir)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`writer exited (${code}) before it was ready`)));
  });
  return () =>
    new Promise<void>((resolve, reject) => {
      child.removeAllListeners('exit');
      child.once('message', () => {
        child.disconnect();
        resolve();
      });
      child.once('exit', (code) => reject(new Error(`writer exited (${code})`)));
      child.send('go');
    });
}

async function writeTree(dir: string, n: number, perDir: number): Promise<void> {
  await (await writerProcess(dir, n, perDir))();
}

type Side = 'chokidar' | 'chokidar+awaitWriteFinish+sha256' | 'watcher';

/** One drop of N files into a fresh inbox, timed for one side alone. Returns ms from the first write to the last file seen. */
async function dropRound(side: Side): Promise<number> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'edgeml-bench-watcher-'));
  const inbox = path.join(root, 'share', 'inbox');
  await mkdir(inbox, { recursive: true });
  let seen = 0;
  let close: () => Promise<void>;
  if (side === 'watcher') {
    const running = await startWatcher(root, () => seen++);
    // Its event source must be past its initial walk, as raw chokidar is past `ready` below.
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await shared.sleep(20)) {
      const r = await lastClient?.invoke('getStatus', null);
      if ((r?.payload as { events?: { ready?: boolean } } | undefined)?.events?.ready === true) break;
    }
    close = () => running.stop('bench');
  } else {
    const sameJob = side !== 'chokidar';
    const raw = chokidar.watch(inbox, {
      ignoreInitial: true,
      followSymlinks: false,
      ...(sameJob ? { awaitWriteFinish: { stabilityThreshold: windowMs, pollInterval: 100 } } : {}),
    });
    raw.on('add', (p: string) => {
      if (!sameJob) seen++;
      else void shared.sha256File(p).then(() => seen++);
    });
    await new Promise<void>((resolve) => raw.once('ready', () => resolve()));
    close = () => raw.close();
  }
  const write = await writerProcess(inbox, files, 1000);
  // Every side has its watches on the new folders before the drop starts.
  await shared.sleep(300);
  const t0 = performance.now();
  let doneMs = Number.NaN;
  // chokidar's awaitWriteFinish loses some files of a large drop (they never get their 'add'): that side
  // gives up after a minute and says how many it reported. The other two give up after two minutes
  // plus 20 ms a file (a 1,000-file drop takes 1-3 s): a round that stalls is reported as incomplete,
  // with its side and count, instead of holding the whole run.
  const done = until(() => seen >= files, side === 'chokidar+awaitWriteFinish+sha256' ? 60_000 : 120_000 + files * 20).then((all) => {
    doneMs = performance.now() - t0;
    if (!all) {
      lost.push(`${side}: ${seen} of ${files} reported within ${(doneMs / 1000).toFixed(0)} s`);
      doneMs = Number.NaN;
    }
  });
  await write();
  writtenMs.push(performance.now() - t0);
  await done;
  await close();
  await rm(root, { recursive: true, force: true });
  return doneMs;
}

const writtenMs: number[] = [];
const lost: string[] = [];
const median = (xs: readonly number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function benchDrop(): Promise<void> {
  const all: readonly Side[] = ['chokidar', 'chokidar+awaitWriteFinish+sha256', 'watcher'];
  const sides = all.filter((x) => onlySides === undefined || onlySides.includes(x));
  const times = new Map<Side, number[]>(all.map((s) => [s, []]));
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < sides.length; k++) {
      const side = sides[(k + r) % sides.length]!;
      const ms = await dropRound(side);
      times.get(side)!.push(ms);
      console.error(`  round ${r + 1}, ${side}: ${ms.toFixed(0)} ms`);
    }
  }
  const raw = median(times.get('chokidar')!);
  const job = median(times.get('chokidar+awaitWriteFinish+sha256')!);
  const w = median(times.get('watcher')!);
  const list = (side: Side): string => times.get(side)!.map((t) => t.toFixed(0)).join(', ');
  console.log(`\n== ${files} files dropped at once (stabilityWindowMs ${windowMs}, stabilityChecks 2), ${rounds} rounds per side, medians ==`);
  console.log(`writing the files took              ${median(writtenMs).toFixed(0)} ms`);
  console.log(`raw chokidar: all 'add' events      ${raw.toFixed(0)} ms  (rounds: ${list('chokidar')})`);
  console.log(`chokidar awaitWriteFinish + sha256  ${job.toFixed(0)} ms  (rounds: ${list('chokidar+awaitWriteFinish+sha256')}; the same job, nothing durable)`);
  console.log(`watcher: all 'files' messages       ${w.toFixed(0)} ms  (rounds: ${list('watcher')})`);
  console.log(`  minus the stability window        ${(w - windowMs).toFixed(0)} ms`);
  console.log(`ratio watcher / chokidar            ${(w / raw).toFixed(2)}x  (${((w - windowMs) / raw).toFixed(2)}x without the window)`);
  console.log(`ratio watcher / same job            ${(w / job).toFixed(2)}x  (${((w - windowMs) / (job - windowMs)).toFixed(2)}x without the window)`);
  console.log(`throughput (ratio chokidar / watcher without the window: ${(raw / (w - windowMs)).toFixed(2)})   ${((files / w) * 1000).toFixed(0)} files/s`);
  console.log(`process peak RSS                    ${mib(peakRss())}`);
  for (const l of lost) console.log(`incomplete round (not a valid figure): ${l}`);
}

async function benchInitialScan(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'edgeml-bench-watcher-scan-'));
  const inbox = path.join(root, 'share', 'inbox');
  await mkdir(inbox, { recursive: true });
  const tw = performance.now();
  await writeTree(inbox, scanFiles, 1000);
  console.log(`\n== initial scan of ${scanFiles} existing files (${Math.ceil(scanFiles / 1000)} directories; written in ${((performance.now() - tw) / 1000).toFixed(1)} s) ==`);

  // The watcher first: RSS rarely shrinks, so whatever runs second inherits the first one's peak.
  sampledPeak = 0;
  const rssBefore = process.memoryUsage().rss;
  let emitted = 0;
  const t0 = performance.now();
  const running = await startWatcher(root, () => emitted++, scanEvents);
  const done = await until(() => emitted >= scanFiles, 900_000);
  const watcherMs = performance.now() - t0;
  const watcherPeak = sampledPeak;
  const status = (await lastClient?.invoke('getStatus', null))?.payload as { lastInventory?: { durationMs: number; files: number } } | undefined;
  await running.stop('bench');

  sampledPeak = 0;
  const tc = performance.now();
  let seen = 0;
  const raw = chokidar.watch(inbox, { ignoreInitial: false, followSymlinks: false });
  raw.on('add', () => seen++);
  await new Promise<void>((resolve) => raw.once('ready', () => resolve()));
  const chokidarMs = performance.now() - tc;
  await raw.close();

  console.log(`watcher (useEvents ${scanEvents}): all 'files' messages  ${watcherMs.toFixed(0)} ms  (${emitted} emitted${done ? '' : ', gave up'}), RSS before ${mib(rssBefore)}, sampled peak ${mib(watcherPeak)}`);
  console.log(`  of which the last inventory walk   ${status?.lastInventory?.durationMs ?? '?'} ms (${status?.lastInventory?.files ?? '?'} files)`);
  console.log(`raw chokidar: ready (initial adds)  ${chokidarMs.toFixed(0)} ms  (${seen} reported), sampled peak RSS ${mib(sampledPeak)} (run second)`);
  console.log(`ratio watcher / chokidar            ${(watcherMs / chokidarMs).toFixed(2)}x`);
  console.log(`process peak RSS (both)             ${mib(peakRss())}`);
  await rm(root, { recursive: true, force: true });
}

console.log(`node ${process.version}, ${os.cpus().length} CPUs, ${os.platform()} ${os.release()}, tmp ${os.tmpdir()}`);
await benchDrop();
if (initialScan) await benchInitialScan();
clearInterval(sampler);
