/**
 * One session worker seen from the main thread (a real worker thread): the requests of one event-loop
 * turn travel in one message, and one that cannot be posted fails alone while the others are answered.
 */
import assert from 'node:assert/strict';
import { createLogger } from '@edgeml/shared';
import { WorkerHost, type HostRequest } from '../../../modules/inferencer/src/session/worker-host.js';

const logger = createLogger({ name: 'test', level: 'silent' });

describe('inferencer session worker host', function () {
  this.timeout(30_000);

  it('a request that cannot be posted fails alone with INTERNAL; the others of the same turn are answered', async () => {
    const died: string[] = [];
    const host = new WorkerHost((_h, reason) => died.push(reason));
    try {
      // A function cannot be cloned into the worker: postMessage throws DataCloneError.
      const unpostable = { op: 'release', sessionId: 7, extra: () => undefined } as unknown as HostRequest;
      const before = host.call({ op: 'release', sessionId: 41 });
      const bad = host.call(unpostable);
      const after = host.call({ op: 'release', sessionId: 42 });
      await assert.rejects(bad, (err: unknown) => (err as { code?: string }).code === 'INTERNAL' && /could not post to the session worker/.test(String((err as Error).message)));
      assert.equal(await before, null);
      assert.equal(await after, null);
      // The worker is still there and answers the next turn's request.
      assert.equal(await host.call({ op: 'release', sessionId: 43 }), null);
      assert.deepEqual(died, []);
    } finally {
      await host.stopWhenIdle(logger);
    }
  });
});
