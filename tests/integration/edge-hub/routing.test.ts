import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { EdgeClient } from '@edgeml/shared';
import type { EdgeHub, UpstreamRecord } from '@edgeml/edge-hub';
import { collectInputs, connectModule, manifest, sleep, startHub, tempDir, waitUntil } from './helpers.js';

const to = (m: string, i: string): string => `BrokeredEndpoint("/modules/${m}/inputs/${i}")`;

describe('edge hub routing with the real ModuleClient', function () {
  this.timeout(60_000);
  let t: Awaited<ReturnType<typeof tempDir>>;
  let hub: EdgeHub;
  let a: EdgeClient;
  let b: EdgeClient;

  before(async () => {
    t = await tempDir();
    hub = await startHub({
      workDir: t.dir,
      metricsPort: 0,
      manifest: manifest({
        modules: ['a', 'b'],
        routes: {
          plain: `FROM /messages/modules/a/outputs/plain INTO ${to('b', 'plain')}`,
          scored: `FROM /messages/modules/a/outputs/scored WHERE as_number(score) >= 0.8 INTO ${to('b', 'high')}`,
          sys: `FROM /messages/modules/a/outputs/sys WHERE $connectionModuleId = 'a' AND $contentType = 'application/json' AND $messageId = 'keep' INTO ${to('b', 'sys')}`,
          body: `FROM /messages/modules/a/outputs/body WHERE $body.result.label = 'defect' INTO ${to('b', 'body')}`,
          defined: `FROM /messages/modules/a/outputs/flag WHERE IS_DEFINED(alert) INTO ${to('b', 'defined')}`,
          notDefined: `FROM /messages/modules/a/outputs/flag WHERE NOT IS_DEFINED(alert) INTO ${to('b', 'undefined')}`,
          dupLow: { route: `FROM /messages/modules/a/outputs/dup INTO ${to('b', 'dup')}`, priority: 5, timeToLiveSecs: 100 },
          dupHigh: { route: `FROM /messages/modules/a/outputs/* WHERE $outputName = 'dup' INTO ${to('b', 'dup')}`, priority: 1, timeToLiveSecs: 200 },
          up: 'FROM /messages/modules/a/outputs/up INTO $upstream',
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

  it('preserves body, message id, correlation id, content type/encoding and app properties, and adds $.cdid/$.cmid', async () => {
    const got = collectInputs(b, 'plain');
    const binary = Buffer.from([0, 1, 2, 255, 254]);
    await a.sendOutput('plain', {
      body: { hello: 'wörld' },
      properties: { fileName: 'report 2024/01.csv', 'weird key&=': 'ü/&=+ %', schema: 'edgeml.file/v1' },
      messageId: 'msg-1',
      correlationId: 'corr-1',
    });
    await a.sendOutput('plain', { body: binary, messageId: 'msg-2', contentType: 'application/octet-stream', contentEncoding: 'binary' });
    const [first, second] = await got.waitFor(2);
    assert.ok(first && second);
    assert.deepEqual(JSON.parse(first.body.toString('utf8')), { hello: 'wörld' });
    assert.equal(first.messageId, 'msg-1');
    assert.equal(first.correlationId, 'corr-1');
    assert.equal(first.contentType, 'application/json');
    assert.equal(first.contentEncoding, 'utf-8');
    assert.deepEqual(first.properties, { fileName: 'report 2024/01.csv', 'weird key&=': 'ü/&=+ %', schema: 'edgeml.file/v1', '$.cdid': hub.deviceId, '$.cmid': 'a' });
    assert.ok(second.body.equals(binary));
    assert.equal(second.contentType, 'application/octet-stream');
    assert.equal(second.contentEncoding, 'binary');
  });

  it('filters on app properties with as_number', async () => {
    const got = collectInputs(b, 'high');
    for (const score of ['0.5', '0.8', 'abc', '0.95']) await a.sendOutput('scored', { body: { score }, properties: { score } });
    await a.sendOutput('scored', { body: { score: 'none' } });
    const msgs = await got.waitFor(2);
    await sleep(200);
    assert.deepEqual(
      msgs.map((m) => m.properties['score']),
      ['0.8', '0.95'],
    );
  });

  it('filters on system properties ($connectionModuleId, $contentType, $messageId)', async () => {
    const got = collectInputs(b, 'sys');
    await a.sendOutput('sys', { body: { n: 1 }, messageId: 'drop' });
    await a.sendOutput('sys', { body: 'text', messageId: 'keep' });
    await a.sendOutput('sys', { body: { n: 2 }, messageId: 'keep' });
    const [m] = await got.waitFor(1);
    await sleep(200);
    assert.equal(got.messages.length, 1);
    assert.equal(m?.body.toString(), '{"n":2}');
  });

  it('queries $body only when content type is application/json with a utf encoding', async () => {
    const got = collectInputs(b, 'body');
    await a.sendOutput('body', { body: { result: { label: 'ok' } }, messageId: 'b1' });
    await a.sendOutput('body', { body: Buffer.from(JSON.stringify({ result: { label: 'defect' } })), messageId: 'b2' }); // no content type
    await a.sendOutput('body', { body: JSON.stringify({ result: { label: 'defect' } }), contentType: 'application/json', contentEncoding: 'latin1', messageId: 'b3' });
    await a.sendOutput('body', { body: { result: { label: 'defect' } }, messageId: 'b4' });
    await got.waitFor(1);
    await sleep(200);
    assert.deepEqual(
      got.messages.map((m) => m.messageId),
      ['b4'],
    );
  });

  it('IS_DEFINED and NOT split messages on whether a property exists', async () => {
    const defined = collectInputs(b, 'defined');
    const notDefined = collectInputs(b, 'undefined');
    await a.sendOutput('flag', { body: {}, properties: { alert: 'high' }, messageId: 'with' });
    await a.sendOutput('flag', { body: {}, messageId: 'without' });
    await defined.waitFor(1);
    await notDefined.waitFor(1);
    await sleep(200);
    assert.deepEqual(
      defined.messages.map((m) => m.messageId),
      ['with'],
    );
    assert.deepEqual(
      notDefined.messages.map((m) => m.messageId),
      ['without'],
    );
  });

  it('delivers at most once per endpoint when several routes match, with the lowest priority number winning', async () => {
    const got = collectInputs(b, 'dup');
    const match = hub.routes.match({ source: { kind: 'telemetry', deviceId: hub.deviceId, moduleId: 'a', outputName: 'dup' }, systemProperties: { outputName: 'dup' }, properties: {}, body: new Uint8Array() });
    assert.deepEqual(
      match.map((m) => [m.routeName, m.priority, m.timeToLiveSecs]),
      [['dupHigh', 1, 200]],
    );
    await a.sendOutput('dup', { body: { x: 1 }, messageId: 'once' });
    await got.waitFor(1);
    await sleep(300);
    assert.equal(got.messages.length, 1);
  });

  it('writes $upstream messages to upstream.jsonl and tells listeners', async () => {
    const records: UpstreamRecord[] = [];
    const off = hub.onUpstream((r) => records.push(r));
    await a.sendOutput('up', { body: { temp: 21.5 }, properties: { kind: 'reading' }, messageId: 'up-1' });
    await a.sendOutput('up', { body: Buffer.from([1, 2, 3]), messageId: 'up-2' });
    off();
    assert.equal(records.length, 2, 'written before the PUBACK, so before sendOutput resolves');
    const lines = readFileSync(hub.upstreamJournalFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as UpstreamRecord);
    assert.equal(lines.length, 2);
    const [json, bin] = lines;
    assert.deepEqual(Object.keys(json ?? {}).sort(), ['body', 'properties', 'receivedAt', 'source', 'systemProperties']);
    assert.equal(json?.source, '/messages/modules/a/outputs/up');
    assert.deepEqual(json?.body, { temp: 21.5 });
    assert.deepEqual(json?.properties, { kind: 'reading' });
    assert.equal(json?.systemProperties['messageId'], 'up-1');
    assert.equal(json?.systemProperties['connectionModuleId'], 'a');
    assert.equal(bin?.body, Buffer.from([1, 2, 3]).toString('base64'));
  });

  it('drops unrouted messages and counts them; serves edgeHub metric names on /metrics', async () => {
    const before = hub.stats().dropped['no_route'] ?? 0;
    await a.sendOutput('nowhere', { body: { x: 1 } });
    assert.equal(hub.stats().dropped['no_route'], before + 1);
    await waitUntil(() => hub.stats().queues.length === 0, 5000, 'queues drained');
    const text = await (await fetch(`http://127.0.0.1:${hub.metricsPort}/metrics`)).text();
    for (const name of [
      'edgehub_messages_received_total',
      'edgehub_messages_sent_total',
      'edgehub_messages_dropped_total',
      'edgehub_connected_clients',
      'edgehub_queue_length',
      'edgehub_direct_methods_total',
      'edgehub_client_connect_success_total',
    ]) {
      assert.ok(text.includes(name), name);
    }
    assert.match(text, /edgehub_messages_dropped_total\{reason="no_route",from="edgeml-dev\/a",from_route_output="nowhere"[^}]*\} 1/);
    assert.match(text, /edgehub_connected_clients\{[^}]*\} 2/);
  });
});

describe('edge hub TTL', function () {
  this.timeout(30_000);
  it('drops messages whose route TTL expires before the module connects, and keeps the others', async () => {
    const t = await tempDir();
    const hub = await startHub({
      workDir: t.dir,
      manifest: manifest({
        modules: ['a', 'c'],
        routes: {
          short: { route: `FROM /messages/modules/a/outputs/short INTO ${to('c', 'in')}`, timeToLiveSecs: 1 },
          long: `FROM /messages/modules/a/outputs/long INTO ${to('c', 'in')}`,
        },
        timeToLiveSecs: 3600,
      }),
    });
    const a = await connectModule(hub, 'a');
    try {
      await a.sendOutput('short', { body: { n: 1 }, messageId: 'short-1' });
      await a.sendOutput('long', { body: { n: 2 }, messageId: 'long-1' });
      assert.equal(hub.stats().queues.reduce((s, q) => s + q.length, 0), 2);
      await waitUntil(() => hub.stats().dropped['ttl_expiry'] === 1, 5000, 'ttl expiry');
      const c = await connectModule(hub, 'c');
      const got = collectInputs(c, 'in');
      await got.waitFor(1);
      await sleep(200);
      assert.deepEqual(
        got.messages.map((m) => m.messageId),
        ['long-1'],
      );
      await c.close();
    } finally {
      await a.close();
      await hub.stop();
      await t.cleanup();
    }
  });
});
