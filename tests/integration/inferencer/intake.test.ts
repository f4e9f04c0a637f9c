/**
 * The intake with the real module: bounded in items and bytes, it answers `deferred` (OVERLOADED)
 * when full instead of holding the message; every tensor file it took is removed from staging on
 * every outcome, duplicates included.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { SCHEMAS, parseMessage } from '@edgeml/shared';
import { OVERLOAD_RETRY_MS } from '@edgeml/inferencer';
import { preprocessCls, renderText, sha256Hex, startInferencer, tensorCopy, writeTensor, type Harness } from './support.js';

/** Tensor files left in staging, apart from the template the copies are made from (never delivered). */
async function npyFilesUnder(dir: string, template: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith('.npy') && !template.endsWith(n));
}

describe('inferencer intake: bounded, deferring, and leaving no tensor behind', function () {
  this.timeout(120_000);
  let h: Harness;
  let template: Awaited<ReturnType<typeof writeTensor>>;

  before(async () => {
    h = await startInferencer({ models: { cls: { name: 'paddleocr-cls', version: '1' } }, maxQueueItems: 4, maxBatchSize: 4, maxQueueDelayMs: 20 });
    const img = await renderText(220, 40, [{ text: 'bounded intake', x: 6, y: 29, fontSize: 26 }]);
    template = await writeTensor(h.root, { profile: 'cls', ...(await preprocessCls(img)), seed: 'intake-template' });
  });
  after(async () => {
    await h.close();
  });

  it('answers deferred (OVERLOADED, retryAfterMs) at once when full, and serves what it admitted', async () => {
    const msgs = await Promise.all(Array.from({ length: 24 }, (_, i) => tensorCopy(h.root, template, sha256Hex(`burst-${i}`))));
    const c0 = h.completions().length;
    await Promise.all(msgs.map((m) => h.client.deliver('tensors', m)));
    const completions = h.completions().slice(c0);
    const deferred = completions.filter((c) => c['outcome'] === 'deferred');
    const results = new Set(h.results().map((r) => r['id'] as string));
    assert.ok(deferred.length > 0, 'a burst of 24 into an intake of 4 defers some');
    assert.equal(deferred.length + msgs.filter((m) => results.has(m.id)).length, msgs.length, 'every tensor: a result or a deferral');
    for (const c of deferred) {
      parseMessage(JSON.stringify(c), SCHEMAS.completion);
      assert.deepEqual([c['code'], c['retryAfterMs'], c['part']], ['OVERLOADED', OVERLOAD_RETRY_MS, 'result:cls']);
      assert.match(String(c['reason']), /intake is full \(\d+ of 4 tensors/);
    }
    assert.equal(completions.filter((c) => c['outcome'] === 'deadLettered').length, 0);
    assert.equal(h.alerts().length, 0, 'a deferral is not an alert');
    const status = (await h.client.invoke('getStatus', {})).payload as { queue: { admittedItems: number }; counts: { deferred: number } };
    assert.equal(status.queue.admittedItems, 0, 'nothing left admitted');
    assert.ok(status.counts.deferred >= deferred.length);
    const metrics = await (await fetch(`http://127.0.0.1:${h.running.ops.port}/metrics`)).text();
    assert.match(metrics, /edgeml_inferencer_deferred_total\{[^}]*code="OVERLOADED"[^}]*\} [1-9]/);
  });

  it('removes every tensor file it took: results, deferrals and dead letters alike', async () => {
    assert.deepEqual(await npyFilesUnder(path.join(h.root, 'staging'), template.tensor.path), [], 'no tensor left in staging');
  });

  it('a duplicate in flight keeps the file until both are done; a later one is deferred as missing', async () => {
    const msg = await tensorCopy(h.root, template, sha256Hex('duplicate'));
    await Promise.all([h.client.deliver('tensors', msg), h.client.deliver('tensors', msg)]);
    const results = h.results().filter((r) => r['id'] === msg.id);
    assert.equal(results.length, 2, 'both copies got their result (same messageId: recognisable downstream)');
    assert.equal(results[0]!['messageId'], results[1]!['messageId']);
    assert.deepEqual(await npyFilesUnder(path.join(h.root, 'staging'), template.tensor.path), []);
    const c0 = h.completions().length;
    await h.client.deliver('tensors', msg);
    assert.deepEqual(h.completions().slice(c0).map((c) => [c['outcome'], c['code']]), [['deferred', 'FILE_NOT_FOUND']]);
  });
});
