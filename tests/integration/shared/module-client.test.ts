/**
 * The real edge client adapter (shared/src/edge/module-client.ts), loaded for real — no mock of
 * azure-iot-device — against the local edge hub.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { createEdgeClientFromEnvironment, isEdgeMLError, MODULE_CLIENT_DEFAULTS, type DesiredUpdate, type EdgeClient } from '@edgeml/shared';
import { createEdgeHub, type EdgeHub } from '@edgeml/edge-hub';
import { collectInputs, connectModule, logger, manifest, startHub, tempDir, waitUntil } from '../edge-hub/helpers.js';

const codeOf = (code: string) => (err: unknown) => isEdgeMLError(err) && err.code === code;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const address = srv.address();
  await new Promise<void>((r) => srv.close(() => r()));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

describe('shared edge client adapter (real azure-iot-device)', function () {
  this.timeout(60_000);

  it('loads the real SDK under ESM and lists every missing environment variable at once', async () => {
    assert.equal(typeof createEdgeClientFromEnvironment, 'function');
    assert.equal(MODULE_CLIENT_DEFAULTS.twinReadTimeoutMs, 15_000);
    await assert.rejects(createEdgeClientFromEnvironment(logger, {}), (err: unknown) => {
      assert.ok(isEdgeMLError(err) && err.code === 'CONFIG_INVALID');
      for (const v of ['IOTEDGE_WORKLOADURI', 'IOTEDGE_DEVICEID', 'IOTEDGE_MODULEID', 'IOTEDGE_IOTHUBHOSTNAME', 'IOTEDGE_AUTHSCHEME', 'IOTEDGE_MODULEGENERATIONID']) assert.match(err.message, new RegExp(v));
      return true;
    });
    await assert.rejects(
      createEdgeClientFromEnvironment(logger, { EdgeHubConnectionString: 'HostName=h;DeviceId=d;ModuleId=m;SharedAccessKey=a2V5', EdgeModuleCACertificateFile: '/nonexistent/ca.pem' }),
      codeOf('CONFIG_INVALID'),
    );
    await assert.rejects(createEdgeClientFromEnvironment(logger, { EdgeHubConnectionString: 'HostName=h;DeviceId=d' }), codeOf('CONFIG_INVALID'));
  });

  it('retries the first open until the hub is listening (the SDK does not), then reads the twin as full', async () => {
    const t = await tempDir();
    const port = await freePort();
    const hub = await createEdgeHub({ workDir: t.dir, manifest: manifest({ modules: ['m'], routes: {}, desired: { m: { x: 1 } } }), port, logger });
    const client = await createEdgeClientFromEnvironment(logger, hub.moduleEnv('m'), { openBackoff: { initialDelayMs: 50, maxDelayMs: 200 } });
    const desired: DesiredUpdate[] = [];
    client.onDesired((u) => desired.push(u));
    try {
      const opening = client.open(AbortSignal.timeout(20_000));
      await new Promise((r) => setTimeout(r, 2000));
      await hub.start();
      await opening;
      assert.deepEqual(desired, [{ kind: 'full', properties: { x: 1, $version: 1 } }]);
    } finally {
      await client.close();
      await hub.stop();
      await t.cleanup();
    }
  });

  it('open() stops retrying when its signal aborts', async () => {
    const port = await freePort();
    const env = { EdgeHubConnectionString: `HostName=h.azure-devices.net;GatewayHostName=localhost:${port};DeviceId=d;ModuleId=m;SharedAccessKey=a2V5a2V5a2V5a2V5` };
    const client = await createEdgeClientFromEnvironment(logger, env, { openBackoff: { initialDelayMs: 50, maxDelayMs: 100 } });
    await assert.rejects(client.open(AbortSignal.timeout(500)), codeOf('ABORTED'));
    await client.close();
  });

  describe('against a running hub', () => {
    let t: Awaited<ReturnType<typeof tempDir>>;
    let hub: EdgeHub;
    let a: EdgeClient;
    let b: EdgeClient;
    before(async () => {
      t = await tempDir();
      hub = await startHub({
        workDir: t.dir,
        manifest: manifest({
          modules: ['a', 'b'],
          routes: {
            ab: 'FROM /messages/modules/a/outputs/o INTO BrokeredEndpoint("/modules/b/inputs/in")',
            first: 'FROM /messages/modules/a/outputs/o WHERE to = \'first\' INTO BrokeredEndpoint("/modules/b/inputs/first")',
            late: 'FROM /messages/modules/a/outputs/late INTO BrokeredEndpoint("/modules/b/inputs/late")',
            outcome: 'FROM /messages/modules/b/outputs/done INTO BrokeredEndpoint("/modules/a/inputs/outcome")',
          },
        }),
      });
      a = await connectModule(hub, 'a');
      b = await connectModule(hub, 'b');
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await hub?.stop();
      await t?.cleanup();
    });

    it('sends objects as JSON utf-8, strings as utf-8, buffers untouched', async () => {
      const got = collectInputs(b, 'in');
      await a.sendOutput('o', { body: { n: 1 } });
      await a.sendOutput('o', { body: 'plain text' });
      await a.sendOutput('o', { body: Buffer.from([9, 8, 7]) });
      const [obj, str, buf] = await got.waitFor(3);
      assert.deepEqual([obj?.contentType, obj?.contentEncoding, obj?.body.toString()], ['application/json', 'utf-8', '{"n":1}']);
      assert.deepEqual([str?.contentType, str?.contentEncoding, str?.body.toString()], [undefined, 'utf-8', 'plain text']);
      assert.deepEqual([buf?.contentType, buf?.contentEncoding, [...(buf?.body ?? [])]], [undefined, undefined, [9, 8, 7]]);
    });

    it('refuses a message over 256 KiB with its properties (MESSAGE_TOO_LARGE) before sending', async () => {
      const before = hub.stats().received;
      await assert.rejects(a.sendOutput('o', { body: Buffer.alloc(256 * 1024 - 10), properties: { padding: 'x'.repeat(100) } }), codeOf('MESSAGE_TOO_LARGE'));
      assert.equal(hub.stats().received, before);
    });

    it('guards reported patches with reportedPatchProblems', async () => {
      await assert.rejects(b.updateReported({ 'a.b': 1 }), codeOf('MESSAGE_TOO_LARGE'));
      await b.updateReported({ fine: { n: 1 } });
      assert.deepEqual(hub.getTwin('b').reported['fine'], { n: 1 });
    });

    it('parses JSON method payloads and sends the handler status and payload; a throw becomes 500', async () => {
      const seen: unknown[] = [];
      b.onMethod('echo', (p) => (seen.push(p), Promise.resolve({ status: 202, payload: { got: p } })));
      b.onMethod('broken', () => Promise.reject(new Error('nope')));
      // Registering after open subscribes asynchronously; until then the hub answers 404, as edgeHub does.
      let first = await hub.invokeMethod('b', 'echo', { deep: [1, { x: 'y' }] });
      for (let i = 0; i < 50 && first.status === 404; i++) {
        await new Promise((r) => setTimeout(r, 50));
        first = await hub.invokeMethod('b', 'echo', { deep: [1, { x: 'y' }] });
      }
      seen.length = 0;
      assert.deepEqual(await hub.invokeMethod('b', 'echo', { deep: [1, { x: 'y' }] }), { status: 202, payload: { got: { deep: [1, { x: 'y' }] } } });
      assert.deepEqual(await hub.invokeMethod('b', 'echo', undefined), { status: 202, payload: { got: null } });
      assert.deepEqual(seen, [{ deep: [1, { x: 'y' }] }, null]);
      const broken = await hub.invokeMethod('b', 'broken', {});
      assert.equal(broken.status, 500);
    });

    it('holds messages for an input whose handler is registered late, instead of losing them', async () => {
      const first = collectInputs(b, 'first');
      await a.sendOutput('o', { body: { n: 1 }, properties: { to: 'first' }, messageId: 'f1' });
      await first.waitFor(1);
      await a.sendOutput('late', { body: { n: 2 }, messageId: 'late-1' });
      await waitUntil(() => hub.stats().sent >= 1 && hub.stats().queues.length === 0, 5000, 'delivered to b (PUBACKed)');
      const late = collectInputs(b, 'late');
      const [m] = await late.waitFor(1);
      assert.equal(m?.messageId, 'late-1');
    });

    it('awaits input handlers: close() lets a running handler finish and send its outcome before the connection closes', async () => {
      const c = await connectModule(hub, 'b');
      const outcome = collectInputs(a, 'outcome');
      let release: () => void = () => undefined;
      const started = new Promise<void>((resolveStarted) => {
        c.onInput('in', async (m) => {
          resolveStarted();
          await new Promise<void>((r) => (release = r));
          await c.sendOutput('done', { body: { of: m.messageId } });
        });
      });
      await a.sendOutput('o', { body: { n: 3 }, messageId: 'held-1' });
      await started;
      const closing = c.close();
      await new Promise((r) => setTimeout(r, 200));
      release();
      await closing;
      const [m] = await outcome.waitFor(1);
      assert.deepEqual(JSON.parse(m!.body.toString()), { of: 'held-1' }, 'the outcome was sent before the close');
    });

    it('is idempotent on close and refuses sends afterwards', async () => {
      const c = await connectModule(hub, 'a');
      const states: boolean[] = [];
      c.onConnectionChange((s) => states.push(s.connected));
      await Promise.all([c.close(), c.close()]);
      await c.close();
      assert.deepEqual(states, [false]);
      await assert.rejects(c.sendOutput('o', { body: {} }), codeOf('EDGE_SEND_FAILED'));
      await assert.rejects(c.open(), codeOf('EDGE_CONNECT_FAILED'));
    });
  });

  it('reports connection changes and re-reads the full twin after the SDK reconnects silently', async () => {
    const t = await tempDir();
    const m = manifest({ modules: ['m'], routes: {}, desired: { m: { v: 1 } } });
    const hub1 = await startHub({ workDir: t.dir, manifest: m });
    const client = await connectModule(hub1, 'm');
    const desired: DesiredUpdate[] = [];
    const states: Array<{ connected: boolean }> = [];
    client.onDesired((u) => desired.push(u));
    client.onConnectionChange((s) => states.push(s));
    let hub2: EdgeHub | undefined;
    try {
      await hub1.stop();
      await waitUntil(() => states.some((s) => !s.connected), 5000, 'disconnected event');
      hub2 = await createEdgeHub({ workDir: t.dir, manifest: m, port: hub1.port, logger });
      await hub2.patchDesired('m', { v: 2 });
      await hub2.start();
      await waitUntil(() => desired.some((u) => u.kind === 'full' && u.properties['v'] === 2), 15_000, 'full re-read');
      assert.equal(states.at(-1)?.connected, true);
      assert.equal(desired.find((u) => u.properties['v'] === 2)?.properties['$version'], 2);
    } finally {
      await client.close();
      await hub2?.stop();
      await t.cleanup();
    }
  });
});
