import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { SCHEMAS, type ConfigReport } from '@edgeml/shared';
import { completion, removeRoot, sleepMs, startHarness, waitFor, type Harness } from './harness.js';

const configReport = (h: Harness): ConfigReport => h.edge.reported['config'] as ConfigReport;

describe('watcher on a real directory: twin, methods and hostile input', function () {
  this.timeout(30_000);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    if (h !== undefined) await removeRoot(h.root);
    h = undefined;
  });

  it('applies a pattern change live; rejects an invalid patch, reports why and keeps the previous config', async () => {
    h = await startHarness({ desired: { include: ['**/*.jpg'] } });
    await h.drop('a.csv', 'a\n');
    await h.drop('b.jpg', 'b');
    await waitFor(() => h!.files().length === 1, 5_000, 'the jpg');
    await sleepMs(500);
    assert.equal(h.files()[0]!.source.path, 'inbox/b.jpg');
    assert.equal(configReport(h).status, 'applied');

    h.edge.pushDesired({ kind: 'patch', properties: { $version: 2, include: ['**/*.jpg', '**/*.csv'] } });
    await waitFor(() => h!.files().length === 2, 5_000, 'the csv after the pattern change');
    assert.equal(h.files()[1]!.source.path, 'inbox/a.csv');
    assert.equal(configReport(h).status, 'applied');
    assert.equal(configReport(h).desiredVersion, 2);

    h.edge.pushDesired({ kind: 'patch', properties: { $version: 3, include: 'everything', maxInFlight: -5, bogus: true, exclude: ['../outside/**'] } });
    await waitFor(() => configReport(h!).desiredVersion === 3, 5_000, 'the rejection report');
    const report = configReport(h);
    assert.equal(report.status, 'rejected');
    const problems = report.problems.join('\n');
    assert.match(problems, /include/);
    assert.match(problems, /maxInFlight/);
    assert.match(problems, /bogus/);
    assert.deepEqual(report.effective['include'], ['**/*.jpg', '**/*.csv'], 'previous configuration stays in force');

    h.edge.pushDesired({ kind: 'patch', properties: { $version: 4, exclude: ['../outside/**'], include: null, maxInFlight: null, bogus: null } });
    await waitFor(() => configReport(h!).desiredVersion === 4, 5_000, 'the second rejection report');
    assert.equal(configReport(h).status, 'rejected');
    assert.match(configReport(h).problems.join('\n'), /exclude.*'\.\.'/);

    // Still running on the last good configuration.
    await h.drop('c.csv', 'c\n');
    await h.drop('d.txt', 'd');
    await waitFor(() => h!.files().length === 3, 5_000, 'the next csv');
    await sleepMs(400);
    assert.equal(h.files().length, 3, 'd.txt is not included');
  });

  it('answers malformed and hostile completed messages with a clear outcome and keeps running', async () => {
    h = await startHarness();
    const hostile: (string | object | Buffer)[] = [
      'not json {',
      Buffer.from([0xff, 0xfe, 0x00]),
      '[]',
      'null',
      { schema: 'edgeml.file/v1' },
      { ...completion('0'.repeat(64)), schema: SCHEMAS.completion, id: '../../etc/passwd' },
      { ...completion('0'.repeat(64)), outcome: 'exploded' },
      { ...completion('0'.repeat(64)), expectedParts: [] },
      { ...completion('0'.repeat(64)), part: 'x'.repeat(10_000) },
      { ...completion('0'.repeat(64), { outcome: 'deferred', code: 'QUOTA_EXCEEDED' }), retryAfterMs: -5 },
      { ...completion('0'.repeat(64), { outcome: 'deferred', code: 'QUOTA_EXCEEDED' }), retryAfterMs: 'soon' },
      { ...completion('0'.repeat(64), { outcome: 'deferred', code: 'QUOTA_EXCEEDED' }), retryAfterMs: 1e12 },
      completion('b'.repeat(64), { outcome: 'deferred', code: 'QUOTA_EXCEEDED', retryAfterMs: 1_000 }), // valid, unknown id
      'x'.repeat(300 * 1024),
      completion('a'.repeat(64)), // valid, but for a content id the watcher never emitted
    ];
    for (const body of hostile) await h.edge.deliver('completed', body);
    await h.drop('still.jpg', 'alive');
    await waitFor(() => h!.files().length === 1, 5_000, 'normal work after hostile input');
    const status = await h.edge.invoke('getStatus', null);
    assert.equal(status.status, 200);
    assert.equal((status.payload as { module: string }).module, 'watcher');
    const metrics = await (await fetch(`http://127.0.0.1:${h.running.ops.port}/metrics`)).text();
    assert.match(metrics, /edgeml_watcher_input_messages_rejected_total\{[^}]*input="completed"[^}]*\} [1-9]/);
    assert.match(metrics, /edgeml_watcher_completions_total\{[^}]*result="unknownId"/);
    const alerts = h.edge.sentTo('alerts');
    assert.ok(alerts.length >= 1 && alerts.length <= 3, `malformed input alerted, rate-limited (got ${alerts.length})`);
    assert.deepEqual(await readdir(h.paths.failed), [], 'no input was dead-lettered because of hostile acks');
  });

  it('refuses hostile share events (traversal, absolute, NUL, garbage) and keeps running', async () => {
    h = await startHarness();
    const hostile: (string | object)[] = [
      'garbage',
      {},
      { ChangeType: 'Created', ShareRelativeFilePath: '../../etc/passwd', ShareName: 'share' },
      { ChangeType: 'Created', ShareRelativeFilePath: '/etc/passwd', ShareName: 'share' },
      { ChangeType: 'Created', ShareRelativeFilePath: 'inbox/../failed/x', ShareName: 'share' },
      { ChangeType: 'Created', ShareRelativeFilePath: 'inbox/a\u0000b', ShareName: 'share' },
      { ChangeType: 'Created', ShareRelativeFilePath: 'inbox', ShareName: 'share' },
      { ChangeType: 'Deleted', ShareRelativeFilePath: 'inbox/never-existed.jpg', ShareName: 'share' },
      { ChangeType: 'Created', ShareRelativeFilePath: 'x'.repeat(5000), ShareName: 'share' },
    ];
    for (const body of hostile) await h.edge.deliver('shareEvents', body);
    await h.drop('fine.png', 'ok');
    await waitFor(() => h!.files().length === 1, 5_000, 'normal work after hostile events');
  });

  it('validates method payloads: rescan and getStatus refuse arguments, rescan reports the inventory', async () => {
    h = await startHarness({ desired: { inventoryIntervalMs: 3_600_000 }, appOptions: { events: false } });
    for (const bad of [{ path: '/etc' }, [1, 2], 'rescan', 42]) {
      const r = await h.edge.invoke('rescan', bad);
      assert.equal(r.status, 400, `payload ${JSON.stringify(bad)}`);
      assert.equal((r.payload as { code: string }).code, 'METHOD_PAYLOAD_INVALID');
    }
    assert.equal((await h.edge.invoke('getStatus', { verbose: true })).status, 400);
    await h.drop('one.jpg', '1');
    await h.drop('two.jpg', '2');
    const r = await h.edge.invoke('rescan', {});
    assert.equal(r.status, 200);
    assert.equal((r.payload as { files: number }).files, 2);
    await waitFor(() => h!.files().length === 2, 5_000, 'emissions after rescan');
    const s = (await h.edge.invoke('getStatus', null)).payload as Record<string, unknown>;
    assert.equal((s['items'] as { emitted: number }).emitted, 2);
    assert.equal((s['lastInventory'] as { files: number }).files, 2);
  });
});
