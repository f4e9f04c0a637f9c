import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AlertMessage, CompletionMessage } from '@edgeml/shared';
import { configFrom, makeDataRoot, resultMessage, stageArtifact, startApp, waitFor } from './fixtures.js';

/** Quota policies and hostile input on the real app (real SQLite, real files); uploads are off. */
describe('uploader quotas and hostile input (no sink needed)', function () {
  this.timeout(30_000);

  it('rejectNew: a full class defers the new item (nothing dropped), says so in status and reported properties; room lets it in', async () => {
    const paths = await makeDataRoot();
    const t = await startApp(paths, {}, { uploadOn: false, quotaRetryAfterMs: 5_000, classes: { artifacts: { quotaBytes: 10_000, policy: 'rejectNew' } } });
    try {
      const items = await Promise.all([1, 2, 3, 4].map((i) => stageArtifact(paths, { sizeBytes: 4_000, seed: `q${i}` })));
      for (const s of items.slice(0, 3)) await t.edge.deliver('artifacts', s.message);
      await waitFor(() => t.completions().length === 1, 5_000, 'one deferral');
      const c = t.completions()[0] as CompletionMessage;
      assert.equal(c.id, items[2]?.message.id);
      assert.equal(c.outcome, 'deferred');
      assert.equal(c.code, 'QUOTA_EXCEEDED');
      assert.equal(c.retryAfterMs, 5_000);
      assert.match(c.reason ?? '', /artifacts quota full \(2 items, 8000 of 10000 bytes\)/);
      const status = t.app.status() as { usage: { artifacts: { items: number; rejected: number; bytes: number } }; totals: { deferred: number; deadLettered: number } };
      assert.deepEqual([status.usage.artifacts.items, status.usage.artifacts.bytes, status.usage.artifacts.rejected], [2, 8_000, 1]);
      assert.deepEqual([status.totals.deferred, status.totals.deadLettered], [1, 0]);
      await waitFor(() => ((t.edge.reported['status'] as { usage?: { artifacts?: { rejected?: number } } } | undefined)?.usage?.artifacts?.rejected ?? 0) === 1, 5_000, 'reported usage');
      assert.ok(t.edge.sentTo('alerts').some((a) => (a.json as AlertMessage).code === 'QUOTA_EXCEEDED'));
      const metrics = await t.registry.metrics();
      assert.match(metrics, /edgeml_uploader_quota_events_total\{class="artifacts",action="rejected"\} 1/);
      assert.match(metrics, /edgeml_uploader_queue_bytes\{class="artifacts"\} 8000/);
      // A second refusal in the same minute is a deferral too, without a second alert.
      await t.edge.deliver('artifacts', items[3]!.message);
      await waitFor(() => t.completions().length === 2, 5_000, 'second deferral');
      assert.equal(t.completions()[1]?.outcome, 'deferred');
      assert.notEqual(t.completions()[1]?.messageId, t.completions()[0]?.messageId);
      assert.equal(t.edge.sentTo('alerts').filter((a) => (a.json as AlertMessage).code === 'QUOTA_EXCEEDED' && /deferred/.test((a.json as AlertMessage).message)).length, 1);
      // With room (a larger quota), the same item offered again is queued.
      await t.app.configure(configFrom({ uploadOn: false, classes: { artifacts: { quotaBytes: 20_000 } } }), undefined);
      await t.edge.deliver('artifacts', items[2]!.message);
      assert.equal((t.app.status() as { usage: { artifacts: { items: number } } }).usage.artifacts.items, 3);
      assert.equal(t.completions().length, 2, 'queued, not acknowledged yet (uploads are off)');
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });

  it('an item larger than the whole quota can never fit: dead-lettered under either policy', async () => {
    const paths = await makeDataRoot();
    const t = await startApp(paths, {}, { uploadOn: false, classes: { artifacts: { quotaBytes: 10_000, policy: 'rejectNew' }, raw: { quotaBytes: 10_000, policy: 'evictOldest' } } });
    try {
      const big = await stageArtifact(paths, { sizeBytes: 12_000, seed: 'big' });
      const bigRaw = await stageArtifact(paths, { sizeBytes: 12_000, seed: 'big-raw', kind: 'raw' });
      await t.edge.deliver('artifacts', big.message);
      await t.edge.deliver('artifacts', bigRaw.message);
      await waitFor(() => t.completions().length === 2, 5_000, 'two dead letters');
      for (const c of t.completions()) {
        assert.equal(c.outcome, 'deadLettered');
        assert.equal(c.code, 'QUOTA_EXCEEDED');
        assert.match(c.reason ?? '', /larger than the (artifacts|raw) quota of 10000 bytes/);
      }
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });

  it('evictOldest: the oldest queued item is dead-lettered to make room for the new one', async () => {
    const paths = await makeDataRoot();
    const t = await startApp(paths, {}, { uploadOn: false, classes: { raw: { quotaBytes: 10_000, policy: 'evictOldest' } } });
    try {
      const items = [];
      for (let i = 0; i < 3; i++) items.push(await stageArtifact(paths, { sizeBytes: 4_000, seed: `e${i}`, kind: 'raw' }));
      for (const s of items) await t.edge.deliver('artifacts', s.message);
      await waitFor(() => t.completions().length === 1, 5_000, 'one eviction');
      const c = t.completions()[0] as CompletionMessage;
      assert.equal(c.id, items[0]?.message.id);
      assert.equal(c.code, 'QUOTA_EXCEEDED');
      assert.match(c.reason ?? '', /evicted/);
      const usage = (t.app.status() as { usage: { raw: { items: number; evicted: number } } }).usage.raw;
      assert.deepEqual([usage.items, usage.evicted], [2, 1]);
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });

  it('hostile input: wrong schema, invalid JSON, traversal, symlink escape, >256 KiB, changed file — a clear outcome each, no crash', async () => {
    const paths = await makeDataRoot();
    const t = await startApp(paths, {}, { uploadOn: false });
    try {
      const good = await stageArtifact(paths, { seed: 'good' });
      const base = good.message;
      await t.edge.deliver('artifacts', '{not json');
      await t.edge.deliver('artifacts', { ...base, schema: 'edgeml.tensor/v1' });
      await t.edge.deliver('artifacts', { ...base, id: 'a'.repeat(64), artifact: { ...base.artifact, path: '../../etc/passwd' } });
      await t.edge.deliver('artifacts', { ...base, id: 'b'.repeat(64), artifact: { ...base.artifact, path: '/etc/passwd' } });
      await mkdir(path.join(paths.staging, 'evil'), { recursive: true });
      await symlink('/etc/hostname', path.join(paths.staging, 'evil', 'link'));
      await t.edge.deliver('artifacts', { ...base, id: 'c'.repeat(64), artifact: { ...base.artifact, path: 'staging/evil/link' } });
      await t.edge.deliver('artifacts', { ...base, id: 'd'.repeat(64), artifact: { ...base.artifact, path: 'state/uploader/queue.sqlite' } });
      await t.edge.deliver('artifacts', Buffer.alloc(300 * 1024, 0x20));
      await writeFile(good.file, 'changed');
      await t.edge.deliver('artifacts', base);
      await t.edge.deliver('results', { ...resultMessage(1), model: 'x' });
      const byId = new Map(t.completions().map((c) => [c.id, c]));
      assert.equal(byId.get('a'.repeat(64))?.code, 'PATH_OUTSIDE_ROOT');
      assert.equal(byId.get('b'.repeat(64))?.code, 'PATH_OUTSIDE_ROOT');
      assert.equal(byId.get('c'.repeat(64))?.code, 'PATH_OUTSIDE_ROOT');
      assert.equal(byId.get('d'.repeat(64))?.code, 'PATH_OUTSIDE_ROOT');
      const forBase = t.completions().filter((c) => c.id === base.id).map((c) => c.code);
      assert.deepEqual(forBase, ['MESSAGE_INVALID', 'INPUT_MALFORMED'], 'wrong schema (still acknowledged by id/part), then a file changed since announced');
      assert.equal(byId.get(resultMessage(1).id)?.code, 'MESSAGE_INVALID');
      const codes = t.edge.sentTo('alerts').map((a) => (a.json as AlertMessage).code);
      assert.ok(codes.includes('MESSAGE_TOO_LARGE'));
      assert.ok(codes.filter((c) => c === 'MESSAGE_INVALID').length >= 3);
      assert.ok(codes.includes('INPUT_MALFORMED'), 'a file that changed since announced');
      for (const c of t.completions()) assert.equal(c.outcome, 'deadLettered');
      // Still healthy: a good item is accepted.
      const ok = await stageArtifact(paths, { seed: 'after' });
      await t.edge.deliver('artifacts', ok.message);
      assert.equal((t.app.status() as { usage: { artifacts: { items: number } } }).usage.artifacts.items, 1);
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });

  it('methods: flush and retryQuarantined validate their payloads', async () => {
    const paths = await makeDataRoot();
    const t = await startApp(paths, {}, { uploadOn: false });
    try {
      assert.equal((await t.edge.invoke('flush', { bogus: 1 })).status, 400);
      assert.equal((await t.edge.invoke('flush', { waitMs: 'soon' })).status, 400);
      const f = await t.edge.invoke('flush', null);
      assert.equal(f.status, 200);
      assert.equal((await t.edge.invoke('retryQuarantined', {})).status, 400);
      assert.equal((await t.edge.invoke('retryQuarantined', { all: true, keys: ['x'] })).status, 400);
      const r = await t.edge.invoke('retryQuarantined', { all: true });
      assert.equal(r.status, 200);
      assert.deepEqual((r.payload as { requeued: number }).requeued, 0);
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });
});
