import assert from 'node:assert/strict';
import { createEdgeClientFromEnvironment, type DesiredUpdate, type EdgeClient } from '@edgeml/shared';
import type { EdgeHub } from '@edgeml/edge-hub';
import type { MqttClient } from 'mqtt';
import { collectDesired, logger, manifest, rawClient, sleep, startHub, tempDir, waitUntil } from './helpers.js';

describe('edge hub twins and direct methods, two modules at once', function () {
  this.timeout(60_000);
  let t: Awaited<ReturnType<typeof tempDir>>;
  let hub: EdgeHub;
  let x: EdgeClient;
  let y: EdgeClient;
  let xDesired: DesiredUpdate[];
  let yDesired: DesiredUpdate[];
  const calls = { x: 0, y: 0 };

  before(async () => {
    t = await tempDir();
    hub = await startHub({
      workDir: t.dir,
      manifest: manifest({ modules: ['x', 'y', 'spy', 'late'], routes: {}, desired: { x: { batch: 4, nested: { a: 1, b: 2 } }, y: { batch: 9 } } }),
    });
    const make = async (m: 'x' | 'y'): Promise<[EdgeClient, DesiredUpdate[]]> => {
      const c = await createEdgeClientFromEnvironment(logger, hub.moduleEnv(m));
      const updates = collectDesired(c);
      c.onMethod('whoami', (payload) => {
        calls[m]++;
        return Promise.resolve({ status: 200, payload: { me: m, echo: payload } });
      });
      c.onMethod('fail', () => Promise.reject(new Error(`boom in ${m}`)));
      await c.open(AbortSignal.timeout(20_000));
      return [c, updates];
    };
    [x, xDesired] = await make('x');
    [y, yDesired] = await make('y');
  });
  after(async () => {
    await x?.close();
    await y?.close();
    await hub?.stop();
    await t?.cleanup();
  });

  it('reads each module twin seeded from the manifest, with $version, as a full update on open', () => {
    assert.deepEqual(xDesired[0], { kind: 'full', properties: { batch: 4, nested: { a: 1, b: 2 }, $version: 1 } });
    assert.deepEqual(yDesired[0], { kind: 'full', properties: { batch: 9, $version: 1 } });
  });

  it('pushes a desired patch (merge, null deletes, version+1) to that module only', async () => {
    const version = await hub.patchDesired('x', { batch: 16, nested: { a: null, c: 3 } });
    assert.equal(version, 2);
    await waitUntil(() => xDesired.length >= 2, 5000, 'x desired patch');
    assert.deepEqual(xDesired[1], { kind: 'patch', properties: { batch: 16, nested: { a: null, c: 3 }, $version: 2 } });
    assert.deepEqual(hub.getTwin('x').desired, { batch: 16, nested: { b: 2, c: 3 }, $version: 2 });
    await sleep(200);
    assert.equal(yDesired.length, 1, 'y saw nothing');
    assert.deepEqual(hub.getTwin('y').desired, { batch: 9, $version: 1 });
  });

  it('stores reported patches per module and refuses invalid ones with an errorCode body', async () => {
    await Promise.all([x.updateReported({ status: { n: 1 }, who: 'x' }), y.updateReported({ who: 'y' })]);
    await x.updateReported({ status: { n: null, m: 2 } });
    assert.deepEqual(hub.getTwin('x').reported, { status: { m: 2 }, who: 'x', $version: 3 });
    assert.deepEqual(hub.getTwin('y').reported, { who: 'y', $version: 2 });
    // '#' passes the client-side guard but not edgeHub's validator: the SDK sees the errorCode body.
    await assert.rejects(x.updateReported({ 'bad#key': 1 }), (err: Error & { code?: string }) => err.code === 'TWIN_UPDATE_FAILED' && /bad#key/.test(err.message));
    assert.equal(hub.getTwin('x').reported['bad#key'], undefined);
  });

  it('runs concurrent method round trips on both modules with no cross-talk', async () => {
    const results = await Promise.all([
      hub.invokeMethod('x', 'whoami', { n: 1 }),
      hub.invokeMethod('y', 'whoami', { n: 2 }),
      hub.invokeMethod('x', 'whoami', null),
      hub.invokeMethod('y', 'whoami', [1, 2]),
    ]);
    assert.deepEqual(results, [
      { status: 200, payload: { me: 'x', echo: { n: 1 } } },
      { status: 200, payload: { me: 'y', echo: { n: 2 } } },
      { status: 200, payload: { me: 'x', echo: null } },
      { status: 200, payload: { me: 'y', echo: [1, 2] } },
    ]);
    assert.deepEqual(calls, { x: 2, y: 2 });
    const failed = await hub.invokeMethod('y', 'fail', {});
    assert.equal(failed.status, 500);
    assert.match(JSON.stringify(failed.payload), /boom in y/);
  });

  it('answers 504 when the module does not answer in time and 404 when it is not connected', async () => {
    const started = Date.now();
    assert.deepEqual((await hub.invokeMethod('x', 'noSuchMethod', {}, { responseTimeoutMs: 400 })).status, 504);
    assert.ok(Date.now() - started < 3000);
    assert.equal((await hub.invokeMethod('spy', 'whoami', {})).status, 404);
  });

  it('sends a module the desired patch made between its twin GET and its SUBSCRIBE to patches', async () => {
    const c = await rawClient(hub, 'late');
    const seen: Array<{ topic: string; body: string }> = [];
    c.on('message', (topic, payload) => seen.push({ topic, body: payload.toString() }));
    try {
      await c.subscribeAsync('$iothub/twin/res/#', { qos: 0 });
      c.publish('$iothub/twin/GET/?$rid=g1', ' ');
      await waitUntil(() => seen.length === 1, 5000, 'twin GET reply');
      const version = Number((JSON.parse(seen[0]?.body ?? '{}') as { desired: Record<string, unknown> }).desired['$version']);
      // Like the SDK: GET first, then the subscription to patches; a patch in between is not pushed at once.
      assert.equal(await hub.patchDesired('late', { between: true }), version + 1);
      await sleep(100);
      assert.equal(seen.length, 1, 'nothing pushed before the subscription');
      await c.subscribeAsync('$iothub/twin/PATCH/properties/desired/#', { qos: 0 });
      await waitUntil(() => seen.length === 2, 5000, 'the patch made before the subscription');
      assert.equal(seen[1]?.topic, `$iothub/twin/PATCH/properties/desired/?$version=${version + 1}`);
      assert.deepEqual(JSON.parse(seen[1]?.body ?? '{}'), { between: true, $version: version + 1 });
      await sleep(200);
      assert.equal(seen.length, 2, 'sent once');
    } finally {
      await c.endAsync(true);
    }
  });

  it('sends a module that reconnects without re-reading its twin the desired changes it missed', async () => {
    const first = await rawClient(hub, 'spy');
    const seen: Array<{ topic: string; body: string }> = [];
    await first.subscribeAsync(['$iothub/twin/res/#', '$iothub/twin/PATCH/properties/desired/#'], { qos: 0 });
    first.on('message', (topic, payload) => seen.push({ topic, body: payload.toString() }));
    first.publish('$iothub/twin/GET/?$rid=g1', ' ');
    await waitUntil(() => seen.length === 1, 5000, 'twin GET reply');
    const before = (JSON.parse(seen[0]?.body ?? '{}') as { desired: Record<string, unknown> }).desired;
    await first.endAsync(true);
    await waitUntil(() => !hub.stats().connected.includes('spy'), 5000, 'spy gone');
    await hub.patchDesired('spy', { away: 1 });
    await hub.patchDesired('spy', { away: 2, more: { x: true } });
    // Like the SDK after a SAS renewal: same clientId, clean=false, no SUBSCRIBE, no GET.
    const again = await rawClient(hub, 'spy');
    const patches: Array<{ topic: string; body: string }> = [];
    again.on('message', (topic, payload) => patches.push({ topic, body: payload.toString() }));
    try {
      await waitUntil(() => patches.length === 1, 5000, 'catch-up patch');
      const version = Number(before['$version']) + 2;
      assert.equal(patches[0]?.topic, `$iothub/twin/PATCH/properties/desired/?$version=${version}`);
      assert.deepEqual(JSON.parse(patches[0]?.body ?? '{}'), { away: 2, more: { x: true }, $version: version });
    } finally {
      await again.endAsync(true);
    }
  });

  it('never shows a module another module twin or method traffic', async () => {
    const spy: MqttClient = await rawClient(hub, 'spy');
    const seen: string[] = [];
    spy.on('message', (topic) => seen.push(topic));
    try {
      await spy.subscribeAsync(['$iothub/twin/res/#', '$iothub/methods/POST/#', '$iothub/twin/PATCH/properties/desired/#'], { qos: 0 });
      await hub.patchDesired('x', { batch: 32 });
      await x.updateReported({ ping: 1 });
      await hub.invokeMethod('x', 'whoami', {});
      await hub.invokeMethod('y', 'whoami', {});
      await waitUntil(() => xDesired.some((u) => u.properties['batch'] === 32), 5000, 'x got its patch');
      await sleep(300);
      assert.deepEqual(seen, []);
      // The spy's own traffic does reach it.
      const version = await hub.patchDesired('spy', { mine: true });
      await waitUntil(() => seen.length === 1, 5000, 'spy own patch');
      assert.equal(seen[0], `$iothub/twin/PATCH/properties/desired/?$version=${version}`);
    } finally {
      await spy.endAsync(true);
    }
  });
});
