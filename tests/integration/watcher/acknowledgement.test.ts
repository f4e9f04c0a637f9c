import assert from 'node:assert/strict';
import { readFile, readdir, access } from 'node:fs/promises';
import path from 'node:path';
import type { AlertMessage } from '@edgeml/shared';
import { removeRoot, sleepMs, startHarness, waitFor, type Harness } from './harness.js';

const exists = (p: string): Promise<boolean> => access(p).then(
  () => true,
  () => false,
);

interface ErrorJson {
  code: string;
  source: string;
  id?: string;
  attempts?: number;
  reasons: { code: string; reason: string; part?: string; module?: string }[];
}

describe('watcher on a real directory: acknowledgements', function () {
  this.timeout(30_000);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    if (h !== undefined) await removeRoot(h.root);
    h = undefined;
  });

  it('re-emits a file not acknowledged in time, then dead-letters it after maxAttempts', async () => {
    h = await startHarness({ desired: { completionTimeoutMs: 500, maxAttempts: 2 } });
    await h.drop('stuck.jpg', 'nobody acks me');
    await waitFor(() => h!.files().length === 2, 5_000, 'a re-emission');
    const [first, second] = h.files();
    assert.equal(first!.attempt, 1);
    assert.equal(second!.attempt, 2);
    assert.equal(second!.messageId, first!.messageId, 'same messageId: consumers can de-duplicate');
    assert.equal(second!.source.detectedAt, first!.source.detectedAt, 'detectedAt recorded once');
    assert.equal(second!.detectedAt, first!.detectedAt);
    const errFile = path.join(h.paths.failed, 'stuck.jpg.error.json');
    // The record is written first, then the input is moved, then the alert goes out: wait for all three
    // (under load the steps are far enough apart for a check in between to see a half-done dead letter).
    const alertSent = (): boolean => h!.edge.sentTo('alerts').some((m) => (m.json as AlertMessage).code === 'TIMEOUT');
    await waitFor(async () => (await exists(errFile)) && (await exists(path.join(h!.paths.failed, 'stuck.jpg'))) && alertSent(), 10_000, 'the dead letter');
    const doc = JSON.parse(await readFile(errFile, 'utf8')) as ErrorJson;
    assert.equal(doc.code, 'TIMEOUT');
    assert.equal(doc.attempts, 2);
    assert.equal(doc.id, first!.id);
    assert.equal(await readFile(path.join(h.paths.failed, 'stuck.jpg'), 'utf8'), 'nobody acks me');
    assert.ok(!(await exists(path.join(h.paths.inbox, 'stuck.jpg'))), 'moved out of the inbox');
    const alert = h.edge.sentTo('alerts').map((m) => m.json as AlertMessage).find((a) => a.code === 'TIMEOUT');
    assert.ok(alert !== undefined, 'an alert');
    assert.equal(alert.id, first!.id);
    await sleepMs(800);
    assert.equal(h.files().length, 2, 'nothing after the dead letter');
    assert.equal((h.app.status()['items'] as { deadLettered: number }).deadLettered, 1);
  });

  it('closes a source only when every expected part is acknowledged, then moves it to processed/', async () => {
    h = await startHarness({ desired: { afterCompletion: 'move' } });
    await h.drop('cam/a.jpg', 'image');
    await waitFor(() => h!.files().length === 1, 5_000, 'emission');
    const id = h.files()[0]!.id;
    const expectedParts = ['artifact', 'result:cls'];
    await h.ack(id, { part: 'artifact', expectedParts });
    await h.ack(id, { part: 'artifact', expectedParts }); // a duplicate changes nothing
    assert.ok(await exists(path.join(h.paths.inbox, 'cam/a.jpg')), 'still waiting for result:cls');
    assert.equal((h.app.status()['items'] as { completed: number }).completed, 0);
    await h.ack(id, { part: 'result:cls', expectedParts });
    assert.equal((h.app.status()['items'] as { completed: number }).completed, 1);
    assert.equal(await readFile(path.join(h.paths.processed, 'cam/a.jpg'), 'utf8'), 'image');
    assert.ok(!(await exists(path.join(h.paths.inbox, 'cam/a.jpg'))));
    await h.ack(id, { part: 'result:cls', expectedParts }); // late duplicate after completion: ignored
    await sleepMs(1_200);
    assert.equal(h.files().length, 1, 'a completed file is not emitted again');
  });

  it('deletes completed inputs when afterCompletion is delete', async () => {
    h = await startHarness({ desired: { afterCompletion: 'delete' } });
    await h.drop('gone.csv', 'a\n');
    await waitFor(() => h!.files().length === 1, 5_000, 'emission');
    await h.ack(h.files()[0]!.id);
    assert.ok(!(await exists(path.join(h.paths.inbox, 'gone.csv'))));
    assert.deepEqual(await readdir(h.paths.processed), []);
  });

  it('dead-letters a source when any part is dead-lettered: failed/<name> + .error.json with the reasons, and an alert', async () => {
    h = await startHarness();
    await h.drop('bad/broken.png', 'not really a png');
    await waitFor(() => h!.files().length === 1, 5_000, 'emission');
    const id = h.files()[0]!.id;
    await h.ack(id, { part: 'transform', expectedParts: ['transform'], outcome: 'deadLettered', code: 'INPUT_MALFORMED', reason: 'unsupported image format' });
    const doc = JSON.parse(await readFile(path.join(h.paths.failed, 'bad/broken.png.error.json'), 'utf8')) as ErrorJson;
    assert.equal(doc.code, 'INPUT_MALFORMED');
    assert.equal(doc.source, 'inbox/bad/broken.png');
    assert.deepEqual(doc.reasons, [{ part: 'transform', module: 'uploader', code: 'INPUT_MALFORMED', reason: 'unsupported image format' }]);
    assert.equal(await readFile(path.join(h.paths.failed, 'bad/broken.png'), 'utf8'), 'not really a png');
    const alert = h.edge.sentTo('alerts').map((m) => m.json as AlertMessage).find((a) => a.code === 'INPUT_MALFORMED');
    assert.ok(alert !== undefined);
    assert.equal(alert.severity, 'error');
    // A second dead letter under the same name does not overwrite the first one's evidence.
    await h.drop('bad/broken.png', 'another broken one');
    await waitFor(() => h!.files().length === 2, 5_000, 'second emission');
    await h.ack(h.files()[1]!.id, { part: 'transform', expectedParts: ['transform'], outcome: 'deadLettered', code: 'INPUT_MALFORMED', reason: 'again' });
    assert.equal(await readFile(path.join(h.paths.failed, 'bad/broken.1.png'), 'utf8'), 'another broken one');
    assert.ok(await exists(path.join(h.paths.failed, 'bad/broken.1.png.error.json')));
  });

  it('a deferred part keeps the file in place and offers it again after retryAfterMs, without spending an attempt', async () => {
    h = await startHarness({ desired: { completionTimeoutMs: 60_000, maxAttempts: 1 } });
    await h.drop('full.jpg', 'quota is full');
    await waitFor(() => h!.files().length === 1, 5_000, 'emission');
    const id = h.files()[0]!.id;
    const expectedParts = ['artifact', 'result:cls'];
    await h.ack(id, { part: 'result:cls', expectedParts });
    // retryAfterMs below the watcher's 1 s floor is raised to 1 s.
    await h.ack(id, { part: 'artifact', expectedParts, outcome: 'deferred', code: 'QUOTA_EXCEEDED', reason: 'artifacts quota full', retryAfterMs: 10 });
    const counts = (): Record<string, number> => h!.app.status()['counts'] as Record<string, number>;
    assert.equal(counts()['deferred'], 1);
    assert.equal(counts()['inFlight'], 1, 'a deferred file is still in flight (it holds its maxInFlight slot)');
    await sleepMs(500);
    assert.equal(h.files().length, 1, 'not before the retry time');
    await waitFor(() => h!.files().length === 2, 5_000, 'offered again');
    const again = h.files()[1]!;
    assert.equal(again.attempt, 1, 'a deferral is not an attempt (maxAttempts is 1 here)');
    assert.equal(again.messageId, h.files()[0]!.messageId);
    assert.deepEqual(again.doneParts, ['result:cls'], 'the part already uploaded is named, so it is not produced again');
    assert.equal(h.files()[0]!.doneParts, undefined);
    assert.equal(counts()['deferred'], 0);
    assert.ok(await exists(path.join(h.paths.inbox, 'full.jpg')), 'the source never left the inbox');
    assert.deepEqual(await readdir(h.paths.failed), []);
    // The earlier result stays acknowledged: the artifact alone completes the source.
    await h.ack(id, { part: 'artifact', expectedParts });
    assert.equal(counts()['completed'], 1);
    const metrics = await (await fetch(`http://127.0.0.1:${h.running.ops.port}/metrics`)).text();
    assert.match(metrics, /edgeml_watcher_deferrals_total\{code="QUOTA_EXCEEDED"[^}]*\} 1\n/);
    assert.match(metrics, /edgeml_watcher_completions_total\{result="deferred"[^}]*\} 1\n/);
  });

  it('holds files back at maxInFlight and releases one per completion', async () => {
    h = await startHarness({ desired: { maxInFlight: 2 } });
    for (let i = 0; i < 5; i++) await h.drop(`q${i}.jpg`, `q${i}`);
    await waitFor(() => h!.files().length === 2, 5_000, 'two emissions');
    await waitFor(() => h!.app.status()['backpressure'] === true, 5_000, 'backpressure reported');
    await sleepMs(500);
    assert.equal(h.files().length, 2, 'no more than maxInFlight');
    assert.equal((h.edge.reported['status'] as { backpressure: boolean }).backpressure, true, 'reported property');
    await h.ack(h.files()[0]!.id);
    await waitFor(() => h!.files().length === 3, 5_000, 'a third emission after a completion');
  });

  it('retries an unreadable file, then dead-letters it with the reason', async () => {
    let reads = 0;
    h = await startHarness({
      desired: { maxReadAttempts: 2 },
      appOptions: {
        hashFile: (abs) => {
          reads++;
          const err = Object.assign(new Error(`EACCES: permission denied, open '${abs}'`), { code: 'EACCES' });
          return Promise.reject(err);
        },
      },
    });
    await h.drop('locked.csv', 'x');
    const errFile = path.join(h.paths.failed, 'locked.csv.error.json');
    const alertSent = (): boolean => h!.edge.sentTo('alerts').some((m) => (m.json as AlertMessage).code === 'FILE_UNREADABLE');
    await waitFor(async () => (await exists(errFile)) && alertSent(), 10_000, 'the dead letter and its alert');
    const doc = JSON.parse(await readFile(errFile, 'utf8')) as ErrorJson;
    assert.equal(doc.code, 'FILE_UNREADABLE');
    assert.match(doc.reasons[0]!.reason, /EACCES/);
    assert.match(doc.reasons[0]!.reason, /unreadable after 2 attempts/);
    // One early read while the window ran (its failure not counted: a file may be locked while it is
    // written), then the two counted reads once stable.
    assert.equal(reads, 3);
    assert.equal(h.files().length, 0);
    assert.ok(h.edge.sentTo('alerts').some((m) => (m.json as AlertMessage).code === 'FILE_UNREADABLE'));
  });

  it('survives a restart: completed files are not emitted again, new content under an old name is', async () => {
    h = await startHarness();
    await h.drop('keep.jpg', 'v1');
    await h.drop('dup-a.jpg', 'same bytes');
    await waitFor(() => h!.files().length === 2, 5_000, 'emissions');
    for (const f of h.files()) await h.ack(f.id);
    const root = h.root;
    await h.stop();
    h = await startHarness({ root });
    await h.drop('dup-b.jpg', 'same bytes'); // same content under another name: already done
    await sleepMs(1_500);
    assert.equal(h.files().length, 0, 'nothing re-emitted after the restart');
    await h.drop('keep.jpg', 'v2');
    await waitFor(() => h!.files().length === 1, 5_000, 'the new content');
    assert.equal(h.files()[0]!.source.path, 'inbox/keep.jpg');
  });
});
