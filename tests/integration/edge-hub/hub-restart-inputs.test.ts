import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createEdgeClientFromEnvironment } from '@edgeml/shared';
import { createEdgeHub, type EdgeHub } from '@edgeml/edge-hub';
import { collectDesired, collectInputs, connectModule, logger, manifest, rawClient, sleep, startHub, tempDir, waitUntil } from './helpers.js';

const routeAB = { ab: 'FROM /messages/modules/a/outputs/* INTO BrokeredEndpoint("/modules/b/inputs/in")' };

describe('edge hub: a module whose inputs wait is never left connected and undelivered', function () {
  this.timeout(120_000);

  // What broke: the hub restarted (kill-restart fault test) while a freshly started module was opening its
  // connection. (1) When the SDK's inputs SUBSCRIBE was cut off, the SDK gave up (its final disconnect),
  // the edge client reopened, and nothing subscribed the inputs again: connected, never delivered. (The
  // hub's stall backstop is held off here, 60 s, so that this checks the edge client itself.) (2) A socket
  // still in its TLS handshake was not destroyed by stop(), which waited for it while its module
  // CONNECTed and SUBSCRIBEd to the closing broker: the restart never finished. (3) Its direct methods and
  // desired patches must come back too (hub-restart-control-plane.test.ts makes that path happen every time).
  it('a hub stopped while a module is connecting stops, and the module gets its inputs, methods and desired patches from the next hub', async () => {
    for (const delayMs of [0, 5, 10, 20, 40]) {
      const t = await tempDir();
      const m = manifest({ modules: ['a', 'b'], routes: routeAB });
      let hub: EdgeHub = await startHub({ workDir: t.dir, manifest: m });
      const port = hub.port;
      const a = await connectModule(hub, 'a');
      const b = await createEdgeClientFromEnvironment(logger.child({ moduleId: 'b' }), hub.moduleEnv('b'), { openBackoff: { initialDelayMs: 50, maxDelayMs: 500 }, twinReadTimeoutMs: 3000 });
      const got = collectInputs(b, 'in');
      const desired = collectDesired(b);
      b.onMethod('ping', () => Promise.resolve({ status: 200, payload: 'pong' }));
      try {
        const opening = b.open(AbortSignal.timeout(20_000));
        // A connection still in its TLS handshake when the hub stops (as a module's can be at any moment).
        const handshaking = connect(port, '127.0.0.1');
        handshaking.on('error', () => undefined);
        await new Promise<void>((r) => handshaking.once('connect', () => r()));
        await sleep(delayMs);
        const stopped = await Promise.race([hub.stop().then(() => true), sleep(5000).then(() => false)]);
        assert.ok(stopped, `hub.stop() finished within 5 s (module connecting ${delayMs} ms in)`);
        await sleep(500);
        hub = await createEdgeHub({ workDir: t.dir, manifest: m, port, logger, inputStallCloseMs: 60_000 });
        await hub.start();
        await opening;
        await a.sendOutput('out', { body: {}, messageId: `after-${delayMs}` });
        await got.waitFor(1, 20_000);
        // Its control plane too: a direct method (the hub answers 404 until it holds the subscription) and a desired patch.
        let answer = await hub.invokeMethod('b', 'ping', null, { responseTimeoutMs: 2000 });
        for (const until = Date.now() + 10_000; answer.status === 404 && Date.now() < until; await sleep(100)) answer = await hub.invokeMethod('b', 'ping', null, { responseTimeoutMs: 2000 });
        assert.deepEqual(answer, { status: 200, payload: 'pong' }, `direct method after the hub restart (module connecting ${delayMs} ms in)`);
        const version = await hub.patchDesired('b', { n: delayMs });
        await waitUntil(() => desired.some((u) => u.kind === 'patch' && u.properties['$version'] === version), 10_000, `desired patch after the hub restart (${delayMs} ms in)`);
      } finally {
        await a.close();
        await b.close();
        await hub.stop();
        await t.cleanup();
      }
    }
  });

  // The backstop for the SDK's state-machine gaps: a connection of a module that took inputs before, with
  // messages waiting, that does not subscribe its inputs is closed (once per wait, the wait doubling), and
  // the module's next connection that subscribes gets them.
  it('closes a connection that holds back waiting inputs, with a growing wait, until one subscribes', async () => {
    const t = await tempDir();
    const hub = await startHub({ workDir: t.dir, manifest: manifest({ modules: ['a', 'b'], routes: routeAB }), inputStallCloseMs: 1000, metricsPort: 0 });
    const a = await connectModule(hub, 'a');
    try {
      // A first process of b listened to its inputs and was killed (no UNSUBSCRIBE): its session says "inputs wanted".
      const b0 = await rawClient(hub, 'b');
      await b0.subscribeAsync(`devices/${hub.deviceId}/modules/b/inputs/#`, { qos: 1 });
      (b0 as unknown as { stream: { destroy: () => void } }).stream.destroy();
      await waitUntil(() => !hub.stats().connected.includes('b'), 5000, 'b gone');
      await a.sendOutput('out', { body: {}, messageId: 'waiting' });

      // A connection of b that never subscribes (what a stuck SDK looks like on the wire).
      const closes: number[] = [];
      const started = Date.now();
      for (let i = 0; i < 2; i++) {
        const raw = await rawClient(hub, 'b');
        await new Promise<void>((r) => raw.once('close', () => r()));
        closes.push(Date.now() - started);
      }
      assert.ok(closes[0]! >= 900 && closes[0]! < 4000, `first close after about 1 s (at ${closes[0]} ms)`);
      assert.ok(closes[1]! - closes[0]! >= 1800, `second close after about 2 s more (at ${closes[1]} ms)`);
      assert.match(await (await fetch(`http://127.0.0.1:${hub.metricsPort}/metrics`)).text(), /edgehub_input_stall_closes_total\{[^}]*id="edgeml-dev\/b"[^}]*\} 2/);

      // The real SDK subscribes and gets what waited.
      const b = await connectModule(hub, 'b');
      const got = collectInputs(b, 'in');
      await got.waitFor(1, 10_000);
      assert.equal(got.messages[0]?.messageId, 'waiting');
      await b.close();
    } finally {
      await a.close();
      await hub.stop();
      await t.cleanup();
    }
  });
});
