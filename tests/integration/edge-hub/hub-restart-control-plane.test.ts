import assert from 'node:assert/strict';
import { copyFile, cp } from 'node:fs/promises';
import path from 'node:path';
import { createEdgeClientFromEnvironment, type DesiredUpdate, type EdgeClient, type Logger } from '@edgeml/shared';
import type { EdgeHub } from '@edgeml/edge-hub';
import { captureLog, collectDesired, collectInputs, manifest, startHub, tempDir, waitUntil } from './helpers.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/** Module b's edge client, connecting to the hub through `proxy`. */
async function moduleThroughProxy(hub: EdgeHub, proxy: TcpProxy, logger: Logger): Promise<EdgeClient> {
  const env = hub.moduleEnv('b');
  const cs = env['EdgeHubConnectionString'] ?? '';
  return createEdgeClientFromEnvironment(
    logger,
    { ...env, EdgeHubConnectionString: cs.replace(`GatewayHostName=localhost:${hub.port}`, `GatewayHostName=localhost:${proxy.port}`) },
    { openBackoff: { initialDelayMs: 50, maxDelayMs: 500 }, twinReadTimeoutMs: 3000 },
  );
}

/** Invokes `method` until the module answers (the hub answers 404 while it holds no method subscription). */
async function invokeUntilAnswered(hub: EdgeHub, method: string, payload: unknown, timeoutMs: number): Promise<{ status: number; payload: unknown }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await hub.invokeMethod('b', method, payload, { responseTimeoutMs: 2000 });
    if (result.status !== 404 || Date.now() > deadline) return result;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** After the reconnect: an input, a direct method and a desired patch all reach module b. */
async function assertControlPlane(hub: EdgeHub, got: ReturnType<typeof collectInputs>, desired: DesiredUpdate[]): Promise<void> {
  await hub.injectInput('b', 'in', { body: { n: 1 }, messageId: 'after-reopen' });
  await got.waitFor(1, 20_000);
  const answer = await invokeUntilAnswered(hub, 'ping', 1, 10_000);
  assert.deepEqual(answer, { status: 200, payload: { pong: 1 } }, `direct method after the reconnect answered ${JSON.stringify(answer)}`);
  const version = await hub.patchDesired('b', { batch: 7 });
  const isPatch = (u: DesiredUpdate): boolean => u.kind === 'patch' && u.properties['$version'] === version;
  await waitUntil(() => desired.some(isPatch), 10_000, `desired patch $version ${version} after the reconnect`).catch((err: unknown) => {
    assert.fail(`${String(err)}; updates seen: ${JSON.stringify(desired)}`);
  });
  assert.deepEqual(desired.find(isPatch)?.properties, { batch: 7, $version: version });
}

describe('edge hub: after a lost connection (the SDK gave up, or reconnected by itself), direct methods and desired patches still reach the module', function () {
  this.timeout(120_000);

  // What was unchecked: when the SDK's own retries give up (its final disconnect: a TCP reset is an error it
  // does not retry), the edge client reopens the connection with `open()`, which subscribes nothing. Inputs
  // were enabled again after such a reopen (hub-restart-inputs.test.ts); methods (`$iothub/methods/POST/#`)
  // and desired patches (`$iothub/twin/PATCH/properties/desired/#`) were not. A hub that holds no such
  // subscription in the module's session answers every method call 404 and pushes no desired patch: the
  // module's control plane is dead until it restarts. The reset comes from a TCP relay, at an exact moment.
  const m = manifest({ modules: ['b'], routes: {}, desired: { b: { batch: 1 } } });

  it('the connection is reset as the module starts to subscribe: after the reopen it answers methods and gets desired patches', async () => {
    const t = await tempDir();
    const hub = await startHub({ workDir: t.dir, manifest: m, inputStallCloseMs: 60_000 });
    const proxy = await startTcpProxy(hub.port);
    const log = captureLog('b');
    const b = await moduleThroughProxy(hub, proxy, log.logger);
    try {
      b.onMethod('ping', (payload) => Promise.resolve({ status: 200, payload: { pong: payload } }));
      const desired = collectDesired(b);
      const got = collectInputs(b, 'in');
      // open() reports the connection up just before it registers the SDK listeners that subscribe: the
      // reset lands before any SUBSCRIBE reaches the hub (what a hub stopped at that instant does).
      const states: boolean[] = [];
      b.onConnectionChange((s) => {
        states.push(s.connected);
        if (states.length === 1) proxy.resetAll();
      });
      await b.open(AbortSignal.timeout(20_000));
      await waitUntil(() => states.length >= 3 && states.at(-1) === true, 20_000, `reconnected (states ${JSON.stringify(states)})`);
      assert.ok(log.count('the SDK stopped retrying') >= 1, 'the SDK gave up (final disconnect) and the edge client reopened');
      await assertControlPlane(hub, got, desired);
    } finally {
      await b.close();
      await proxy.close();
      await hub.stop();
      await t.cleanup();
    }
  });

  /** Module b on a first hub, then its connection cut (`how`) and relayed to a hub with the same identities and empty state. */
  async function backToHubWithoutSession(how: 'reset' | 'close', expectGaveUp: boolean): Promise<void> {
    const first = await tempDir();
    const lost = await tempDir();
    const hub1 = await startHub({ workDir: first.dir, manifest: m });
    // The same CA and identities in an empty state folder: an edgeHub restarted without its storage.
    await cp(path.join(first.dir, 'certs'), path.join(lost.dir, 'certs'), { recursive: true });
    await copyFile(path.join(first.dir, 'identities.json'), path.join(lost.dir, 'identities.json'));
    const hub2 = await startHub({ workDir: lost.dir, manifest: m, inputStallCloseMs: 60_000 });
    const proxy = await startTcpProxy(hub1.port);
    const log = captureLog('b');
    const b = await moduleThroughProxy(hub1, proxy, log.logger);
    try {
      b.onMethod('ping', (payload) => Promise.resolve({ status: 200, payload: { pong: payload } }));
      const desired = collectDesired(b);
      const got = collectInputs(b, 'in');
      await b.open(AbortSignal.timeout(20_000));
      assert.deepEqual(await invokeUntilAnswered(hub1, 'ping', 0, 10_000), { status: 200, payload: { pong: 0 } }, 'method on the first hub');
      const states: boolean[] = [];
      b.onConnectionChange((s) => states.push(s.connected));
      proxy.retarget(hub2.port);
      if (how === 'reset') proxy.resetAll();
      else proxy.closeAll();
      await waitUntil(() => states.length >= 2 && states.at(-1) === true, 20_000, `reconnected (states ${JSON.stringify(states)})`);
      assert.equal(log.count('the SDK stopped retrying') >= 1, expectGaveUp, expectGaveUp ? 'the SDK gave up (final disconnect) and the edge client reopened' : 'the SDK reconnected by itself');
      await assertControlPlane(hub2, got, desired);
    } finally {
      await b.close();
      await proxy.close();
      await hub1.stop();
      await hub2.stop();
      await first.cleanup();
      await lost.cleanup();
    }
  }

  it('the connection is reset and the module comes back to a hub that lost its session: methods and desired patches work again', async () => {
    await backToHubWithoutSession('reset', true);
  });

  // The SDK's own reconnect subscribes methods and inputs again but not desired patches: its twin topic
  // state still says "subscribed" (wire notes §7).
  it('the connection closes, the SDK reconnects by itself to a hub that lost its session: desired patches work again', async () => {
    await backToHubWithoutSession('close', false);
  });
});
