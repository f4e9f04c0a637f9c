/**
 * Two versions of the edge hub in one process, rounds alternating, for a before/after comparison of CPU
 * per message on a machine whose speed drifts (prints, never asserts):
 *
 *   git archive <commit> deployment/edge-hub/src | tar -x -C .tmp/edge-hub-before
 *   node --conditions=@edgeml/source --import tsx bench/edge-hub-ab.ts \
 *     --before .tmp/edge-hub-before/deployment/edge-hub/src [--after deployment/edge-hub/src] [--messages N] [--pairs P]
 *
 * Each side is a hub (its own work folder) with the same two mqtt.js clients, route, body (1 KiB) and
 * sender window (20) as bench/edge-hub.ts row 2. After one warm-up round each, P pairs of rounds run
 * (before/after, then after/before, alternately); each prints the process CPU time per message, and the
 * median of the paired differences is the figure to read: a load change hits both rounds of a pair.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import type { createEdgeHub as CreateEdgeHub } from '@edgeml/edge-hub';

const { createLogger } = await import('@edgeml/shared');
const { connectHubModule } = await import('./hub-clients.js');
const { arg, benchHubManifest, count } = await import('./hub-args.js');

const SOURCES = { before: path.resolve(arg('before', undefined)), after: path.resolve(arg('after', 'deployment/edge-hub/src')) };
const MESSAGES = count('messages', 4000);
const PAIRS = count('pairs', 16);
const WINDOW = 20;
const body = Buffer.alloc(1024, 0x61);
const manifest = benchHubManifest();

interface Side {
  readonly name: 'before' | 'after';
  readonly pub: MqttClient;
  readonly sub: MqttClient;
  readonly topicOf: (i: number) => string;
  readonly stop: () => Promise<void>;
  received: number;
  onAll: () => void;
}

async function openSide(name: Side['name'], dir: string): Promise<Side> {
  const { createEdgeHub } = (await import(path.join(SOURCES[name], 'index.ts'))) as { createEdgeHub: typeof CreateEdgeHub };
  const hub = await createEdgeHub({ workDir: path.join(dir, name), port: 0, logger: createLogger({ name: 'bench', level: 'silent' }), manifest });
  await hub.start();
  const ca = readFileSync(hub.caCertificateFile);
  const pub = await connectHubModule(hub, 'sender', ca);
  const sub = await connectHubModule(hub, 'receiver', ca);
  await sub.subscribeAsync(`devices/${hub.deviceId}/modules/receiver/inputs/#`, { qos: 1 });
  const events = `devices/${hub.deviceId}/modules/sender/messages/events`;
  const side: Side = {
    name,
    pub,
    sub,
    topicOf: (i) => `${events}/%24.mid=${i}&%24.on=out&seq=${i}/`,
    stop: async () => {
      await pub.endAsync(true);
      await sub.endAsync(true);
      await hub.stop();
    },
    received: 0,
    onAll: () => undefined,
  };
  sub.on('message', () => {
    if (++side.received === MESSAGES) side.onAll();
  });
  return side;
}

/** One round on `side`: CPU µs of this process per message. */
async function round(side: Side): Promise<number> {
  side.received = 0;
  const all = new Promise<void>((r) => (side.onAll = r));
  const cpu0 = process.cpuUsage();
  let next = 0;
  const sender = async (): Promise<void> => {
    while (next < MESSAGES) await side.pub.publishAsync(side.topicOf(next++), body, { qos: 1 });
  };
  await Promise.all(Array.from({ length: WINDOW }, sender));
  await all;
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / MESSAGES;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const dir = await mkdtemp(path.join(tmpdir(), 'edgeml-bench-hub-ab-'));
const sides: Side[] = [];
try {
  sides.push(await openSide('before', dir), await openSide('after', dir));
  for (const s of sides) await round(s);
  const cpu = { before: [] as number[], after: [] as number[] };
  for (let p = 0; p < PAIRS; p++) {
    for (const s of p % 2 === 0 ? sides : [...sides].reverse()) cpu[s.name].push(await round(s));
  }
  const diffs = cpu.after.map((a, i) => a - (cpu.before[i] ?? Number.NaN));
  console.log(`edge hub A/B: ${PAIRS} pairs of rounds of ${MESSAGES} messages of 1 KiB, ${WINDOW} in flight at the sender; process CPU µs per message`);
  console.log(`  before ${SOURCES.before}: ${cpu.before.map((x) => x.toFixed(0)).join(' ')}  median ${median(cpu.before).toFixed(1)}`);
  console.log(`  after  ${SOURCES.after}: ${cpu.after.map((x) => x.toFixed(0)).join(' ')}  median ${median(cpu.after).toFixed(1)}`);
  console.log(`  after − before, per pair: median ${median(diffs).toFixed(1)} µs (${diffs.filter((d) => d < 0).length} of ${PAIRS} pairs lower)`);
} finally {
  for (const s of sides) await s.stop();
  await rm(dir, { recursive: true, force: true });
}
