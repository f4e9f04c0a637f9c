import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import path from 'node:path';
import { createServer, type Server } from 'node:tls';
import { Aedes } from 'aedes';
import { createEdgeClientFromEnvironment, type EdgeClient } from '@edgeml/shared';
import { captureLog, manifest, startHub, tempDir, waitUntil } from './helpers.js';

/**
 * A broker that keeps nothing across a restart and answers twin requests as edgeHub does: through the
 * module's subscription to `$iothub/twin/res/#` (a plain `publish`, which reaches subscribers only). The
 * module's TLS material and connection string come from a real hub, stopped first so the broker takes its port.
 */
interface StatelessBroker {
  readonly twinRequests: () => number;
  stop(): Promise<void>;
}

async function startStatelessBroker(workDir: string, port: number): Promise<StatelessBroker> {
  const broker = await Aedes.createBroker();
  let requests = 0;
  broker.on('publish', (packet, client) => {
    if (client === null || client === undefined) return;
    const rid = /^\$iothub\/twin\/(GET|PATCH\/properties\/reported)\/\?\$rid=([^&]+)/.exec(packet.topic);
    if (rid === null) return;
    requests++;
    const get = rid[1] === 'GET';
    broker.publish(
      {
        cmd: 'publish',
        topic: `$iothub/twin/res/${get ? 200 : 204}/?$rid=${rid[2]}`,
        payload: get ? JSON.stringify({ desired: { $version: 1 }, reported: { $version: 1 } }) : '',
        qos: 0,
        retain: false,
        dup: false,
      },
      () => undefined,
    );
  });
  const certs = path.join(workDir, 'certs');
  const sockets = new Set<Socket>();
  const server: Server = createServer({ key: readFileSync(path.join(certs, 'server.key.pem')), cert: readFileSync(path.join(certs, 'server.cert.pem')) }, (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    broker.handle(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    twinRequests: () => requests,
    async stop() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
}

describe('edge client: twin reads and reported updates after a hub restarted without its state', function () {
  this.timeout(90_000);

  // What was unchecked: the SDK subscribes `$iothub/twin/res/#` on its first twin request and never again
  // (its topic state keeps "subscribed" across reconnects; wire notes §7). A hub that lost the module's
  // session answers twin requests to nobody: after the reconnect the twin re-read retried for ever and every
  // reported update timed out, so a module could no longer report its status.
  it('after the reconnect the twin is read again and a reported update is answered', async () => {
    const t = await tempDir();
    const hub = await startHub({ workDir: t.dir, manifest: manifest({ modules: ['b'], routes: {} }) });
    const env = hub.moduleEnv('b');
    const port = hub.port;
    await hub.stop();
    let broker = await startStatelessBroker(t.dir, port);
    const log = captureLog('b');
    let b: EdgeClient | undefined;
    try {
      b = await createEdgeClientFromEnvironment(log.logger, env, {
        openBackoff: { initialDelayMs: 50, maxDelayMs: 500 },
        twinReadTimeoutMs: 2000,
        reportedUpdateTimeoutMs: 3000,
      });
      const states: boolean[] = [];
      b.onConnectionChange((s) => states.push(s.connected));
      await b.open(AbortSignal.timeout(20_000));
      await b.updateReported({ phase: 'before' });
      assert.equal(log.countExact('twin read'), 1);

      await broker.stop();
      await waitUntil(() => states.includes(false), 20_000, 'the module to see the connection drop');
      broker = await startStatelessBroker(t.dir, port);
      const requestsBefore = broker.twinRequests();
      await waitUntil(() => states.lastIndexOf(true) > states.indexOf(false), 60_000, 'the module to reconnect');
      await waitUntil(() => log.countExact('twin read') >= 2, 30_000, 'the twin re-read after the reconnect');
      await b.updateReported({ phase: 'after' });
      assert.ok(broker.twinRequests() > requestsBefore, 'the new broker answered the requests');
    } finally {
      await b?.close();
      await broker.stop();
      await t.cleanup();
    }
  });
});
