import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { appendFile, mkdir, open, readFile, rename, symlink, writeFile, stat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { assertValidMessage, type AlertMessage } from '@edgeml/shared';
import { hashInboxFile, type HashFile } from '@edgeml/watcher';
import { makeRoot, removeRoot, sleepMs, startHarness, waitFor, type Harness } from './harness.js';

const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

describe('watcher on a real directory: detection', function () {
  this.timeout(60_000);
  let h: Harness | undefined;
  const extraRoots: string[] = [];
  afterEach(async () => {
    await h?.stop();
    if (h !== undefined) await removeRoot(h.root);
    h = undefined;
    for (const r of extraRoots.splice(0)) await removeRoot(r);
  });

  it('emits each of 1,000 files dropped at once exactly once (with maxInFlight backpressure)', async () => {
    h = await startHarness({ desired: { maxInFlight: 100, hashConcurrency: 8 } });
    const harness = h;
    await Promise.all(Array.from({ length: 1000 }, (_, i) => harness.drop(`burst/f-${String(i).padStart(4, '0')}.csv`, `row,${i}\n`)));
    // Play the uploader: acknowledge every emission as it arrives.
    const acked = new Set<string>();
    let maxSeenInFlight = 0;
    await waitFor(
      async () => {
        const files = harness.files();
        maxSeenInFlight = Math.max(maxSeenInFlight, files.length - acked.size);
        // Delivered together, as MQTT does: they share one ledger commit.
        const fresh = files.filter((f) => !acked.has(f.id));
        for (const f of fresh) acked.add(f.id);
        await Promise.all(fresh.map((f) => harness.ack(f.id)));
        return acked.size >= 1000;
      },
      45_000,
      '1,000 emissions',
    );
    await sleepMs(300);
    const files = h.files();
    assert.equal(files.length, 1000, 'no duplicates');
    assert.equal(new Set(files.map((f) => f.source.path)).size, 1000);
    assert.ok(maxSeenInFlight <= 100, `in flight never above maxInFlight (saw ${maxSeenInFlight})`);
    for (const f of files.slice(0, 20)) assertValidMessage(f);
    const sent = h.edge.sentTo('files')[0]!;
    assert.deepEqual(Object.keys(sent.properties).sort(), ['extension', 'kind', 'schema', 'sizeBytes']);
    assert.equal(sent.properties['kind'], 'table');
    assert.equal(sent.properties['extension'], '.csv');
    assert.equal(sent.messageId, files[0]!.messageId);
    await waitFor(() => (h!.app.status()['items'] as { completed: number }).completed === 1000, 5_000, 'all completed');
  });

  it('emits a file appended to over 5 s once, after its last write', async () => {
    h = await startHarness({ desired: { stabilityWindowMs: 1_000, stabilityChecks: 3 } });
    const abs = await h.drop('slow/log.ndjson', '{"i":0}\n');
    let lastWriteAt = 0;
    for (let i = 1; i <= 20; i++) {
      await sleepMs(250);
      await appendFile(abs, `{"i":${i}}\n`);
      lastWriteAt = Date.now();
      assert.equal(h.files().length, 0, `emitted while still being written (write ${i})`);
    }
    await waitFor(() => h!.files().length === 1, 10_000, 'emission');
    const emittedAt = Date.now();
    assert.ok(emittedAt >= lastWriteAt + 1_000, 'emitted only after the stability window following the last write');
    const content = await readFile(abs);
    const f = h.files()[0]!;
    assert.equal(f.id, sha(content));
    assert.equal(f.source.sizeBytes, content.length);
    assert.equal(f.source.kind, 'table');
    await sleepMs(1_500);
    assert.equal(h.files().length, 1, 'emitted once');
  });

  it('reads a file once, ahead of its last check, and never emits an early hash of content that changed since', async () => {
    const reads: string[] = [];
    const counting: HashFile = (abs, signal, expected) => {
      reads.push(path.basename(abs));
      return hashInboxFile(abs, signal, expected);
    };
    h = await startHarness({ desired: { stabilityWindowMs: 1_500 }, appOptions: { hashFile: counting } });
    await h.drop('once.csv', 'a,b\n1,2\n');
    await h.drop('swapped.csv', 'AAAA');
    const swapped = path.join(h.paths.inbox, 'swapped.csv');
    await waitFor(() => reads.includes('swapped.csv'), 5_000, 'the early read of swapped.csv');
    await sleepMs(20);
    // Same size, new content (and mtime) after the early read, before the window closes.
    await writeFile(swapped, 'BBBB');
    await waitFor(() => h!.files().length === 2, 10_000, 'both emissions');
    const byName = new Map(h.files().map((f) => [f.source.name, f]));
    assert.equal(byName.get('once.csv')!.id, sha('a,b\n1,2\n'));
    assert.equal(byName.get('swapped.csv')!.id, sha('BBBB'), 'the content as it was when stable, not as first read');
    assert.equal(reads.filter((r) => r === 'once.csv').length, 1, 'an unchanged file is read once');
    assert.equal(reads.filter((r) => r === 'swapped.csv').length, 2, 'the changed file is read again');
  });

  it('marker mode: a preallocated file is not emitted before its marker', async () => {
    h = await startHarness({ desired: { markerMode: true, markerSuffix: '.done', stabilityWindowMs: 200 } });
    const abs = path.join(h.paths.inbox, 'big.bin');
    // Samba-style: the full size first (zeros), then the bytes.
    const handle = await open(abs, 'w');
    await handle.truncate(256 * 1024);
    await handle.close();
    await sleepMs(1_200);
    assert.equal(h.files().length, 0, 'not emitted while preallocated without a marker');
    const content = Buffer.alloc(256 * 1024, 7);
    await writeFile(abs, content);
    await sleepMs(800);
    assert.equal(h.files().length, 0, 'not emitted with its final content but no marker');
    await writeFile(`${abs}.done`, '');
    await waitFor(() => h!.files().length === 1, 5_000, 'emission after the marker');
    const f = h.files()[0]!;
    assert.equal(f.id, sha(content));
    assert.equal(f.source.name, 'big.bin');
    assert.equal(f.source.kind, 'other');
    await sleepMs(500);
    assert.equal(h.files().length, 1, 'the marker itself is never emitted');
  });

  it('handles temp-then-rename writers (rsync, .tmp, .partial, browser downloads)', async () => {
    h = await startHarness();
    const writes: [temp: string, final: string, content: string][] = [
      ['cam/.photo.jpg.Xa81Qz', 'cam/photo.jpg', 'jpeg bytes'],
      ['table.csv.tmp', 'table.csv', 'a,b\n1,2\n'],
      ['doc.pdf.partial', 'doc.pdf', 'pdf bytes'],
      ['dl.png.crdownload', 'dl.png', 'png bytes'],
      ['~$report.tsv', 'report.tsv', 'x\ty\n'],
    ];
    for (const [temp, , content] of writes) await h.drop(temp, content);
    await sleepMs(1_200);
    assert.equal(h.files().length, 0, 'temp names are never emitted');
    for (const [temp, final] of writes) await rename(path.join(h.paths.inbox, temp), path.join(h.paths.inbox, final));
    await waitFor(() => h!.files().length === writes.length, 5_000, 'emissions after rename');
    const byPath = new Map(h.files().map((f) => [f.source.path, f]));
    for (const [, final, content] of writes) {
      const f = byPath.get(`inbox/${final}`);
      assert.ok(f !== undefined, `${final} emitted`);
      assert.equal(f.id, sha(content));
    }
    await sleepMs(500);
    assert.equal(h.files().length, writes.length, 'each once');
  });

  it('refuses a symlink out of the inbox and a FIFO, with reasons, and leaves their targets alone', async () => {
    h = await startHarness();
    const outside = await makeRoot();
    extraRoots.push(outside);
    const secret = path.join(outside, 'secret.txt');
    await writeFile(secret, 'top secret');
    await symlink(secret, path.join(h.paths.inbox, 'link.txt'));
    execFileSync('mkfifo', [path.join(h.paths.inbox, 'pipe.csv')]);
    await h.drop('ok.png', 'fine');
    await waitFor(() => h!.files().length === 1, 5_000, 'the regular file');
    const failed = h.paths.failed;
    await waitFor(async () => (await readdir(failed)).length >= 4, 5_000, 'refusals in failed/');
    const linkErr = JSON.parse(await readFile(path.join(failed, 'link.txt.error.json'), 'utf8')) as { code: string; reasons: { reason: string }[] };
    assert.equal(linkErr.code, 'PATH_OUTSIDE_ROOT');
    assert.match(linkErr.reasons[0]!.reason, /outside the inbox/);
    const fifoErr = JSON.parse(await readFile(path.join(failed, 'pipe.csv.error.json'), 'utf8')) as { code: string; reasons: { reason: string }[] };
    assert.equal(fifoErr.code, 'FILE_NOT_REGULAR');
    assert.match(fifoErr.reasons[0]!.reason, /FIFO/);
    assert.equal(await readFile(secret, 'utf8'), 'top secret', 'target untouched');
    assert.equal(h.files().length, 1);
    assert.equal(h.files()[0]!.source.path, 'inbox/ok.png');
    const alerts = h.edge.sentTo('alerts').map((m) => m.json as AlertMessage);
    assert.ok(alerts.some((a) => a.code === 'PATH_OUTSIDE_ROOT'));
    assert.ok(alerts.some((a) => a.code === 'FILE_NOT_REGULAR'));
  });

  it('refuses a hinted path below a symlinked directory that leads out, without touching it', async () => {
    h = await startHarness({ desired: { inventoryIntervalMs: 3_600_000 } });
    const outside = await makeRoot();
    extraRoots.push(outside);
    await writeFile(path.join(outside, 'victim.jpg'), 'outside');
    await symlink(outside, path.join(h.paths.inbox, 'dirlink'));
    await h.edge.deliver('shareEvents', { ChangeType: 'Created', ShareRelativeFilePath: 'inbox/dirlink/victim.jpg', ShareName: 'share' });
    await sleepMs(800);
    assert.equal(h.files().length, 0);
    assert.equal(await readFile(path.join(outside, 'victim.jpg'), 'utf8'), 'outside', 'the outside file stays where it is');
  });

  it('handles unicode, spaces and very long names', async () => {
    h = await startHarness();
    const long = `${'ü'.repeat(60)} ${'x'.repeat(100)}.jpeg`; // 224 bytes: near the 255-byte name limit
    const names = ['résumé ñ 日本語 файл.png', 'with  spaces/and (parens) & más.TIFF', `deep/${'d'.repeat(200)}/${'e'.repeat(200)}/${long}`];
    for (const n of names) await h.drop(n, `content of ${n}`);
    await waitFor(() => h!.files().length === names.length, 5_000, 'emissions');
    const byPath = new Map(h.files().map((f) => [f.source.path, f]));
    for (const n of names) {
      const f = byPath.get(`inbox/${n}`);
      assert.ok(f !== undefined, `${n} emitted`);
      assert.equal(f.id, sha(`content of ${n}`));
      assert.equal(f.source.kind, 'image');
      assertValidMessage(f);
    }
    assert.equal(byPath.get('inbox/with  spaces/and (parens) & más.TIFF')!.source.extension, '.tiff');
  });

  it('finds files without filesystem events (lost events on a network share), and files present before start', async () => {
    const root = await makeRoot();
    await mkdir(path.join(root, 'share', 'inbox', 'old'), { recursive: true });
    await writeFile(path.join(root, 'share', 'inbox', 'old', 'before.jpg'), 'was here first');
    h = await startHarness({ root, desired: { inventoryIntervalMs: 400 }, appOptions: { events: false } });
    await waitFor(() => h!.files().length === 1, 5_000, 'the file present at start');
    await h.drop('later.jpg', 'dropped while running');
    await waitFor(() => h!.files().length === 2, 5_000, 'the file found by the inventory alone');
    const st = await stat(path.join(h.paths.inbox, 'later.jpg'));
    assert.ok(st.isFile());
  });

  it('a share FileEvent triggers a check of that path', async () => {
    h = await startHarness({ desired: { inventoryIntervalMs: 3_600_000 }, appOptions: { events: false } });
    await sleepMs(200);
    await h.drop('ase/event.csv', 'a\n1\n');
    await sleepMs(600);
    assert.equal(h.files().length, 0, 'no events, no inventory: not seen yet');
    await h.edge.deliver('shareEvents', { ChangeType: 'Created', ShareRelativeFilePath: 'inbox\\ase\\event.csv', ShareName: 'share' });
    await waitFor(() => h!.files().length === 1, 5_000, 'emission after the FileEvent');
    assert.equal(h.files()[0]!.source.path, 'inbox/ase/event.csv');
  });
});
