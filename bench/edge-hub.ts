/**
 * Local edge hub benchmark (prints, never asserts). `npx tsx bench/edge-hub.ts [options]`
 *
 *   --messages N   messages per run (default 2000)
 *   --window W     publishes in flight at the sender (default 20; 1 = send, await PUBACK, send)
 *   --size B       body size in bytes (default 1024)
 *   --rounds R     measured runs of rows 1 and 2, interleaved (raw, hub, raw, hub, …); default 3
 *
 * One process, one machine, same TLS settings (noDelay), same payloads, same receiver behaviour (a
 * handler that only records the arrival). Three rows:
 * 1. raw:  mqtt.js → plain aedes (its in-memory persistence) → mqtt.js. QoS 1 both ways, clean=false
 *          sessions on both clients (as the IoT SDK uses them). aedes forwards each publish to the
 *          subscriber as soon as it arrives, unbounded in flight.
 * 2. hub:  the same two mqtt.js clients, connected to the hub as two modules (SAS tokens), speaking
 *          the IoT Hub topics: each output event is authenticated, its property bag decoded, routed,
 *          committed to SQLite before the PUBACK (persistence on, group commits), delivered to the
 *          receiver's input from store-and-forward with the hub's in-flight window per input, and
 *          removed on the receiver's PUBACK. This is the ratio's numerator: same clients, the broker
 *          is the only difference.
 * 3. hub with the real ModuleClient (azure-iot-device) on both ends: what a module sees; the SDK's
 *          own cost is included, so this row has no raw counterpart.
 * Latency is send call → receiving handler; throughput is messages received per second. Each row is
 * warmed up first (300 messages, not measured); rows 1 and 2 then alternate `--rounds` times so that a
 * load change on a shared machine hits both, and each prints its median run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:tls';
import { tmpdir, cpus } from 'node:os';
import path from 'node:path';

// Workspace packages resolve to their TypeScript sources only under the `@edgeml/source` condition;
// re-run once with it so `npx tsx bench/edge-hub.ts` works without a build.
if (!process.execArgv.some((a) => a.includes('@edgeml/source')) && process.env['EDGEML_BENCH_CHILD'] === undefined) {
  const r = spawnSync(process.execPath, ['--conditions=@edgeml/source', '--import', 'tsx', ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, EDGEML_BENCH_CHILD: '1' },
  });
  process.exit(r.status ?? 1);
}

const { createEdgeClientFromEnvironment, createLogger } = await import('@edgeml/shared');
const { createEdgeHub, EDGE_HUB_DEFAULTS } = await import('@edgeml/edge-hub');
const { Aedes } = await import('aedes');
const mqtt = (await import('mqtt')).default;
const { connectHubModule, BENCH_CLIENT_OPTIONS } = await import('./hub-clients.js');
const { benchHubManifest } = await import('./hub-args.js');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}
const MESSAGES = arg('messages', 2000);
const WINDOW = arg('window', 20);
const SIZE = arg('size', 1024);
const ROUNDS = arg('rounds', 3);
const WARMUP = 300;

interface Result {
  readonly label: string;
  readonly did: string;
  readonly msgPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time of this process (brokers and clients alike) per message: steadier than throughput on a loaded machine. */
  readonly cpuUsPerMsg: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Drives `send(i)` with WINDOW in flight; the receiving side calls the callback given to `onReceive`. */
async function drive(label: string, did: string, send: (i: number) => Promise<void>, onReceive: (cb: (i: number) => void) => void, count = MESSAGES): Promise<Result> {
  const MESSAGES = count;
  const sentAt = new Array<number>(MESSAGES);
  const latencies: number[] = [];
  let done: () => void = () => undefined;
  const all = new Promise<void>((r) => (done = r));
  onReceive((i) => {
    const t = sentAt[i];
    if (t !== undefined) latencies.push(performance.now() - t);
    if (latencies.length === MESSAGES) done();
  });
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < MESSAGES) {
      const i = next++;
      sentAt[i] = performance.now();
      await send(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(WINDOW, MESSAGES) }, worker));
  await all;
  const elapsedS = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  return { label, did, msgPerSec: MESSAGES / elapsedS, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), cpuUsPerMsg: (cpu.user + cpu.system) / MESSAGES };
}

const body = Buffer.alloc(SIZE, 0x61);
const dir = await mkdtemp(path.join(tmpdir(), 'edgeml-bench-hub-'));
const logger = createLogger({ name: 'bench', level: 'silent' });
const results: Result[] = [];
const manifest = benchHubManifest();
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300));
const clientOptions = BENCH_CLIENT_OPTIONS;
const seqOfTopic = (topic: string): number => Number(/seq=(\d+)/.exec(topic)?.[1]);

const median = (runs: Result[]): Result => [...runs].sort((x, y) => x.msgPerSec - y.msgPerSec)[Math.floor(runs.length / 2)]!;
const RAW_DID = 'QoS 1 both ways, clean=false sessions, in-memory persistence, no limit in flight to the subscriber';

try {
  // ---- 1. raw aedes ---------------------------------------------------------------------------------
  // The hub's work folder provides the same TLS material for both brokers.
  const hub = await createEdgeHub({ workDir: path.join(dir, 'hub'), port: 0, logger, manifest });
  await hub.start();
  const certs = path.join(dir, 'hub', 'certs');
  const broker = await Aedes.createBroker();
  const server = createServer({ key: readFileSync(path.join(certs, 'server.key.pem')), cert: readFileSync(path.join(certs, 'server.cert.pem')), noDelay: true }, (s) => broker.handle(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const rawPort = typeof address === 'object' && address !== null ? address.port : 0;
  const ca = readFileSync(hub.caCertificateFile);
  const pub = await mqtt.connectAsync(`mqtts://localhost:${rawPort}`, { ...clientOptions, ca, clientId: 'bench-pub' });
  const sub = await mqtt.connectAsync(`mqtts://localhost:${rawPort}`, { ...clientOptions, ca, clientId: 'bench-sub' });
  await sub.subscribeAsync('bench/in/#', { qos: 1 });
  let deliverRaw: (i: number) => void = () => undefined;
  sub.on('message', (topic) => deliverRaw(seqOfTopic(topic)));
  const runRaw = (count?: number): Promise<Result> =>
    drive(
      'raw aedes (mqtt.js → aedes → mqtt.js)',
      RAW_DID,
      (i) => pub.publishAsync(`bench/in/%24.mid=${i}&seq=${i}/`, body, { qos: 1 }).then(() => undefined),
      (cb) => (deliverRaw = cb),
      count,
    );

  // ---- 2. the hub, same clients ---------------------------------------------------------------------
  const connectModule = (moduleId: string): ReturnType<typeof mqtt.connectAsync> => connectHubModule(hub, moduleId, ca);
  const hubPub = await connectModule('sender');
  const hubSub = await connectModule('receiver');
  await hubSub.subscribeAsync(`devices/${hub.deviceId}/modules/receiver/inputs/#`, { qos: 1 });
  let deliverHub: (i: number) => void = () => undefined;
  hubSub.on('message', (topic) => deliverHub(seqOfTopic(topic)));
  const events = `devices/${hub.deviceId}/modules/sender/messages/events`;
  const runHub = (count?: number): Promise<Result> =>
    drive(
      'hub (mqtt.js → hub → mqtt.js)',
      `QoS 1 both ways, clean=false sessions, SAS auth, routed, persisted to SQLite before PUBACK, ${EDGE_HUB_DEFAULTS.maxInFlightPerInput} in flight per input`,
      (i) => hubPub.publishAsync(`${events}/%24.mid=${i}&%24.on=out&seq=${i}/`, body, { qos: 1 }).then(() => undefined),
      (cb) => (deliverHub = cb),
      count,
    );

  await settle();
  await runRaw(WARMUP);
  await runHub(WARMUP);
  const rawRuns: Result[] = [];
  const hubRuns: Result[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    rawRuns.push(await runRaw());
    hubRuns.push(await runHub());
  }
  const spread = (runs: Result[]): string => runs.map((x) => x.msgPerSec.toFixed(0)).join(', ');
  results.push({ ...median(rawRuns), did: `${RAW_DID}; runs ${spread(rawRuns)} msg/s` });
  const hubMedian = median(hubRuns);
  results.push({ ...hubMedian, did: `${hubMedian.did}; runs ${spread(hubRuns)} msg/s` });
  await pub.endAsync(true);
  await sub.endAsync(true);
  await new Promise<void>((r) => server.close(() => r()));
  await new Promise<void>((r) => broker.close(() => r()));
  await hubPub.endAsync(true);
  await hubSub.endAsync(true);

  // ---- 3. the hub with the real ModuleClient -----------------------------------------------------------
  const sender = await createEdgeClientFromEnvironment(logger, hub.moduleEnv('sender'));
  const receiver = await createEdgeClientFromEnvironment(logger, hub.moduleEnv('receiver'));
  await sender.open();
  await receiver.open();
  let deliver: (i: number) => void = () => undefined;
  receiver.onInput('in', (m) => {
    deliver(Number(m.messageId));
    return Promise.resolve();
  });
  await settle();
  const runSdk = (count?: number): Promise<Result> =>
    drive(
      'hub with ModuleClient on both ends',
      'as row 2, with azure-iot-device ModuleClient (through the shared edge client) instead of mqtt.js: the SDK cost is included',
      (i) => sender.sendOutput('out', { body, messageId: String(i), contentType: 'application/octet-stream', properties: { seq: String(i) } }),
      (cb) => (deliver = cb),
      count,
    );
  await runSdk(WARMUP);
  results.push(await runSdk());
  await sender.close();
  await receiver.close();
  await hub.stop();
} finally {
  await rm(dir, { recursive: true, force: true });
}

console.log(`edge hub benchmark: ${MESSAGES} messages of ${SIZE} bytes per run, ${WINDOW} publishes in flight at the sender, median of ${ROUNDS} interleaved runs, ${cpus().length} CPU cores, Node ${process.version}`);
for (const r of results) {
  console.log(`  ${r.label.padEnd(48)} ${r.msgPerSec.toFixed(0).padStart(7)} msg/s   p50 ${r.p50Ms.toFixed(2).padStart(7)} ms   p99 ${r.p99Ms.toFixed(2).padStart(7)} ms   cpu ${r.cpuUsPerMsg.toFixed(0).padStart(5)} µs/msg`);
  console.log(`      ${r.did}`);
}
const [raw, viaHub] = results;
if (viaHub !== undefined && raw !== undefined) {
  console.log(
    `  ratio hub/raw: throughput ${(viaHub.msgPerSec / raw.msgPerSec).toFixed(2)}×, p50 ${(viaHub.p50Ms / raw.p50Ms).toFixed(2)}×, p99 ${(viaHub.p99Ms / raw.p99Ms).toFixed(2)}×, cpu per message ${(viaHub.cpuUsPerMsg / raw.cpuUsPerMsg).toFixed(2)}×  (same clients; the broker is the difference)`,
  );
}
