/**
 * One broker row of bench/edge-hub.ts alone, for a CPU profile (prints, never asserts):
 *
 *   node --conditions=@edgeml/source --import tsx --cpu-prof --cpu-prof-dir=<dir> bench/edge-hub-profile.ts [options]
 *
 *   --broker hub|raw   the hub (SAS, routing, SQLite before PUBACK, delivery window) or plain aedes (default hub)
 *   --messages N       messages per round (default 10000)
 *   --rounds R         rounds (default 4; the first one warms up, count the steady ones)
 *
 * Same clients, topics, body (1 KiB) and sender window (20) as bench/edge-hub.ts, and the same TLS
 * material; each round prints msg/s and the process CPU time per message. The profile holds one row
 * only, so a function's self time divided by the messages sent is its cost per message.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';

const { createLogger } = await import('@edgeml/shared');
const { createEdgeHub } = await import('@edgeml/edge-hub');
const { Aedes } = await import('aedes');
const mqtt = (await import('mqtt')).default;
const { connectHubModule, BENCH_CLIENT_OPTIONS } = await import('./hub-clients.js');
const { arg, benchHubManifest, count } = await import('./hub-args.js');

const BROKER = arg('broker', 'hub');
if (BROKER !== 'hub' && BROKER !== 'raw') throw new Error(`--broker must be hub or raw (got ${BROKER})`);
const MESSAGES = count('messages', 10_000);
const ROUNDS = count('rounds', 4);
const WINDOW = 20;
const body = Buffer.alloc(1024, 0x61);
const clientOptions = BENCH_CLIENT_OPTIONS;

const dir = await mkdtemp(path.join(tmpdir(), 'edgeml-bench-hub-profile-'));
const manifest = benchHubManifest(BROKER === 'hub');
// The hub also provides the TLS material of the raw broker (as in bench/edge-hub.ts).
const hub = await createEdgeHub({ workDir: path.join(dir, 'hub'), port: 0, logger: createLogger({ name: 'bench', level: 'silent' }), manifest });
await hub.start();
const ca = readFileSync(hub.caCertificateFile);
const closers: Array<() => Promise<void>> = [];
let pub: MqttClient;
let sub: MqttClient;
let topicOf: (i: number) => string;

if (BROKER === 'raw') {
  const certs = path.join(dir, 'hub', 'certs');
  const broker = await Aedes.createBroker();
  const server = createServer({ key: readFileSync(path.join(certs, 'server.key.pem')), cert: readFileSync(path.join(certs, 'server.cert.pem')), noDelay: true }, (s) => broker.handle(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  pub = await mqtt.connectAsync(`mqtts://localhost:${port}`, { ...clientOptions, ca, clientId: 'bench-pub' });
  sub = await mqtt.connectAsync(`mqtts://localhost:${port}`, { ...clientOptions, ca, clientId: 'bench-sub' });
  await sub.subscribeAsync('bench/in/#', { qos: 1 });
  topicOf = (i) => `bench/in/%24.mid=${i}&seq=${i}/`;
  closers.push(() => new Promise<void>((r) => server.close(() => r())), () => new Promise<void>((r) => broker.close(() => r())));
} else {
  const connectModule = (moduleId: string): Promise<MqttClient> => connectHubModule(hub, moduleId, ca);
  pub = await connectModule('sender');
  sub = await connectModule('receiver');
  await sub.subscribeAsync(`devices/${hub.deviceId}/modules/receiver/inputs/#`, { qos: 1 });
  const events = `devices/${hub.deviceId}/modules/sender/messages/events`;
  topicOf = (i) => `${events}/%24.mid=${i}&%24.on=out&seq=${i}/`;
}

let received = 0;
let allReceived: () => void = () => undefined;
sub.on('message', () => {
  if (++received === MESSAGES) allReceived();
});
try {
  for (let round = 0; round < ROUNDS; round++) {
    received = 0;
    const all = new Promise<void>((r) => (allReceived = r));
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    let next = 0;
    const sender = async (): Promise<void> => {
      while (next < MESSAGES) await pub.publishAsync(topicOf(next++), body, { qos: 1 });
    };
    await Promise.all(Array.from({ length: WINDOW }, sender));
    await all;
    const cpu = process.cpuUsage(cpu0);
    const rate = MESSAGES / ((performance.now() - started) / 1000);
    console.log(`${BROKER} round ${round}${round === 0 ? ' (warm-up)' : ''}: ${rate.toFixed(0)} msg/s, cpu ${((cpu.user + cpu.system) / MESSAGES).toFixed(0)} µs/msg`);
  }
} finally {
  await pub.endAsync(true);
  await sub.endAsync(true);
  for (const close of closers) await close();
  await hub.stop();
  await rm(dir, { recursive: true, force: true });
}
