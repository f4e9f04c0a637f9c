import assert from 'node:assert/strict';
import { access, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AlertMessage } from '@edgeml/shared';
import type { ReprocessReport } from '@edgeml/watcher';
import { removeRoot, sleepMs, startHarness, waitFor, type Harness } from './harness.js';

const exists = (p: string): Promise<boolean> => access(p).then(
  () => true,
  () => false,
);

const PARTS = ['artifact', 'result:cls'];

describe('watcher on a real directory: reprocessing dead letters', function () {
  this.timeout(30_000);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    if (h !== undefined) await removeRoot(h.root);
    h = undefined;
  });

  const counts = (): Record<string, number> => h!.app.status()['counts'] as Record<string, number>;

  /** Drops `name`, waits for its emission and dead-letters it (the inferencer lost its model): resolves with its id. */
  async function deadLetter(name: string, content: string): Promise<string> {
    const before = h!.files().length;
    await h!.drop(name, content);
    await waitFor(() => h!.files().length === before + 1, 5_000, `emission of ${name}`);
    const id = h!.files()[before]!.id;
    await h!.ack(id, { part: 'result:cls', expectedParts: PARTS, outcome: 'deadLettered', module: 'inferencer', code: 'MODEL_INVALID', reason: 'no model loaded' });
    await waitFor(async () => (await exists(path.join(h!.paths.failed, name))) && (await exists(path.join(h!.paths.failed, `${name}.error.json`))), 5_000, `the dead letter of ${name}`);
    return id;
  }

  /** Waits for the next emission of `id` and acknowledges every part as uploaded. */
  async function completes(id: string, emissionsBefore: number): Promise<void> {
    await waitFor(() => h!.files().slice(emissionsBefore).some((f) => f.id === id), 5_000, `the new emission of ${id.slice(0, 8)}`);
    const again = h!.files().slice(emissionsBefore).find((f) => f.id === id)!;
    assert.equal(again.attempt, 1, 'a reprocessed source starts over');
    assert.equal(again.doneParts, undefined, 'a clean slate: every part is produced again');
    for (const part of PARTS) await h!.ack(id, { part, expectedParts: PARTS });
  }

  it('the reprocess method (by id) puts a fixed dead letter back; it completes and leaves failed/ empty', async () => {
    h = await startHarness();
    const id = await deadLetter('cam/model-was-missing.jpg', 'a good image');
    assert.equal(counts()['deadLettered'], 1);
    const emitted = h.files().length;
    const r = await h.edge.invoke('reprocess', { id });
    assert.equal(r.status, 200);
    const report = r.payload as ReprocessReport;
    assert.deepEqual([report.matched, report.requeued], [1, 1]);
    assert.deepEqual(report.entries[0], { failedPath: 'cam/model-was-missing.jpg', id, result: 'requeued', inboxPath: 'cam/model-was-missing.jpg' });
    assert.equal(await readFile(path.join(h.paths.inbox, 'cam/model-was-missing.jpg'), 'utf8'), 'a good image');
    await completes(id, emitted);
    assert.deepEqual([counts()['completed'], counts()['deadLettered']], [1, 0]);
    assert.deepEqual(await readdir(path.join(h.paths.failed, 'cam')), [], 'the input and its record left failed/');
    const metrics = await (await fetch(`http://127.0.0.1:${h.running.ops.port}/metrics`)).text();
    assert.match(metrics, /edgeml_watcher_reprocessed_total\{via="method"[^}]*\} 1\n/);
  });

  it('selects by path in failed/ and by time; leaves records without an input alone', async () => {
    h = await startHarness();
    const a = await deadLetter('a.jpg', 'first');
    const cut = new Date().toISOString();
    await sleepMs(20);
    const b = await deadLetter('b.jpg', 'second');
    const c = await deadLetter('c.jpg', 'third');
    await writeFile(path.join(h.paths.failed, 'orphan.jpg.error.json'), JSON.stringify({ code: 'TIMEOUT', source: 'inbox/orphan.jpg', deadLetteredAt: new Date().toISOString() }));
    let emitted = h.files().length;
    const byPath = (await h.edge.invoke('reprocess', { path: 'a.jpg' })).payload as ReprocessReport;
    assert.deepEqual([byPath.requeued, byPath.entries[0]?.id], [1, a]);
    await completes(a, emitted);
    emitted = h.files().length;
    const since = (await h.edge.invoke('reprocess', { since: cut })).payload as ReprocessReport;
    assert.equal(since.requeued, 2);
    assert.deepEqual(
      since.entries.map((e) => [e.failedPath, e.result]).sort(),
      [
        ['b.jpg', 'requeued'],
        ['c.jpg', 'requeued'],
        ['orphan.jpg', 'noInput'],
      ],
    );
    for (const id of [b, c]) await completes(id, emitted);
    assert.equal(counts()['completed'], 3);
    assert.deepEqual(await readdir(h.paths.failed), ['orphan.jpg.error.json']);
    for (const bad of [{}, { id: 'nope' }, { path: '../inbox/x' }, { since: 'yesterday' }, { id: a, path: 'a.jpg' }, null]) {
      const r = await h.edge.invoke('reprocess', bad);
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.equal((r.payload as { code: string }).code, 'METHOD_PAYLOAD_INVALID');
    }
  });

  it('content dropped again after a dead letter is processed anew (deadLetterRedrop: process, the default)', async () => {
    h = await startHarness();
    const id = await deadLetter('again.jpg', 'fixed upstream');
    const emitted = h.files().length;
    // The operator moves it back by hand once the cause is fixed.
    await rename(path.join(h.paths.failed, 'again.jpg'), path.join(h.paths.inbox, 'again.jpg'));
    await completes(id, emitted);
    assert.deepEqual([counts()['completed'], counts()['deadLettered']], [1, 0]);
    assert.ok(await exists(path.join(h.paths.inbox, 'again.jpg')), 'completed and kept in the inbox, not sent to failed/ again');
  });

  it('deadLetterRedrop refuse: the same content dropped again goes straight back to failed/', async () => {
    h = await startHarness({ desired: { deadLetterRedrop: 'refuse' } });
    await deadLetter('refused.jpg', 'still bad');
    const emitted = h.files().length;
    await h.drop('refused-copy.jpg', 'still bad');
    await waitFor(() => exists(path.join(h!.paths.failed, 'refused-copy.jpg.error.json')), 5_000, 'the copy refused to failed/');
    await sleepMs(500);
    assert.equal(h.files().length, emitted, 'not emitted again');
    const doc = JSON.parse(await readFile(path.join(h.paths.failed, 'refused-copy.jpg.error.json'), 'utf8')) as { code: string };
    assert.equal(doc.code, 'MODEL_INVALID', 'the earlier reasons');
  });

  it('a late uploaded for a dead-lettered source (the uploader retried its quarantine) completes it; the input leaves failed/', async () => {
    h = await startHarness({ desired: { afterCompletion: 'move' } });
    await h.drop('quarantined.jpg', 'uploaded after all');
    await waitFor(() => h!.files().length === 1, 5_000, 'emission');
    const id = h.files()[0]!.id;
    await h.ack(id, { part: 'result:cls', expectedParts: PARTS });
    await h.ack(id, { part: 'artifact', expectedParts: PARTS, outcome: 'deadLettered', code: 'SINK_PERMISSION_DENIED', reason: 'SAS expired' });
    await waitFor(() => exists(path.join(h!.paths.failed, 'quarantined.jpg')), 5_000, 'the dead letter');
    assert.ok(h.edge.sentTo('alerts').some((m) => (m.json as AlertMessage).code === 'SINK_PERMISSION_DENIED'));
    await h.ack(id, { part: 'artifact', expectedParts: PARTS });
    assert.deepEqual([counts()['completed'], counts()['deadLettered']], [1, 0]);
    assert.equal(await readFile(path.join(h.paths.processed, 'quarantined.jpg'), 'utf8'), 'uploaded after all');
    assert.deepEqual(await readdir(h.paths.failed), [], 'input and record left failed/');
    assert.equal(h.files().length, 1, 'nothing re-emitted');
  });

  it('with afterCompletion keep, a late-completed input goes back to the inbox and is not processed again', async () => {
    h = await startHarness();
    await h.drop('late-keep.jpg', 'kept');
    await waitFor(() => h!.files().length === 1, 5_000, 'emission');
    const id = h.files()[0]!.id;
    await h.ack(id, { part: 'artifact', expectedParts: ['artifact'], outcome: 'deadLettered', code: 'SINK_PERMISSION_DENIED', reason: 'SAS expired' });
    await waitFor(() => exists(path.join(h!.paths.failed, 'late-keep.jpg')), 5_000, 'the dead letter');
    await h.ack(id, { part: 'artifact', expectedParts: ['artifact'] });
    assert.equal(await readFile(path.join(h.paths.inbox, 'late-keep.jpg'), 'utf8'), 'kept');
    assert.deepEqual(await readdir(h.paths.failed), []);
    await h.app.rescan();
    await sleepMs(300);
    assert.equal(h.files().length, 1, 'known and completed: not emitted again');
    assert.equal(counts()['completed'], 1);
  });
});
