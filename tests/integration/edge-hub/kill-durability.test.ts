import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEdgeHub, type EdgeHub } from '@edgeml/edge-hub';
import { logger, manifest, rawClient, startHub, tempDir, waitUntil } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const KILLS = 3;

/** Starts fixtures/hub-process.ts on `workDir`; resolves once it listens. */
function startHubProcess(workDir: string, manifestFile: string): Promise<{ port: number; kill: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@edgeml/source', path.join(here, 'fixtures', 'hub-process.ts'), workDir, '0', manifestFile], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.once('error', reject);
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /READY (\d+)\n/.exec(out);
      if (match !== null)
        resolve({
          port: Number(match[1]),
          kill: () =>
            new Promise<void>((r) => {
              child.once('exit', () => r());
              child.kill('SIGKILL');
            }),
        });
    });
  });
}

describe('edge hub durability under kill -9', function () {
  this.timeout(120_000);

  // Group commits and asynchronous journal writes must not move the PUBACK before the write: a
  // publisher streams with 50 in flight while a receiver takes deliveries (its acknowledgements ride in
  // the same commits), and the hub process is SIGKILLed mid-stream, three times. Every message the hub acknowledged
  // is delivered after the restart (or was delivered before it) and is in the $upstream journal.
  it('every message acknowledged before a SIGKILL mid-stream is delivered after the restart and journaled', async () => {
    const t = await tempDir();
    const m = manifest({
      modules: ['a', 'b'],
      routes: {
        toB: 'FROM /messages/modules/a/outputs/* INTO BrokeredEndpoint("/modules/b/inputs/in")',
        toCloud: 'FROM /messages/modules/a/outputs/* INTO $upstream',
      },
    });
    const manifestFile = path.join(t.dir, 'manifest.json');
    writeFileSync(manifestFile, JSON.stringify(m));
    const acked = new Set<string>();
    const received = new Set<string>();
    const midOf = (topic: string): string => /%24\.mid=([^&/]+)/.exec(topic)?.[1] ?? topic;
    let next = 0;
    let hub2: EdgeHub | undefined;
    try {
      // Three kills, each at a different point of a stream: a kill between a PUBACK and its write is rare,
      // so one try would let such a bug through most of the time.
      for (let round = 0; round < KILLS; round++) {
        const proc = await startHubProcess(t.dir, manifestFile);
        // A hub object on the same work folder gives the credentials (the keys are in the work folder).
        const view = await createEdgeHub({ workDir: t.dir, manifest: m, port: proc.port, logger });
        const b1 = await rawClient(view, 'b');
        b1.on('message', (topic) => received.add(midOf(topic)));
        await b1.subscribeAsync(`devices/${view.deviceId}/modules/b/inputs/#`, { qos: 1 });
        const a = await rawClient(view, 'a');
        a.on('error', () => undefined);
        const events = `devices/${view.deviceId}/modules/a/messages/events`;
        let killed = false;
        const sender = async (): Promise<void> => {
          while (!killed) {
            const id = `k${next++}`;
            try {
              await a.publishAsync(`${events}/%24.mid=${id}&%24.on=out/`, JSON.stringify({ id }), { qos: 1 });
              acked.add(id);
            } catch {
              return; // the connection went away with the hub
            }
          }
        };
        const target = acked.size + 300 + round * 97;
        const senders = Array.from({ length: 50 }, sender);
        await waitUntil(() => acked.size >= target, 60_000, `${target} acknowledged publishes`);
        killed = true;
        await proc.kill();
        await Promise.race([Promise.all(senders), new Promise((r) => setTimeout(r, 2000))]);
        await a.endAsync(true).catch(() => undefined);
        await b1.endAsync(true).catch(() => undefined);
        await view.stop();
      }
      const ackedAtKill = new Set(acked);

      hub2 = await startHub({ workDir: t.dir, manifest: m });
      const b2 = await rawClient(hub2, 'b');
      b2.on('message', (topic) => received.add(midOf(topic)));
      await b2.subscribeAsync(`devices/${hub2.deviceId}/modules/b/inputs/#`, { qos: 1 });
      const h = hub2;
      await waitUntil(() => h.stats().queues.every((q) => q.length === 0), 30_000, 'the queue drained after the restart');
      await waitUntil(() => [...ackedAtKill].every((id) => received.has(id)), 10_000, 'every acknowledged message delivered');
      await b2.endAsync(true);
      const journaled = new Set(
        readFileSync(h.upstreamJournalFile, 'utf8')
          .split('\n')
          .filter((l) => l.length > 0)
          .map((l) => (JSON.parse(l) as { systemProperties: { messageId?: string } }).systemProperties.messageId),
      );
      const missing = [...ackedAtKill].filter((id) => !journaled.has(id));
      assert.deepEqual(missing, [], 'every acknowledged message is in the $upstream journal');
      assert.ok(ackedAtKill.size >= 900);
    } finally {
      await hub2?.stop();
      await t.cleanup();
    }
  });
});
