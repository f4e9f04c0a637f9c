/**
 * Watcher benchmark: `npx tsx bench/watcher.ts [options]`
 *
 *   --files N           files dropped at once into the inbox (default 1000; the figure is 10000)
 *   --initial-scan      also measure the initial scan of --scan-files files present before start
 *   --scan-files N      files for the initial scan (default 100000)
 *   --window-ms N       stabilityWindowMs for the run (default 1000, checks 2)
 *   --no-events         initial scan with useEvents false (inventory only; chokidar holds every entry in memory)
 *
 * Drop: the real watcher (runModule + watcherModule, a counting in-memory edge client, real temp
 * directory, real ledger with fsync) and a raw chokidar watcher on the same inbox, in the same
 * process, both started before N files are written at once. Reported: time until raw chokidar has
 * reported all N `add`s, time until the watcher has emitted all N `files` messages, and their ratio.
 * The watcher's time includes what chokidar does not do: the stability window, a SHA-256 of every
 * file, the ledger commits and the sends. Peak RSS is the process's (both together).
 *
 * Initial scan: N files present before start; the watcher's time to emit them all (the inventory
 * walk, stability, hashing, ledger) beside raw chokidar's time to `ready` on the same tree
 * (ignoreInitial: false, reporting every file).
 *
 * Prints, never asserts.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EdgeClient, MemoryEdgeClient, RunningModule } from '@edgeml/shared';
import type * as ChokidarTypes from 'chokidar';

type ChokidarModule = typeof ChokidarTypes;

// Workspace packages resolve to their TypeScript sources under the `@edgeml/source` condition
// (as in the tests); re-run this file with it when it was started without.
if (!process.execArgv.some((a) => a.includes('@edgeml/source')) && process.env['EDGEML_BENCH_CHILD'] !== '1') {
  const r = spawnSync(process.execPath, [...process.execArgv, '--conditions=@edgeml/source', ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, EDGEML_BENCH_CHILD: '1' },
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

async function writeTree(dir: string, n: number, perDir: number): Promise<void> {
  for (let start = 0; start < n; start += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, n - start) }, async (_, k) => {
        const i = start + k;
        const sub = path.join(dir, `d${Math.floor(i / perDir)}`);
        await mkdir(sub, { recursive: true });
        await writeFile(path.join(sub, `f${i}.csv`), `id,value\n${i},${i * 7}\n`);
      }),
    );
  }
}

async function benchDrop(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'edgeml-bench-watcher-'));
  const inbox = path.join(root, 'share', 'inbox');
  await mkdir(inbox, { recursive: true });
  let emitted = 0;
  const running = await startWatcher(root, () => emitted++);
  let reported = 0;
  const raw = chokidar.watch(inbox, { ignoreInitial: true, followSymlinks: false });
  raw.on('add', () => reported++);
  await new Promise<void>((resolve) => raw.once('ready', () => resolve()));
  const rssBefore = process.memoryUsage().rss;

  const t0 = performance.now();
  let chokidarMs = Number.NaN;
  let watcherMs = Number.NaN;
  const both = Promise.all([
    until(() => reported >= files, 600_000).then(() => (chokidarMs = performance.now() - t0)),
    until(() => emitted >= files, 600_000).then(() => (watcherMs = performance.now() - t0)),
  ]);
  await writeTree(inbox, files, 1000);
  const writtenMs = performance.now() - t0;
  await both;

  console.log(`\n== ${files} files dropped at once (stabilityWindowMs ${windowMs}, stabilityChecks 2) ==`);
  console.log(`writing the files took              ${writtenMs.toFixed(0)} ms`);
  console.log(`raw chokidar: all 'add' events      ${chokidarMs.toFixed(0)} ms  (${reported} reported)`);
  console.log(`watcher: all 'files' messages       ${watcherMs.toFixed(0)} ms  (${emitted} emitted)`);
  console.log(`  minus the stability window        ${(watcherMs - windowMs).toFixed(0)} ms`);
  console.log(`ratio watcher / chokidar            ${(watcherMs / chokidarMs).toFixed(2)}x  (${((watcherMs - windowMs) / chokidarMs).toFixed(2)}x without the window)`);
  console.log(`throughput                          ${((files / watcherMs) * 1000).toFixed(0)} files/s`);
  console.log(`RSS before drop / sampled peak / process peak   ${mib(rssBefore)} / ${mib(sampledPeak)} / ${mib(peakRss())}`);
  await raw.close();
  await running.stop('bench');
  await rm(root, { recursive: true, force: true });
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
