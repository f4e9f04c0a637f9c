import assert from 'node:assert/strict';
import { once } from 'node:events';
import { startWorker } from '@edgeml/shared';

describe('shared/workers (startWorker)', function () {
  this.timeout(30_000);

  it('starts a TypeScript worker beside a TypeScript caller (tsx registered inside the worker)', async () => {
    const worker = startWorker(import.meta.url, './fixtures/echo-worker');
    try {
      worker.postMessage(21);
      const [answer] = (await once(worker, 'message')) as [number];
      assert.equal(answer, 42);
    } finally {
      await worker.terminate();
    }
  });

  it('a built caller (.js) starts the .js entry beside it', async () => {
    const worker = startWorker(new URL('./fixtures/missing.js', import.meta.url).href, './no-such-worker');
    const [err] = (await once(worker, 'error')) as [Error];
    assert.match(err.message, /no-such-worker\.js/);
  });
});
