/**
 * Local edge hub benchmark (prints, never asserts). `npx tsx bench/edge-hub.ts [options]`
 *
 *   --messages N   messages per run (default 2000)
 *   --window W     sends in flight at once (default 20; 1 = send, await, send)
 *   --size B       body size in bytes (default 1024)
 *
 * Runs in one process, on the same machine, same TLS settings (noDelay), same payloads:
 * 1. hub:  module → module through the hub with the real ModuleClient on both ends (via the shared
 *          adapter): QoS 1 output event, persisted in the store-and-forward queue before PUBACK, routed,
 *          delivered to the input with one message in flight per input, acknowledged, removed.
 * 2. raw:  plain aedes pub/sub over TLS with two mqtt.js clients, QoS 1 both ways.
 * Latency is send-call → handler on the receiving side; throughput is messages received per second.
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
const { createEdgeHub } = await import('@edgeml/edge-hub');
const { Aedes } = await import('aedes');
const mqtt = (await import('mqtt')).default;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}
const MESSAGES = arg('messages', 2000);
const WINDOW = arg('window', 20);
const SIZE = arg('size', 1024);

interface Result {
  readonly label: string;
  readonly msgPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Drives `send(i)` with WINDOW in flight; `received(i)` must be called by the receiving side. */
async function drive(label: string, send: (i: number) => Promise<void>, onReceive: (cb: (i: number) => void) => void): Promise<Result> {
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
  latencies.sort((a, b) => a - b);
  return { label, msgPerSec: MESSAGES / elapsedS, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

const body = Buffer.alloc(SIZE, 0x61);
const dir = await mkdtemp(path.join(tmpdir(), 'edgeml-bench-hub-'));
const logger = createLogger({ name: 'bench', level: 'silent' });
const results: Result[] = [];
try {
  // ---- 1. through the hub ------------------------------------------------------------------------
  const hub = await createEdgeHub({
    workDir: dir,
    port: 0,
    logger,
    manifest: {
      modulesContent: {
        $edgeAgent: { 'properties.desired': { modules: { sender: {}, receiver: {} } } },
        $edgeHub: {
          'properties.desired': {
            schemaVersion: '1.2',
            routes: { bench: 'FROM /messages/modules/sender/outputs/* INTO BrokeredEndpoint("/modules/receiver/inputs/in")' },
            storeAndForwardConfiguration: { timeToLiveSecs: 7200 },
          },
        },
      },
    },
  });
  await hub.start();
  const sender = await createEdgeClientFromEnvironment(logger, hub.moduleEnv('sender'));
  const receiver = await createEdgeClientFromEnvironment(logger, hub.moduleEnv('receiver'));
  await sender.open();
  await receiver.open();
  let deliver: (i: number) => void = () => undefined;
  receiver.onInput('in', (m) => {
    deliver(Number(m.messageId));
    return Promise.resolve();
  });
  // Let the input subscription settle before timing.
  await new Promise((r) => setTimeout(r, 300));
  results.push(
    await drive(
      'hub (ModuleClient → hub → ModuleClient)',
      (i) => sender.sendOutput('out', { body, messageId: String(i), contentType: 'application/octet-stream', properties: { seq: String(i) } }),
      (cb) => (deliver = cb),
    ),
  );
  await sender.close();
  await receiver.close();
  await hub.stop();

  // ---- 2. raw aedes pub/sub ------------------------------------------------------------------------
  const broker = await Aedes.createBroker();
  const server = createServer(
    { key: readFileSync(path.join(dir, 'certs', 'server.key.pem')), cert: readFileSync(path.join(dir, 'certs', 'server.cert.pem')), noDelay: true },
    (s) => broker.handle(s),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const ca = readFileSync(path.join(dir, 'certs', 'ca.cert.pem'));
  const opts = { protocolVersion: 4 as const, clean: true, reconnectPeriod: 0, ca };
  const pub = await mqtt.connectAsync(`mqtts://localhost:${port}`, { ...opts, clientId: 'bench-pub' });
  const sub = await mqtt.connectAsync(`mqtts://localhost:${port}`, { ...opts, clientId: 'bench-sub' });
  await sub.subscribeAsync('bench/in/#', { qos: 1 });
  let deliverRaw: (i: number) => void = () => undefined;
  sub.on('message', (topic) => deliverRaw(Number(topic.slice(topic.lastIndexOf('=') + 1))));
  results.push(
    await drive(
      'raw aedes pub/sub (mqtt.js → aedes → mqtt.js)',
      (i) => pub.publishAsync(`bench/in/seq=${i}`, body, { qos: 1 }).then(() => undefined),
      (cb) => (deliverRaw = cb),
    ),
  );
  await pub.endAsync(true);
  await sub.endAsync(true);
  await new Promise<void>((r) => server.close(() => r()));
  await new Promise<void>((r) => broker.close(() => r()));
} finally {
  await rm(dir, { recursive: true, force: true });
}

console.log(`edge hub benchmark: ${MESSAGES} messages of ${SIZE} bytes, ${WINDOW} in flight, ${cpus().length} CPU cores, Node ${process.version}`);
for (const r of results) {
  console.log(`  ${r.label.padEnd(48)} ${r.msgPerSec.toFixed(0).padStart(7)} msg/s   p50 ${r.p50Ms.toFixed(2).padStart(7)} ms   p99 ${r.p99Ms.toFixed(2).padStart(7)} ms`);
}
const [viaHub, raw] = results;
if (viaHub !== undefined && raw !== undefined) {
  console.log(
    `  ratio hub/raw: throughput ${(viaHub.msgPerSec / raw.msgPerSec).toFixed(2)}×, p50 ${(viaHub.p50Ms / raw.p50Ms).toFixed(2)}×, p99 ${(viaHub.p99Ms / raw.p99Ms).toFixed(2)}×`,
  );
}
