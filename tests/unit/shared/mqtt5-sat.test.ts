/**
 * K8S-SAT on the wire. No broker available here implements it (Mosquitto refuses unknown
 * authentication methods), so a minimal MQTT 5 peer built on mqtt-packet (the parser mqtt.js itself
 * uses) plays the Azure IoT Operations broker's part as its documentation describes it: CONNECT with
 * Authentication Method `K8S-SAT` and the token file's bytes; AUTH reason 0x19 (re-authenticate) with a
 * rotated token on the live connection; a closed connection at expiry, then CONNECT with a fresh read.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import { createLogger, createMqtt5Connection, parseMqtt5Settings, sleep, type Mqtt5Connection } from '@edgeml/shared';

const silent = createLogger({ name: 'sat', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

interface Seen {
  readonly cmd: string;
  readonly reasonCode?: number;
  readonly method?: string;
  readonly data?: string;
}

function fakeAioBroker(): Promise<{ server: Server; port: number; seen: Seen[]; sockets: Set<Socket> }> {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const opts = { protocolVersion: 5 as const };
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const parser = mqttPacket.parser(opts);
    parser.on('packet', (p: mqttPacket.Packet) => {
      const props = (p as { properties?: { authenticationMethod?: string; authenticationData?: Buffer } }).properties;
      seen.push({ cmd: p.cmd, ...((p as { reasonCode?: number }).reasonCode === undefined ? {} : { reasonCode: (p as { reasonCode: number }).reasonCode }), ...(props?.authenticationMethod === undefined ? {} : { method: props.authenticationMethod }), ...(props?.authenticationData === undefined ? {} : { data: props.authenticationData.toString() }) });
      if (p.cmd === 'connect') {
        socket.write(mqttPacket.generate({ cmd: 'connack', sessionPresent: false, reasonCode: 0, properties: { authenticationMethod: 'K8S-SAT' } }, opts));
      } else if (p.cmd === 'auth') {
        socket.write(mqttPacket.generate({ cmd: 'auth', reasonCode: 0, properties: { authenticationMethod: 'K8S-SAT' } }, opts));
      } else if (p.cmd === 'pingreq') socket.write(mqttPacket.generate({ cmd: 'pingresp' }, opts));
      else if (p.cmd === 'disconnect') socket.end();
    });
    socket.on('data', (d: Buffer) => parser.parse(d));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port, seen, sockets })));
}

describe('MQTT 5 K8S-SAT authentication (protocol against a minimal MQTT 5 peer)', function () {
  this.timeout(20_000);
  let dir: string;
  let broker: Awaited<ReturnType<typeof fakeAioBroker>>;
  let connection: Mqtt5Connection | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-sat-'));
    broker = await fakeAioBroker();
  });
  afterEach(async () => {
    await connection?.close();
    for (const s of broker.sockets) s.destroy();
    await new Promise((r) => broker.server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('sends the token file in CONNECT, re-authenticates on the live connection when it rotates, and reconnects with a fresh read', async () => {
    const tokenFile = path.join(dir, 'broker-sat');
    await writeFile(tokenFile, 'token-one');
    const settings = parseMqtt5Settings('inferencer', {
      AIO_BROKER_HOSTNAME: '127.0.0.1',
      AIO_BROKER_TCP_PORT: String(broker.port),
      AIO_MQTT_USE_TLS: 'false',
      AIO_SAT_FILE: tokenFile,
      AIO_MQTT_CLIENT_ID: 'inferencer-0',
      EDGEML_MQTT_ROUTES_FILE: 'unused.json',
    });
    connection = createMqtt5Connection({ settings, logger: silent, tokenCheckMs: 50, reconnectDelayMs: 100 });
    await connection.connect(AbortSignal.timeout(5_000));
    assert.deepEqual(broker.seen[0], { cmd: 'connect', method: 'K8S-SAT', data: 'token-one' });

    await writeFile(tokenFile, 'token-two');
    const until = Date.now() + 5_000;
    while (!broker.seen.some((p) => p.cmd === 'auth') && Date.now() < until) await sleep(20);
    assert.deepEqual(
      broker.seen.find((p) => p.cmd === 'auth'),
      { cmd: 'auth', reasonCode: 0x19, method: 'K8S-SAT', data: 'token-two' },
    );

    // Expiry: the broker just closes the connection; the kubelet has already written a new token.
    await writeFile(tokenFile, 'token-three');
    for (const s of broker.sockets) s.destroy();
    while (broker.seen.filter((p) => p.cmd === 'connect').length < 2 && Date.now() < until + 5_000) await sleep(20);
    const connects = broker.seen.filter((p) => p.cmd === 'connect');
    assert.equal(connects.length, 2);
    assert.equal(connects[1]?.data, 'token-three');
  });

  it('refuses two authentication methods at once, listing the problem', () => {
    assert.throws(
      () => parseMqtt5Settings('x', { AIO_BROKER_HOSTNAME: 'h', EDGEML_MQTT_ROUTES_FILE: 'r', AIO_SAT_FILE: '/t', AIO_MQTT_USERNAME: 'u' }),
      (err: Error & { code?: string }) => err.code === 'CONFIG_INVALID' && /choose one authentication/.test(err.message),
    );
  });
});
