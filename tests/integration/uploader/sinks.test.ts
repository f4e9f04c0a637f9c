import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AlertMessage, CompletionMessage } from '@edgeml/shared';
import { createBlobSink, createDirectorySink, RateLimiter, UPLOADER_DEFAULTS, type UploadRequest } from '@edgeml/uploader';
import { startAzurite, type AzuriteInstance } from '../../helpers/azurite.js';
import { logger, makeDataRoot, md5b64, stageArtifact, startApp, storage, waitFor } from './fixtures.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else out.push(full);
    }
  };
  await walk(dir);
  return out;
}

describe('uploader sinks', function () {
  this.timeout(60_000);

  describe('directory sink (cloud share)', () => {
    it('never exposes a partial file under its final name', async () => {
      const paths = await makeDataRoot();
      // 4 MiB at 2 MiB/s: the copy takes ~2 s while a watcher lists the share every few ms.
      const t = await startApp(paths, {}, { sink: 'directory', bandwidthBytesPerSecond: 2 * 1024 * 1024 });
      try {
        const s = await stageArtifact(paths, { sizeBytes: 4 * 1024 * 1024 });
        let partialSeen = 0;
        let tempSeen = 0;
        let polls = 0;
        const watcher = (async () => {
          while (t.completions().length === 0) {
            polls++;
            for (const f of await listFiles(paths.cloudshare)) {
              if (path.basename(f).startsWith('.tmp-')) {
                tempSeen++;
                continue;
              }
              const st = await stat(f).catch(() => undefined);
              if (st !== undefined && st.size !== s.content.length) partialSeen++;
            }
            await new Promise((r) => setTimeout(r, 5));
          }
        })();
        await t.edge.deliver('artifacts', s.message);
        await waitFor(() => t.completions().length === 1, 20_000, 'the copy');
        await watcher;
        assert.equal(partialSeen, 0);
        assert.ok(tempSeen > 0 && polls > 10, `the watcher saw the copy in progress (${tempSeen} temp sightings in ${polls} polls)`);
        const c = t.completions()[0] as CompletionMessage;
        assert.equal(c.blob?.sink, 'directory');
        assert.equal(c.blob?.md5, md5b64(s.content));
        const written = await readFile(path.join(paths.cloudshare, ...(c.blob?.name ?? '').split('/')));
        assert.deepEqual(written, s.content);
        assert.deepEqual((await listFiles(paths.cloudshare)).filter((f) => path.basename(f).startsWith('.tmp-')), [], 'no temp file left');
      } finally {
        await t.stop();
        await rm(paths.root, { recursive: true, force: true });
      }
    });

    it('a copy arriving after its staging file was uploaded and deleted is acknowledged again; a missing staging file never uploaded is deferred', async () => {
      const paths = await makeDataRoot();
      const t = await startApp(paths, {}, { sink: 'directory' });
      try {
        const s = await stageArtifact(paths, { sizeBytes: 1000, seed: 'dup' });
        await t.edge.deliver('artifacts', s.message);
        await waitFor(() => t.completions().length === 1, 10_000, 'first upload');
        await waitFor(async () => (await stat(s.file).catch(() => undefined)) === undefined, 5_000, 'the staging file deleted after upload');
        await t.edge.deliver('artifacts', s.message); // the duplicate
        await waitFor(() => t.completions().length === 2, 5_000, 'the re-acknowledgement');
        const [first, second] = t.completions() as [CompletionMessage, CompletionMessage];
        assert.deepEqual([second.outcome, second.blob?.name, second.blob?.md5], ['uploaded', first.blob?.name, first.blob?.md5]);
        const lost = await stageArtifact(paths, { sizeBytes: 1000, seed: 'lost' });
        await rm(lost.file);
        await t.edge.deliver('artifacts', lost.message);
        await waitFor(() => t.completions().length === 3, 5_000, 'the deferral');
        const c = t.completions()[2] as CompletionMessage;
        assert.deepEqual([c.outcome, c.code, c.retryAfterMs], ['deferred', 'FILE_NOT_FOUND', 5_000]);
        assert.equal((t.app.status() as { totals: { deadLettered: number; reacknowledged: number } }).totals.deadLettered, 0);
      } finally {
        await t.stop();
        await rm(paths.root, { recursive: true, force: true });
      }
    });

    it('replay of identical content is success; different content under the same name is quarantined with an alert, then retryable', async () => {
      const paths = await makeDataRoot();
      const t = await startApp(paths, {}, { sink: 'directory', deleteAfterUpload: false });
      try {
        const s = await stageArtifact(paths, { sizeBytes: 1000 });
        await t.edge.deliver('artifacts', s.message);
        await waitFor(() => t.completions().length === 1, 10_000, 'first upload');
        const name = t.completions()[0]?.blob?.name ?? '';
        const dest = path.join(paths.cloudshare, ...name.split('/'));
        await t.stop();
        // Forget the queue and its ledger: a replay of the same item finds identical content → success.
        await rm(path.join(paths.root, 'state'), { recursive: true, force: true });
        const again = await startApp(paths, {}, { sink: 'directory', deleteAfterUpload: false });
        try {
          await again.edge.deliver('artifacts', s.message);
          await waitFor(() => again.completions().length === 1, 10_000, 'the replay');
          assert.equal(again.completions()[0]?.outcome, 'uploaded');
          assert.equal(again.completions()[0]?.blob?.name, name);
          assert.equal((again.app.status() as { totals: { alreadyPresent: number } }).totals.alreadyPresent, 1);
        } finally {
          await again.stop();
        }
        // Someone else wrote different bytes under that name.
        await writeFile(dest, 'tampered');
        const other = await stageArtifact(paths, { content: s.content, seed: 'src' });
        await rm(path.join(paths.root, 'state'), { recursive: true, force: true });
        const t2 = await startApp(paths, {}, { sink: 'directory' });
        try {
          await t2.edge.deliver('artifacts', other.message);
          await waitFor(() => t2.completions().length === 1, 10_000, 'the conflict');
          const c = t2.completions()[0] as CompletionMessage;
          assert.equal(c.outcome, 'deadLettered');
          assert.equal(c.code, 'SINK_CONFLICT');
          assert.ok(t2.edge.sentTo('alerts').some((a) => (a.json as AlertMessage).code === 'SINK_CONFLICT'));
          assert.equal(await readFile(dest, 'utf8'), 'tampered', 'never overwritten');
          const qdir = path.join(paths.root, 'state', 'uploader', 'quarantine');
          const qfiles = await readdir(qdir);
          assert.ok(qfiles.some((f) => f.endsWith('.error.json')));
          assert.ok(qfiles.some((f) => f.endsWith('artifact.png')), 'the staging file moved to quarantine');
          // The operator restores the original; retryQuarantined uploads from the quarantine copy.
          await writeFile(dest, s.content);
          const r = await t2.edge.invoke('retryQuarantined', { all: true });
          assert.equal((r.payload as { requeued: number }).requeued, 1);
          await waitFor(() => t2.completions().length === 2, 10_000, 'the retry');
          assert.equal(t2.completions()[1]?.outcome, 'uploaded');
          // The copy goes right after the commit, which may reach the completion first: wait for it, bounded.
          await waitFor(async () => !(await readdir(qdir)).some((f) => f.endsWith('artifact.png')), 10_000, 'quarantine copy removed once uploaded');
        } finally {
          await t2.stop();
        }
      } finally {
        await t.stop();
        await rm(paths.root, { recursive: true, force: true });
      }
    });

    it('retention removes files older than deleteAfterMinutes and stale temp files', async () => {
      const root = await mkdtemp(path.join(tmpdir(), 'dirsink-'));
      const sink = createDirectorySink({ root, limiter: new RateLimiter(0), logger });
      const req = (name: string, data: Buffer): UploadRequest => ({ name, source: { data }, sizeBytes: data.length, contentType: 'x', metadata: {} });
      await sink.upload(req('a/old.bin', Buffer.from('old')), AbortSignal.timeout(5_000));
      await sink.upload(req('a/new.bin', Buffer.from('new')), AbortSignal.timeout(5_000));
      const old = Date.now() / 1000 - 3 * 3600;
      await utimes(path.join(root, 'a', 'old.bin'), old, old);
      await writeFile(path.join(root, 'a', '.tmp-left-over'), 'x');
      await utimes(path.join(root, 'a', '.tmp-left-over'), old, old);
      assert.equal(await sink.sweep(0, Date.now()), 1, 'retention 0 keeps files; only the stale temp goes');
      assert.equal(await sink.sweep(60, Date.now()), 1);
      assert.deepEqual((await listFiles(root)).map((f) => path.basename(f)), ['new.bin']);
      await rm(root, { recursive: true, force: true });
    });
  });

  describe('blob sink', () => {
    let azurite: AzuriteInstance;
    before(async () => {
      azurite = await startAzurite();
      await storage.BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('resume').createIfNotExists();
    });
    after(async () => {
      await azurite?.stop();
    });

    const sinkWith = (limiter = new RateLimiter(0)) =>
      createBlobSink({
        connectionString: azurite.connectionString,
        containerName: 'resume',
        createContainer: true,
        sdkRetry: UPLOADER_DEFAULTS.sdkRetry,
        singleUploadMaxBytes: 64 * 1024,
        blockSizeBytes: 64 * 1024,
        blockConcurrency: 1,
        limiter,
        deviceId: 'dev-1',
        logger,
      });

    it('resumes a block upload after an interruption without re-sending staged blocks', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'resume-'));
      const data = randomBytes(16 * 64 * 1024);
      const file = path.join(dir, 'big.bin');
      await writeFile(file, data);
      const request: UploadRequest = { name: 'resume/big.bin', source: { file }, sizeBytes: data.length, expectedSha256: sha(data), contentType: 'application/octet-stream', metadata: { deviceid: 'dev-1' } };
      // Interrupt: abort once ~5 blocks went out (a 320 KiB/s cap makes that ~1 s in).
      const abort = new AbortController();
      setTimeout(() => abort.abort(), 1_100);
      await assert.rejects(sinkWith(new RateLimiter(320 * 1024)).upload(request, abort.signal));
      // A request aborted on our side may still land on the server a moment later.
      await new Promise((r) => setTimeout(r, 500));
      const partial = await storage.BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('resume').getBlockBlobClient('resume/big.bin').getBlockList('uncommitted');
      const stagedBefore = partial.uncommittedBlocks?.length ?? 0;
      assert.ok(stagedBefore >= 2 && stagedBefore < 16, `interrupted mid-way (${stagedBefore} blocks staged)`);
      const r = await sinkWith().upload(request, AbortSignal.timeout(20_000));
      assert.equal(r.outcome, 'created');
      assert.ok(r.blocksSkipped >= stagedBefore, `${r.blocksSkipped} blocks skipped, ${stagedBefore} were staged`);
      assert.equal(r.blocksStaged + r.blocksSkipped, 16);
      assert.equal(r.md5, md5b64(data));
      // After a commit (a crash before the ack), nothing is sent again.
      const again = await sinkWith().upload(request, AbortSignal.timeout(20_000));
      assert.deepEqual([again.outcome, again.bytesSent], ['alreadyPresent', 0]);
      await rm(dir, { recursive: true, force: true });
    });

    it('a committed blob with different content is a conflict and is not overwritten', async () => {
      const a = Buffer.from('one content');
      const b = Buffer.from('another content');
      const req = (data: Buffer): UploadRequest => ({ name: 'conflict/x.bin', source: { data }, sizeBytes: data.length, contentType: 'text/plain', metadata: {} });
      assert.equal((await sinkWith().upload(req(a), AbortSignal.timeout(5_000))).outcome, 'created');
      assert.equal((await sinkWith().upload(req(a), AbortSignal.timeout(5_000))).outcome, 'alreadyPresent');
      await assert.rejects(sinkWith().upload(req(b), AbortSignal.timeout(5_000)), (err: unknown) => (err as { code?: string }).code === 'SINK_CONFLICT');
      const body = await storage.BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('resume').getBlobClient('conflict/x.bin').downloadToBuffer();
      assert.deepEqual(body, a);
    });
  });
});
