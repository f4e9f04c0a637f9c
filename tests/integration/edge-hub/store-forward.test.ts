import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConnectionListener, EdgeClient } from '@edgeml/shared';
import type { EdgeHub } from '@edgeml/edge-hub';
import { collectDesired, collectInputs, connectModule, logger, manifest, rawClient, sleep, startHub, tempDir, waitUntil } from './helpers.js';
import { createEdgeHub } from '@edgeml/edge-hub';
import { writeOldHubDb } from './fixtures/old-hub-db.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const routeAB = { ab: 'FROM /messages/modules/a/outputs/* INTO BrokeredEndpoint("/modules/b/inputs/in")' };
const queued = (hub: EdgeHub): number => hub.stats().queues.reduce((s, q) => s + q.length, 0);

describe('edge hub store-and-forward', function () {
  this.timeout(60_000);

  it('queues while the receiver is offline and delivers in order after it connects; again after it reconnects', async () => {
    const t = await tempDir();
    const hub = await startHub({ workDir: t.dir, manifest: manifest({ modules: ['a', 'b'], routes: routeAB }) });
    const a = await connectModule(hub, 'a');
    try {
      for (let i = 0; i < 20; i++) await a.sendOutput('out', { body: { i }, messageId: `m-${i}` });
      assert.equal(queued(hub), 20);
      const b = await connectModule(hub, 'b');
      const got = collectInputs(b, 'in');
      await got.waitFor(20);
      assert.deepEqual(
        got.messages.map((m) => m.messageId),
        Array.from({ length: 20 }, (_, i) => `m-${i}`),
      );
      await b.close();
      for (let i = 20; i < 30; i++) await a.sendOutput('out', { body: { i }, messageId: `m-${i}` });
      const b2 = await connectModule(hub, 'b');
      const got2 = collectInputs(b2, 'in');
      await got2.waitFor(10);
      await sleep(200);
      assert.deepEqual(
        got2.messages.map((m) => m.messageId),
        Array.from({ length: 10 }, (_, i) => `m-${20 + i}`),
      );
      await b2.close();
      assert.equal(queued(hub), 0);
    } finally {
      await a.close();
      await hub.stop();
      await t.cleanup();
    }
  });

  it('a state folder written before the store dropped AUTOINCREMENT delivers its queued messages, then new ones after them', async () => {
    const t = await tempDir();
    writeOldHubDb(
      t.dir,
      Array.from({ length: 5 }, (_, i) => ({ endpoint: 'b/in', priority: 0, messageId: `old-${i}`, body: `{"i":${i}}` })),
      3,
    );
    const hub = await startHub({ workDir: t.dir, manifest: manifest({ modules: ['a', 'b'], routes: routeAB }) });
    const a = await connectModule(hub, 'a');
    try {
      assert.equal(queued(hub), 5);
      await a.sendOutput('out', { body: { i: 5 }, messageId: 'new-5' });
      const b = await connectModule(hub, 'b');
      const got = collectInputs(b, 'in');
      await got.waitFor(6);
      assert.deepEqual(
        got.messages.map((m) => m.messageId),
        ['old-0', 'old-1', 'old-2', 'old-3', 'old-4', 'new-5'],
      );
      assert.equal(got.messages[0]?.properties['old'], 'yes');
      await b.close();
      await waitUntil(() => queued(hub) === 0, 5000, 'the acknowledged messages to leave the queue');
    } finally {
      await a.close();
      await hub.stop();
      await t.cleanup();
    }
  });

  it('after a receiver died without unsubscribing, a new process gets its queued messages once it subscribes, not at CONNACK (regression: e2e killed-transformer file lost)', async () => {
    // The persisted session says "inputs wanted", but a freshly started process has no SDK listener until it
    // subscribes: a message delivered at CONNACK was acked by the SDK and dropped, and the source then waited
    // for the watcher's completion timeout (the e2e "killed module is restarted" test timed out on this).
    const t = await tempDir();
    const hub = await startHub({ workDir: t.dir, manifest: manifest({ modules: ['a', 'b'], routes: routeAB }) });
    const a = await connectModule(hub, 'a');
    try {
      const dying = await rawClient(hub, 'b');
      await dying.subscribeAsync(`devices/${hub.deviceId}/modules/b/inputs/#`, { qos: 1 });
      dying.stream.destroy(); // like SIGKILL: no UNSUBSCRIBE, no DISCONNECT
      await waitUntil(() => !hub.stats().connected.includes('b'), 5000, 'the hub to notice b is gone');
      for (let i = 0; i < 3; i++) await a.sendOutput('out', { body: { i }, messageId: `k-${i}` });
      const b = await connectModule(hub, 'b');
      await sleep(1500); // the module is still starting: connected, twin read, no input handler yet
      const got = collectInputs(b, 'in');
      await got.waitFor(3);
      assert.deepEqual(
        got.messages.map((m) => m.messageId),
        ['k-0', 'k-1', 'k-2'],
      );
      await b.close();
      assert.equal(queued(hub), 0);
    } finally {
      await a.close();
      await hub.stop();
      await t.cleanup();
    }
  });

  it('survives a hub restart: queued messages delivered, twin re-read as full, direct replies without re-subscription', async () => {
    const t = await tempDir();
    const m = manifest({ modules: ['a', 'b'], routes: routeAB, desired: { b: { batch: 1 } } });
    const hub1 = await startHub({ workDir: t.dir, manifest: m });
    const port = hub1.port;
    const a = await connectModule(hub1, 'a');
    const b = await connectModule(hub1, 'b');
    const desired = collectDesired(b);
    const states: boolean[] = [];
    const onState: ConnectionListener = (s) => states.push(s.connected);
    b.onConnectionChange(onState);
    b.onMethod('ping', () => Promise.resolve({ status: 200, payload: 'pong' }));
    const got = collectInputs(b, 'in');
    let hub2: EdgeHub | undefined;
    try {
      await a.sendOutput('out', { body: {}, messageId: 'before' });
      await got.waitFor(1);
      await hub1.stop();
      await waitUntil(() => states.includes(false), 5000, 'b noticed the loss');
      hub2 = await createEdgeHub({ workDir: t.dir, manifest: m, port, logger });
      // Changed while b was away: only a full twin re-read on reconnect can see it.
      await hub2.patchDesired('b', { batch: 99 });
      await hub2.start();
      await waitUntil(() => desired.some((u) => u.kind === 'full' && u.properties['batch'] === 99), 15_000, 'full re-read after reconnect');
      assert.equal(states.at(-1), true);
      await a.sendOutput('out', { body: {}, messageId: 'after' });
      await got.waitFor(2, 15_000);
      assert.deepEqual(
        got.messages.map((x) => x.messageId),
        ['before', 'after'],
      );
      // Twin GET/PATCH and methods work though the SDK never re-subscribed the twin topics on the new broker.
      await b.updateReported({ afterRestart: true });
      assert.equal(hub2.getTwin('b').reported['afterRestart'], true);
      await hub2.patchDesired('b', { batch: 100 });
      await waitUntil(() => desired.some((u) => u.kind === 'patch' && u.properties['batch'] === 100), 5000, 'live patch after restart');
      await waitUntil(() => hub2 !== undefined && hub2.stats().connected.includes('b'), 5000);
      let r = await hub2.invokeMethod('b', 'ping', {}, { responseTimeoutMs: 2000 });
      for (let i = 0; i < 20 && r.status !== 200; i++) r = await hub2.invokeMethod('b', 'ping', {}, { responseTimeoutMs: 1000 });
      assert.deepEqual(r, { status: 200, payload: 'pong' });
    } finally {
      await a.close();
      await b.close();
      await hub1.stop();
      await hub2?.stop();
      await t.cleanup();
    }
  });

  it('loses nothing when the hub process is SIGKILLed with messages queued', async () => {
    const t = await tempDir();
    const m = manifest({ modules: ['a', 'b'], routes: routeAB });
    const manifestFile = path.join(t.dir, 'manifest.json');
    writeFileSync(manifestFile, JSON.stringify(m));
    const start = (port: number): Promise<{ kill: () => Promise<void>; port: number }> =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@edgeml/source', path.join(here, 'fixtures', 'hub-process.ts'), t.dir, String(port), manifestFile], {
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
    const proc = await start(0);
    // A hub object on the same workDir gives the credentials (keys are in the work folder).
    const view = await createEdgeHub({ workDir: t.dir, manifest: m, port: proc.port, logger });
    const a = await connectModule(view, 'a');
    let hub2: EdgeHub | undefined;
    try {
      for (let i = 0; i < 10; i++) await a.sendOutput('out', { body: { i }, messageId: `k-${i}` });
      await proc.kill();
      await view.stop();
      hub2 = await startHub({ workDir: t.dir, manifest: m, port: proc.port });
      assert.equal(queued(hub2), 10);
      const b = await connectModule(hub2, 'b');
      const got = collectInputs(b, 'in');
      await got.waitFor(10);
      assert.deepEqual(
        got.messages.map((x) => x.messageId),
        Array.from({ length: 10 }, (_, i) => `k-${i}`),
      );
      await b.close();
    } finally {
      await a.close();
      await hub2?.stop();
      await t.cleanup();
    }
  });

  it('sends an unacknowledged delivery again, one in flight per input (maxInFlightPerInput 1), then moves on', async () => {
    const t = await tempDir();
    const hub = await startHub({ workDir: t.dir, manifest: manifest({ modules: ['a', 'b'], routes: routeAB }), messageAckTimeoutMs: 400, maxInFlightPerInput: 1 });
    const a = await connectModule(hub, 'a');
    const raw = await rawClient(hub, 'b');
    let dropAcks = true;
    const client = raw as unknown as { _sendPacket: (packet: { cmd: string }, cb?: () => void, ...rest: unknown[]) => void };
    const send = client._sendPacket.bind(raw);
    client._sendPacket = (packet, cb, ...rest) => (dropAcks && packet.cmd === 'puback' ? cb?.() : send(packet, cb, ...rest));
    const seen: string[] = [];
    raw.on('message', (topic) => seen.push(/%24\.mid=([^&]+)/.exec(topic)?.[1] ?? topic));
    try {
      await raw.subscribeAsync(`devices/${hub.deviceId}/modules/b/inputs/#`, { qos: 1 });
      await a.sendOutput('out', { body: {}, messageId: 'r1' });
      await a.sendOutput('out', { body: {}, messageId: 'r2' });
      await waitUntil(() => seen.length >= 2, 5000, 'a redelivery');
      assert.deepEqual(seen.slice(0, 2), ['r1', 'r1'], 'r2 waits while r1 is unacknowledged');
      dropAcks = false;
      await waitUntil(() => seen.includes('r2'), 5000, 'r2 after the ack');
      await waitUntil(() => queued(hub) === 0, 5000, 'queue empty');
      assert.deepEqual([...new Set(seen)], ['r1', 'r2']);
    } finally {
      await raw.endAsync(true);
      await a.close();
      await hub.stop();
      await t.cleanup();
    }
  });

  it('keeps order per input with a window: unacknowledged deliveries are sent again together, in order', async () => {
    const t = await tempDir();
    const hub = await startHub({ workDir: t.dir, manifest: manifest({ modules: ['a', 'b'], routes: routeAB }), messageAckTimeoutMs: 400, maxInFlightPerInput: 3 });
    const a = await connectModule(hub, 'a');
    const raw = await rawClient(hub, 'b');
    let dropAcks = true;
    const client = raw as unknown as { _sendPacket: (packet: { cmd: string }, cb?: () => void, ...rest: unknown[]) => void };
    const send = client._sendPacket.bind(raw);
    client._sendPacket = (packet, cb, ...rest) => (dropAcks && packet.cmd === 'puback' ? cb?.() : send(packet, cb, ...rest));
    const seen: string[] = [];
    raw.on('message', (topic) => seen.push(/%24\.mid=([^&]+)/.exec(topic)?.[1] ?? topic));
    try {
      await raw.subscribeAsync(`devices/${hub.deviceId}/modules/b/inputs/#`, { qos: 1 });
      for (const id of ['w1', 'w2', 'w3', 'w4']) await a.sendOutput('out', { body: {}, messageId: id });
      await waitUntil(() => seen.length >= 6, 5000, 'the window sent again');
      assert.deepEqual(seen.slice(0, 6), ['w1', 'w2', 'w3', 'w1', 'w2', 'w3'], 'three in flight, w4 waits; the three go again in order');
      dropAcks = false;
      await waitUntil(() => queued(hub) === 0, 5000, 'queue empty');
      assert.deepEqual([...new Set(seen)], ['w1', 'w2', 'w3', 'w4']);
      assert.equal(seen.at(-1), 'w4');
    } finally {
      await raw.endAsync(true);
      await a.close();
      await hub.stop();
      await t.cleanup();
    }
  });

  it('enforces storeLimits.maxSizeBytes: a publish over the limit gets no PUBACK until there is room', async () => {
    const t = await tempDir();
    const hub = await startHub({ workDir: t.dir, manifest: manifest({ modules: ['a', 'b'], routes: routeAB, maxSizeBytes: 2600 }) });
    const a = await connectModule(hub, 'a');
    try {
      const body = Buffer.alloc(1024, 1);
      await a.sendOutput('out', { body, messageId: 's1' });
      await a.sendOutput('out', { body, messageId: 's2' });
      let thirdDone = false;
      const third = a.sendOutput('out', { body, messageId: 's3' }).then(() => (thirdDone = true));
      await sleep(800);
      assert.equal(thirdDone, false);
      assert.equal(queued(hub), 2);
      assert.ok(hub.stats().queues.reduce((s, q) => s + q.bytes, 0) <= 2600);
      const b = await connectModule(hub, 'b');
      const got = collectInputs(b, 'in');
      await third;
      await got.waitFor(3, 20_000);
      assert.deepEqual(
        got.messages.map((x) => x.messageId),
        ['s1', 's2', 's3'],
      );
      await b.close();
    } finally {
      await a.close();
      await hub.stop();
      await t.cleanup();
    }
  });
});

describe('edge hub malformed publishes', function () {
  this.timeout(30_000);
  it('refuses bad escapes, oversize bodies and non-JSON twin bodies without affecting the publisher or anyone else', async () => {
    const t = await tempDir();
    const hub = await startHub({
      workDir: t.dir,
      manifest: manifest({
        modules: ['a', 'b', 'c'],
        routes: { ac: 'FROM /messages/modules/a/outputs/* INTO BrokeredEndpoint("/modules/c/inputs/in")', bc: 'FROM /messages/modules/b/outputs/* INTO BrokeredEndpoint("/modules/c/inputs/in")' },
      }),
    });
    const b = await connectModule(hub, 'b');
    const c: EdgeClient = await connectModule(hub, 'c');
    const got = collectInputs(c, 'in');
    const raw = await rawClient(hub, 'a');
    const replies: Array<{ topic: string; body: string }> = [];
    raw.on('message', (topic, payload) => replies.push({ topic, body: payload.toString() }));
    try {
      await raw.subscribeAsync('$iothub/twin/res/#', { qos: 0 });
      const events = `devices/${hub.deviceId}/modules/a/messages/events`;
      await raw.publishAsync(`${events}/%24.on=out&bad=%E0%A4%A/`, '{}', { qos: 1 });
      await raw.publishAsync(`${events}/%24.on=out&%24.mid=big/`, Buffer.alloc(256 * 1024 + 1, 65), { qos: 1 });
      raw.publish('$iothub/twin/PATCH/properties/reported/?$rid=r1', 'not json', { qos: 0 });
      await waitUntil(() => replies.length === 1, 5000, 'twin error reply');
      assert.match(replies[0]?.topic ?? '', /^\$iothub\/twin\/res\/400\/\?\$rid=r1$/);
      assert.equal((JSON.parse(replies[0]?.body ?? '{}') as { errorCode?: number }).errorCode, 400004);
      assert.ok(raw.connected, 'the publisher is still connected');
      assert.equal(hub.stats().dropped['invalid'], 1);
      assert.equal(hub.stats().dropped['too_large'], 1);
      // The same connection still works, and so do the others.
      raw.publish('$iothub/twin/GET/?$rid=r2', ' ', { qos: 0 });
      await raw.publishAsync(`${events}/%24.on=out&%24.mid=fine/`, '{"ok":1}', { qos: 1 });
      await b.sendOutput('out', { body: { ok: 2 }, messageId: 'from-b' });
      await got.waitFor(2);
      await waitUntil(() => replies.length === 2, 5000, 'twin GET reply');
      assert.match(replies[1]?.topic ?? '', /^\$iothub\/twin\/res\/200\//);
      assert.deepEqual(
        got.messages.map((m) => m.messageId).sort(),
        ['fine', 'from-b'],
      );
    } finally {
      await raw.endAsync(true);
      await b.close();
      await c.close();
      await hub.stop();
      await t.cleanup();
    }
  });
});
