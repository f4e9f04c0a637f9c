/**
 * Scale-out on MQTT 5: files/s of the whole suite with 1 and with 2 inferencer replicas on Mosquitto
 * (TLS + passwords, shared subscriptions, 2 transformer replicas), and the same run on the edgeHub path
 * (`npm start`'s local runtime) beside them. Each run: a fresh work folder, the modules started and
 * ready, then N distinct rendered-text images dropped at once; files/s = N / (time from the first drop
 * until the watcher reports all N completed). Same watcher and uploader settings on both paths (fast
 * stability detection, the directory sink, a 1 s results batch), so the transport and the replicas are
 * what differ.
 *
 *   npx tsx bench/mqtt5.ts [--files N] (default 60)     npm run bench -- --mqtt5 runs it too
 *
 * On a machine with few cores the replicas share the same CPUs, so the ratio says how much a second
 * replica helps here, not what a second node would give.
 */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, sleep, type DataPaths } from '@edgeml/shared';
import { renderTextImage, startLocalRuntime, watcherCounts } from '@edgeml/runtime';
import { LOCAL_MQTT_CONFIG, startMqttSuite } from '@edgeml/mqtt-local';

const repoRoot = path.resolve(import.meta.dirname, '..');
const argv = process.argv.slice(2);
const FILES = Number(argv[argv.indexOf('--files') + 1] ?? 60) || 60;
const quiet = createLogger({ name: 'bench', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

const WATCHER = { stabilityWindowMs: 500, stabilityChecks: 2, inventoryIntervalMs: 2_000 };
const UPLOADER = { ...LOCAL_MQTT_CONFIG.uploader, results: { batchWindowMs: 1_000 } };

async function images(count: number, tag: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) out.push(await renderTextImage(`${i} ${tag} ${Date.now() % 100_000}`, { width: 320, height: 56, rotate180: i % 3 === 0 }));
  return out;
}

async function drop(paths: DataPaths, pngs: Buffer[], tag: string): Promise<void> {
  await Promise.all(
    pngs.map(async (png, i) => {
      const tmp = path.join(paths.share, `.${tag}-${i}.partial`);
      await writeFile(tmp, png);
      await rename(tmp, path.join(paths.inbox, `${tag}-${String(i).padStart(4, '0')}.png`));
    }),
  );
}

async function timeUntilCompleted(status: () => Promise<unknown>, files: number, started: number): Promise<number> {
  for (;;) {
    const c = watcherCounts(await status().catch(() => undefined));
    if (c !== undefined && c.completed + c.deadLettered >= files) return (performance.now() - started) / 1000;
    if (performance.now() - started > 30 * 60_000) throw new Error(`not completed within 30 min: ${JSON.stringify(c)}`);
    await sleep(250);
  }
}

async function mqttRun(inferencers: number, pngs: Buffer[]): Promise<number> {
  const workDir = await mkdtemp(path.join(os.tmpdir(), `edgeml-bench-mqtt-${inferencers}-`));
  const suite = await startMqttSuite({ repoRoot, workDir, logger: quiet, replicas: { transformer: 2, inferencer: inferencers }, config: { watcher: WATCHER, uploader: UPLOADER } });
  try {
    await sleep(2_000);
    const started = performance.now();
    await drop(suite.paths, pngs, `mqtt${inferencers}`);
    return await timeUntilCompleted(async () => (await suite.operator.invoke('watcher', 'getStatus', null, { timeoutMs: 10_000 })).payload, pngs.length, started);
  } finally {
    await suite.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

async function edgeHubRun(pngs: Buffer[]): Promise<number> {
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'edgeml-bench-edgehub-'));
  const rt = await startLocalRuntime({ repoRoot, workDir, demo: false, hubPort: 0, env: { ...process.env, EDGEML_STORAGE_CONNECTION_STRING: '', EDGEML_STORAGE_CONTAINER_SAS_URL: '' }, logger: quiet });
  try {
    const applied = async (module: string, patch: Record<string, unknown>): Promise<void> => {
      const version = await rt.hub.patchDesired(module, patch);
      for (let i = 0; i < 600; i++) {
        const cfg = (rt.hub.getTwin(module).reported as { config?: { desiredVersion?: number } }).config;
        if ((cfg?.desiredVersion ?? 0) >= version) return;
        await sleep(250);
      }
      throw new Error(`${module} did not apply its configuration`);
    };
    await applied('watcher', WATCHER);
    await applied('uploader', UPLOADER);
    const started = performance.now();
    await drop(rt.paths, pngs, 'edgehub');
    return await timeUntilCompleted(async () => (await rt.hub.invokeMethod('watcher', 'getStatus', null, { responseTimeoutMs: 10_000 })).payload, pngs.length, started);
  } finally {
    await rt.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

const fmt = (n: number): string => n.toFixed(2);
console.log(`mqtt5 scale-out: ${FILES} images per run, ${os.cpus().length} cores, Node ${process.version}`);
const one = await mqttRun(1, await images(FILES, 'one'));
console.log(`mqtt5 1 inferencer   ${fmt(FILES / one)} files/s (${fmt(one)} s)`);
const two = await mqttRun(2, await images(FILES, 'two'));
console.log(`mqtt5 2 inferencers  ${fmt(FILES / two)} files/s (${fmt(two)} s)`);
const hub = await edgeHubRun(await images(FILES, 'hub'));
console.log(`edgeHub 1 inferencer ${fmt(FILES / hub)} files/s (${fmt(hub)} s)`);
console.log(`ratio 2/1 inferencers = ${fmt(one / two)}`);
console.log(`ratio mqtt5(1)/edgeHub = ${fmt(hub / one)}`);
