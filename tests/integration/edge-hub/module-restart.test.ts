import assert from 'node:assert/strict';
import { connectModule, manifest, rawClient, sleep, startHub, tempDir, waitUntil } from './helpers.js';

const routeAB = { ab: 'FROM /messages/modules/a/outputs/* INTO BrokeredEndpoint("/modules/b/inputs/in")' };
const midOf = (topic: string): string => /%24\.mid=([^&/]+)/.exec(topic)?.[1] ?? topic;

describe('edge hub: input deliveries to a module that reconnects', function () {
  this.timeout(30_000);

  // What broke: the hub delivered a queued message to a restarted module as soon as it connected, because
  // the inputs subscription of its previous process was remembered. The SDK acknowledged it before the new
  // process registered its listener and dropped it; the file then waited for the watcher's completion
  // timeout (the end-to-end test's killed transformer, under load, never completed its next file).
  it('a new process gets nothing before it subscribes to its inputs; a resumed connection (SAS renewal) goes on at once', async () => {
    const t = await tempDir();
    const hub = await startHub({ workDir: t.dir, manifest: manifest({ modules: ['a', 'b'], routes: routeAB }) });
    const a = await connectModule(hub, 'a');
    const inputs = `devices/${hub.deviceId}/modules/b/inputs/#`;
    try {
      const b1 = await rawClient(hub, 'b');
      const got1: string[] = [];
      b1.on('message', (topic) => got1.push(midOf(topic)));
      await b1.subscribeAsync(inputs, { qos: 1 });
      await a.sendOutput('out', { body: {}, messageId: 'm1' });
      await waitUntil(() => got1.includes('m1'), 5000, 'm1');
      // The process dies: its socket goes away without a DISCONNECT.
      (b1 as unknown as { stream: { destroy: () => void } }).stream.destroy();
      await waitUntil(() => !hub.stats().connected.includes('b'), 5000, 'b gone');
      await sleep(700);
      await a.sendOutput('out', { body: {}, messageId: 'm2' });

      const b2 = await rawClient(hub, 'b');
      const got2: string[] = [];
      b2.on('message', (topic) => got2.push(midOf(topic)));
      await sleep(800);
      assert.equal(got2.length, 0, 'nothing before the new process listens');
      await b2.subscribeAsync(inputs, { qos: 1 });
      await waitUntil(() => got2.includes('m2'), 5000, 'm2 after the SUBSCRIBE');

      // SAS renewal: DISCONNECT, then CONNECT at once, without subscribing again.
      await b2.endAsync();
      const b3 = await rawClient(hub, 'b');
      const got3: string[] = [];
      b3.on('message', (topic) => got3.push(midOf(topic)));
      await a.sendOutput('out', { body: {}, messageId: 'm3' });
      await waitUntil(() => got3.includes('m3'), 5000, 'm3 on the resumed connection');
      await b3.endAsync(true);
    } finally {
      await a.close();
      await hub.stop();
      await t.cleanup();
    }
  });
});
