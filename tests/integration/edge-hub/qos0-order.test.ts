import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { Aedes, type Client } from 'aedes';
import mqtt from 'mqtt';
import { createHubMetrics, ModuleConnections } from '@edgeml/edge-hub';
import { logger, waitUntil } from './helpers.js';

describe('edge hub writes to one connection (real aedes, mqtt.js clean=false)', function () {
  this.timeout(20_000);

  // What broke: aedes drops a packet whose (brokerId, brokerCounter) is not above the last it wrote to that
  // connection, and checks a QoS 1 packet a microtask after a QoS 0 one. An input delivery followed in the
  // same turn by a twin reply or a method request was silently lost; its input then waited 30 s (the ack
  // timeout) before it was sent again.
  it('a QoS 1 input delivery followed in the same turn by a QoS 0 write both arrive', async () => {
    const broker = await Aedes.createBroker();
    const server: Server = createServer((s) => broker.handle(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    let target: Client | undefined;
    broker.on('clientReady', (c) => {
      if (c.id === 'dev/b') target = c;
    });
    const store = { getFeatures: () => new Set(), putFeatures: () => undefined } as unknown as ConstructorParameters<typeof ModuleConnections>[0]['store'];
    const connections = new ModuleConnections({ store, moduleIds: [], metrics: createHubMetrics({ iothub: 'h', edgeDevice: 'dev' }, () => []), logger, label: (m) => m, now: Date.now });
    const b = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'dev/b', clean: false, reconnectPeriod: 0 });
    const got: string[] = [];
    b.on('message', (topic) => got.push(topic));
    try {
      await b.subscribeAsync('devices/dev/modules/b/inputs/#', { qos: 1 });
      await b.subscribeAsync('$iothub/twin/res/#', { qos: 0 });
      await waitUntil(() => target !== undefined, 5000, 'the connection');
      const client = target!;
      for (let i = 0; i < 5; i++) {
        connections.send(client, `devices/dev/modules/b/inputs/in/n=${i}`, 'x', 1);
        connections.send(client, `$iothub/twin/res/204/?$rid=${i}`, '', 0);
      }
      await waitUntil(() => got.length >= 10, 5000, `ten packets (have ${JSON.stringify(got)})`);
      assert.deepEqual(got.filter((t) => t.includes('/inputs/')).length, 5, 'every input delivery arrived');
    } finally {
      await b.endAsync(true);
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    }
  });
});
