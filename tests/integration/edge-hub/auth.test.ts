import assert from 'node:assert/strict';
import type { EdgeClient } from '@edgeml/shared';
import type { EdgeHub } from '@edgeml/edge-hub';
import { collectInputs, connectModule, manifest, rawClient, sleep, startHub, tempDir } from './helpers.js';

describe('edge hub identity and authorisation', function () {
  this.timeout(60_000);
  let t: Awaited<ReturnType<typeof tempDir>>;
  let hub: EdgeHub;
  let b: EdgeClient;
  let c: EdgeClient;
  let got: ReturnType<typeof collectInputs>;
  let sentCount = 0;

  /** The hub keeps serving the others: a real module pair still routes after every refusal. */
  const stillServing = async (): Promise<void> => {
    sentCount++;
    await b.sendOutput('out', { body: { n: sentCount }, messageId: `ok-${sentCount}` });
    await got.waitFor(sentCount, 5000);
    assert.equal(got.messages.at(-1)?.messageId, `ok-${sentCount}`);
  };
  const refused = async (connect: Promise<unknown>): Promise<void> => {
    await assert.rejects(connect, (err: Error & { code?: number }) => err.code === 5 || /Not authorized/i.test(err.message));
  };

  before(async () => {
    t = await tempDir();
    hub = await startHub({
      workDir: t.dir,
      manifest: manifest({ modules: ['a', 'b', 'c'], routes: { bc: 'FROM /messages/modules/b/outputs/* INTO BrokeredEndpoint("/modules/c/inputs/in")' } }),
    });
    b = await connectModule(hub, 'b');
    c = await connectModule(hub, 'c');
    got = collectInputs(c, 'in');
    await stillServing();
  });
  after(async () => {
    await b?.close();
    await c?.close();
    await hub?.stop();
    await t?.cleanup();
  });

  it('accepts a correct raw CONNECT (control case)', async () => {
    const ok = await rawClient(hub, 'a');
    await ok.endAsync(true);
  });

  it('refuses a bad signature', async () => {
    await refused(rawClient(hub, 'a', { key: Buffer.alloc(32, 7).toString('base64') }));
    await stillServing();
  });

  it('refuses an expired token (beyond the 5 min skew)', async () => {
    await refused(rawClient(hub, 'a', { expirySecs: Math.floor(Date.now() / 1000) - 3600 }));
    await stillServing();
  });

  it('refuses a clientId that does not match the identity of the username and token', async () => {
    await refused(rawClient(hub, 'a', { clientId: `${hub.deviceId}/b` }));
    await refused(rawClient(hub, 'a', { usernameModule: 'b' }));
    await refused(rawClient(hub, 'a', { clientId: 'other-device/a' }));
    await stillServing();
  });

  it('refuses subscribing to another module inputs (SUBACK failure), and keeps the connection', async () => {
    const a = await rawClient(hub, 'a');
    try {
      // mqtt.js reports a failure code in the SUBACK as an error carrying the packet.
      const err = (await a.subscribeAsync(['devices/edgeml-dev/modules/c/inputs/#', 'devices/edgeml-dev/modules/a/inputs/#', '#'], { qos: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      )) as { packet?: { granted?: number[] } } | undefined;
      assert.deepEqual(err?.packet?.granted, [128, 1, 128]);
      assert.ok(a.connected);
      await stillServing();
      await sleep(100);
      assert.equal(got.messages.length, sentCount, 'c still gets each message once');
    } finally {
      await a.endAsync(true);
    }
  });

  it('refuses publishing as another module: the publisher is disconnected and nothing is routed', async () => {
    const a = await rawClient(hub, 'a');
    const closed = new Promise<void>((r) => a.once('close', () => r()));
    a.publish(`devices/${hub.deviceId}/modules/b/messages/events/%24.on=out&%24.mid=forged/`, '{"forged":true}', { qos: 1 });
    await closed;
    await a.endAsync(true);
    await stillServing();
    assert.ok(!got.messages.some((m) => m.messageId === 'forged'));
  });
});
