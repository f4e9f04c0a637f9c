/**
 * The MQTT 5 edge client publishes its status document again after each reconnect (the broker may
 * have lost retained messages). When that publish fails — the link dropped again, the broker refused
 * it — the module must keep running: a warning, no unhandled rejection (which the lifecycle treats as
 * fatal), and the document goes out with the next update. A fake connection (pure client logic).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { EdgeMLError, createLogger, createMqtt5EdgeClient, planTopics, sleep, type Mqtt5Connection } from '@edgeml/shared';

type Listener = (state: { connected: boolean; sessionPresent?: boolean; reason?: string }) => void;

function fakeConnection(): { connection: Mqtt5Connection; published: string[]; refuse: { next: boolean }; reconnect: () => void } {
  const listeners: Listener[] = [];
  const published: string[] = [];
  const refuse = { next: false };
  const connection: Mqtt5Connection = {
    clientId: 'inferencer-0',
    connect: () => Promise.resolve({ sessionPresent: false }),
    publish: async (p) => {
      await sleep(1);
      if (refuse.next) {
        refuse.next = false;
        throw new EdgeMLError('EDGE_SEND_FAILED', 'publish refused by the broker (reason 0x87)');
      }
      published.push(p.topic);
      return { reasonCode: 0 };
    },
    subscribe: () => Promise.resolve(),
    unsubscribe: () => Promise.resolve(),
    onMessage: () => undefined,
    onConnectionChange: (l) => void listeners.push(l),
    close: () => Promise.resolve(),
  };
  return { connection, published, refuse, reconnect: () => listeners.forEach((l) => l({ connected: true, sessionPresent: true })) };
}

describe('MQTT 5 edge client: the status published again after a reconnect', function () {
  this.timeout(10_000);

  it('logs a failed republish as a warning, with no unhandled rejection, and publishes with the next update', async () => {
    const lines: string[] = [];
    const logger = createLogger({ name: 'test', level: 'warn', destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown): void => void unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      const fake = fakeConnection();
      const client = createMqtt5EdgeClient({ connection: fake.connection, deviceId: 'dev', moduleId: 'inferencer', plan: planTopics({}), logger });
      await client.open();
      await client.updateReported({ state: 'running' });
      assert.equal(fake.published.length, 1);

      fake.refuse.next = true;
      fake.reconnect();
      await sleep(50);
      assert.deepEqual(unhandled, [], 'no unhandled rejection');
      assert.ok(lines.some((l) => /status not published again after the reconnect: .*0x87/.test(l)), `a warning naming the failure: ${lines.join('')}`);
      assert.equal(fake.published.length, 1, 'the refused publish is not counted');

      fake.reconnect();
      await client.updateReported({ state: 'still running' });
      assert.equal(fake.published.length, 3, 'the next reconnect and update publish again');
      await client.close();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
