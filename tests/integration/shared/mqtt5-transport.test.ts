/**
 * The MQTT 5 edge client against a real Mosquitto (TLS, password and X.509 listeners), through the
 * same path a module takes (`connectEdgeClient` from the environment; `runModule` for configuration).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import {
  connectEdgeClient,
  createLogger,
  createMqtt5Connection,
  createMqtt5Operator,
  parseMqtt5Settings,
  runModule,
  sleep,
  type EdgeClient,
  type IncomingMessage,
  type ModuleDefinition,
  type Mqtt5Connection,
  type Mqtt5Received,
  type RunningModule,
} from '@edgeml/shared';
import { startMosquitto, type MosquittoBroker } from '@edgeml/mqtt-local';

const silent = createLogger({
  name: 'mqtt5-test',
  level: process.env['EDGEML_TEST_LOG'] ?? 'silent',
  ...(process.env['EDGEML_TEST_LOG'] === undefined ? { destination: new Writable({ write: (_c, _e, cb) => cb() }) } : {}),
});

const ROUTES = {
  aToB: 'FROM /messages/modules/a/outputs/out INTO BrokeredEndpoint("/modules/b/inputs/in")',
  aUp: 'FROM /messages/modules/a/outputs/out WHERE as_number(score) >= 0.9 INTO $upstream',
};

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('MQTT 5 transport against Mosquitto (TLS, passwords, X.509)', function () {
  this.timeout(60_000);
  let dir: string;
  let broker: MosquittoBroker;
  let routesFile: string;
  const open: { close(): Promise<void> }[] = [];

  const env = (clientId: string, extra: Record<string, string> = {}): Record<string, string> => ({
    EDGEML_EDGE_TRANSPORT: 'mqtt5',
    AIO_BROKER_HOSTNAME: broker.host,
    AIO_BROKER_TCP_PORT: String(broker.port),
    AIO_TLS_CA_FILE: broker.pki.caFile,
    AIO_MQTT_USERNAME: 'edgeml',
    AIO_MQTT_PASSWORD_FILE: broker.passwordFile('edgeml'),
    AIO_MQTT_CLIENT_ID: clientId,
    AIO_MQTT_SESSION_EXPIRY: '60',
    EDGEML_MQTT_ROUTES_FILE: routesFile,
    ...extra,
  });

  const client = async (module: string, clientId: string, extra: Record<string, string> = {}): Promise<EdgeClient> => {
    const c = await connectEdgeClient(silent, env(clientId, extra), module);
    open.push(c);
    return c;
  };

  const rawConnection = async (clientId: string): Promise<Mqtt5Connection> => {
    const c = createMqtt5Connection({ settings: parseMqtt5Settings('test', { ...env(clientId), AIO_MQTT_SESSION_EXPIRY: '0' }), logger: silent, cleanStart: true });
    open.push(c);
    await c.connect(AbortSignal.timeout(10_000));
    return c;
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-mqtt5-'));
    broker = await startMosquitto({ dir: path.join(dir, 'broker'), users: { edgeml: 'a-long-test-password', other: 'x' } });
    routesFile = path.join(dir, 'routes.json');
    await writeFile(routesFile, JSON.stringify({ modulesContent: { $edgeHub: { 'properties.desired': { schemaVersion: '1.2', routes: ROUTES } } } }));
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
  });

  after(async () => {
    await broker?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('routes an output to the input the manifest names, with properties, message id, correlation id and content type in their MQTT 5 fields', async () => {
    const b = await client('b', 'b-0');
    const got: IncomingMessage[] = [];
    b.onInput('in', (m) => (got.push(m), Promise.resolve()));
    await b.open(AbortSignal.timeout(10_000));
    const a = await client('a', 'a-0');
    await a.open(AbortSignal.timeout(10_000));
    const spy = await rawConnection('spy');
    const wire: Mqtt5Received[] = [];
    spy.onMessage((m) => (wire.push(m), Promise.resolve()));
    await spy.subscribe(['edgeml/a/outputs/out']);

    await a.sendOutput('out', { body: { hello: 'world' }, properties: { schema: 'x/v1', score: '0.95' }, messageId: 'mid-1', correlationId: 'corr-1' });
    const m = await waitFor('the message on b', () => got[0]);
    assert.deepEqual(JSON.parse(m.body.toString('utf8')), { hello: 'world' });
    assert.deepEqual(m.properties, { schema: 'x/v1', score: '0.95' });
    assert.equal(m.messageId, 'mid-1');
    assert.equal(m.correlationId, 'corr-1');
    assert.equal(m.contentType, 'application/json');
    assert.equal(m.contentEncoding, 'utf-8');
    assert.equal(m.inputName, 'in');
    const raw = await waitFor('the wire copy', () => wire[0]);
    assert.equal(raw.properties.contentType, 'application/json');
    assert.equal(raw.properties.correlationData?.toString('utf8'), 'corr-1');
    assert.equal(raw.properties.payloadIsUtf8, true);
    assert.equal(raw.properties.userProperties?.['$.mid'], 'mid-1');
    assert.equal(raw.properties.userProperties?.['schema'], 'x/v1');
  });

  it('refuses application properties that collide with the transport\'s reserved names', async () => {
    const a = await client('a', 'a-1');
    await a.open(AbortSignal.timeout(10_000));
    await assert.rejects(a.sendOutput('out', { body: 'x', properties: { '$.mid': 'forged' } }), { code: 'EDGE_SEND_FAILED' });
    await assert.rejects(a.sendOutput('out', { body: Buffer.alloc(300 * 1024) }), { code: 'MESSAGE_TOO_LARGE' });
  });

  it('fails a send on a routed output that no replica of the receiver has ever subscribed to (a broker, unlike edgeHub, would drop it)', async () => {
    const r2 = path.join(dir, 'routes-nobody.json');
    await writeFile(r2, JSON.stringify({ routes: { toNobody: 'FROM /messages/modules/a/outputs/lonely INTO BrokeredEndpoint("/modules/z/inputs/in")', up: 'FROM /messages/modules/a/outputs/alerts INTO $upstream' } }));
    const a = await client('a', 'a-lonely', { EDGEML_MQTT_ROUTES_FILE: r2 });
    await a.open(AbortSignal.timeout(10_000));
    await assert.rejects(a.sendOutput('lonely', { body: 'lost?' }), { code: 'EDGE_SEND_FAILED', message: /no replica of the receiving module/ });
    // An output read only by a cloud data flow ($upstream) may go out with nobody listening locally.
    await a.sendOutput('alerts', { body: 'fine' });
  });

  it('shares an input among replicas: each message is handled by exactly one', async () => {
    const seen = new Map<string, string[]>();
    for (const id of ['b-s0', 'b-s1']) {
      const b = await client('b', id);
      b.onInput('in', (m) => {
        const body = m.body.toString('utf8');
        seen.set(body, [...(seen.get(body) ?? []), id]);
        return Promise.resolve();
      });
      await b.open(AbortSignal.timeout(10_000));
    }
    const a = await client('a', 'a-2');
    await a.open(AbortSignal.timeout(10_000));
    for (let i = 0; i < 40; i++) await a.sendOutput('out', { body: `m${i}` });
    await waitFor('40 messages', () => (seen.size === 40 ? true : undefined));
    await sleep(200);
    const byReplica: Record<string, number> = {};
    for (const [body, ids] of seen) {
      assert.equal(ids.length, 1, `${body} handled ${ids.length} times`);
      byReplica[ids[0]!] = (byReplica[ids[0]!] ?? 0) + 1;
    }
    assert.ok((byReplica['b-s0'] ?? 0) > 0 && (byReplica['b-s1'] ?? 0) > 0, `both replicas took a share: ${JSON.stringify(byReplica)}`);
  });

  it('acknowledges a message only once its handler has finished: a replica that dies mid-handler gets it again when it comes back', async () => {
    const first = await client('b', 'b-ack');
    let entered = 0;
    first.onInput('in', () => {
      entered++;
      return new Promise<void>(() => undefined); // never finishes: the replica "dies" in the handler
    });
    await first.open(AbortSignal.timeout(10_000));
    const a = await client('a', 'a-3');
    await a.open(AbortSignal.timeout(10_000));
    await a.sendOutput('out', { body: 'precious', messageId: 'p-1' });
    await waitFor('the handler to start', () => (entered > 0 ? true : undefined));
    await first.close();

    const again = await client('b', 'b-ack');
    const got: IncomingMessage[] = [];
    again.onInput('in', (m) => (got.push(m), Promise.resolve()));
    await again.open(AbortSignal.timeout(10_000));
    const m = await waitFor('the redelivery', () => got[0]);
    assert.equal(m.body.toString('utf8'), 'precious');
    assert.equal(m.messageId, 'p-1');
  });

  it('answers methods as MQTT 5 requests (response topic + correlation data) and publishes reported properties retained', async () => {
    const b = await client('b', 'b-m');
    b.onMethod('echo', (payload) => Promise.resolve({ status: 200, payload: { echoed: payload } }));
    b.onMethod('boom', () => Promise.reject(new Error('kaput')));
    await b.open(AbortSignal.timeout(10_000));
    await b.updateReported({ status: { processed: 3 }, config: { status: 'applied' } });
    await b.updateReported({ status: { processed: 4 } });

    const operator = createMqtt5Operator(await rawConnection('op-1'), 'edgeml');
    const ok = await operator.invoke('b', 'echo', { n: 1 }, { timeoutMs: 5_000 });
    assert.deepEqual(ok, { status: 200, payload: { echoed: { n: 1 } }, answeredBy: 'b-m' });
    const direct = await operator.invoke('b', 'echo', null, { instance: 'b-m', timeoutMs: 5_000 });
    assert.equal(direct.status, 200);
    assert.equal((await operator.invoke('b', 'nope', {}, { timeoutMs: 5_000 })).status, 404);
    const failed = await operator.invoke('b', 'boom', {}, { timeoutMs: 5_000 });
    assert.equal(failed.status, 500);
    assert.match(JSON.stringify(failed.payload), /kaput/);

    const status = await operator.readStatus('b');
    assert.deepEqual(status['b-m'], { status: { processed: 4 }, config: { status: 'applied' } });
  });

  it('authenticates with an X.509 client certificate on the certificate listener', async () => {
    const pair = await broker.pki.issueClient('cert-user');
    const b = await client('b', 'b-x509', {
      AIO_BROKER_TCP_PORT: String(broker.x509Port),
      AIO_MQTT_USERNAME: '',
      AIO_MQTT_PASSWORD_FILE: '',
      AIO_TLS_CERT_FILE: pair.certFile,
      AIO_TLS_KEY_FILE: pair.keyFile,
    });
    const got: IncomingMessage[] = [];
    b.onInput('in', (m) => (got.push(m), Promise.resolve()));
    await b.open(AbortSignal.timeout(10_000));
    const a = await client('a', 'a-x509');
    await a.open(AbortSignal.timeout(10_000));
    await a.sendOutput('out', { body: 'via-cert' });
    assert.equal((await waitFor('the message', () => got[0])).body.toString('utf8'), 'via-cert');
  });

  it('keeps retrying a refused password until aborted, and never connects with it', async () => {
    const wrong = path.join(dir, 'wrong-password');
    await writeFile(wrong, 'not-the-password');
    const b = await client('b', 'b-wrong', { AIO_MQTT_PASSWORD_FILE: wrong });
    await assert.rejects(b.open(AbortSignal.timeout(1_500)), { code: 'ABORTED' });
  });

  describe('configuration file instead of a twin, through runModule', () => {
    const schema = {
      type: 'object',
      additionalProperties: false,
      properties: { batch: { type: 'integer', minimum: 1, maximum: 64, default: 8 } },
    } as const;
    let running: RunningModule | undefined;
    afterEach(async () => {
      await running?.stop('test done');
      running = undefined;
    });

    it('applies a changed file and rejects a bad one with every problem, reported like a twin patch', async () => {
      const configFile = path.join(dir, 'cfg', 'c.json');
      await rm(path.dirname(configFile), { recursive: true, force: true });
      await import('node:fs/promises').then((fs) => fs.mkdir(path.dirname(configFile), { recursive: true }));
      await writeFile(configFile, JSON.stringify({ batch: 16 }));
      const applied: number[] = [];
      const definition: ModuleDefinition<{ batch: number }> = {
        name: 'c',
        configSchema: schema,
        createApp: () => ({
          configure: (cfg) => (applied.push(cfg.batch), Promise.resolve()),
          start: () => Promise.resolve(),
          stop: () => Promise.resolve(),
          status: () => ({}),
          ready: () => ({ ready: true, reasons: [] }),
        }),
      };
      running = await runModule(definition, {
        env: { ...env('c-0'), EDGEML_CONFIG_FILE: configFile, EDGEML_CONFIG_POLL_MS: '100', EDGEML_METRICS_PORT: '0', EDGEML_DATA_ROOT: path.join(dir, 'data'), EDGEML_LOG_LEVEL: 'silent' },
        argv: [],
        connect: () => Promise.reject(new Error('the edgeHub path must not be taken')),
        twinWaitMs: 5_000,
      });
      const operator = createMqtt5Operator(await rawConnection('op-2'), 'edgeml');
      const config = async (): Promise<{ status?: string; problems?: string[]; effective?: { batch?: number }; desiredVersion?: number }> =>
        ((await operator.readStatus('c'))['c-0'] as { config?: Record<string, never> } | undefined)?.config ?? {};
      assert.deepEqual(applied, [16]);
      assert.equal((await config()).status, 'applied');

      await writeFile(configFile, JSON.stringify({ batch: 32, $version: 7 }));
      await waitFor('batch 32 applied', async () => ((await config()).effective?.batch === 32 ? true : undefined));
      const applied32 = await config();
      assert.equal(applied32.desiredVersion, 7, JSON.stringify(applied32));
      assert.deepEqual(applied, [16, 32]);

      await writeFile(configFile, JSON.stringify({ batch: 1000, colour: 'red' }));
      const rejected = await waitFor('the rejection', async () => {
        const c = await config();
        return c.status === 'rejected' ? c : undefined;
      });
      assert.equal(rejected.effective?.batch, 32, 'the previous configuration stays in force');
      assert.equal(rejected.problems?.length, 2, JSON.stringify(rejected.problems));
      assert.match(rejected.problems?.join(' ') ?? '', /batch/);
      assert.match(rejected.problems?.join(' ') ?? '', /colour/);

      await writeFile(configFile, '{ "batch": ');
      const unparsable = await waitFor('the parse error', async () => {
        const c = await config();
        return c.status === 'rejected' && /not valid JSON/.test(c.problems?.join(' ') ?? '') ? c : undefined;
      });
      assert.equal(unparsable.effective?.batch, 32);
      assert.deepEqual(applied, [16, 32]);

      const status = await operator.invoke('c', 'getStatus', null, { timeoutMs: 5_000 });
      assert.equal(status.status, 200);
      assert.equal((status.payload as { module?: string }).module, 'c');
    });
  });
});
