import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { BlobServiceClient } from '@azure/storage-blob';
import { createLogger, sleep } from '@edgeml/shared';
import { isPlantedAnomaly, runCli, sampleText, startLocalRuntime, type LocalRuntime } from '@edgeml/runtime';
import { automlLineProblems } from '../helpers/automl.js';
import { editDistance } from '../helpers/text.js';
import { runUntilIdle } from '../helpers/suite.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const silent = createLogger({ name: 'e2e', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

interface JournalRecord {
  body: { schema?: string; part?: string; source?: { path: string; sha256: string }; outputs?: { label?: string; score?: number; flagged?: { row: number }[] }; model?: { name: string }; text?: string };
  properties: Record<string, string>;
}

async function readJournal(file: string): Promise<JournalRecord[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as JournalRecord);
}

async function listBlobs(connectionString: string): Promise<{ name: string; metadata: Record<string, string> }[]> {
  const service = BlobServiceClient.fromConnectionString(connectionString);
  const out: { name: string; metadata: Record<string, string> }[] = [];
  for await (const c of service.listContainers()) {
    for await (const b of service.getContainerClient(c.name).listBlobsFlat({ includeMetadata: true })) out.push({ name: `${c.name}/${b.name}`, metadata: b.metadata ?? {} });
  }
  return out;
}

/** The edgeml bin as a process (stdout piped: JSON). */
function edgeml(workDir: string, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(repoRoot, 'deployment/runtime/bin/edgeml.js'), '--workdir', workDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.once('exit', (code) => resolve({ code, out, err }));
  });
}

describe('e2e: the whole suite as processes (npm start -- --until-idle)', function () {
  this.timeout(15 * 60_000);

  it('processes the sample data: every file accounted for, results on $upstream, blobs in Azurite', async () => {
    const workDir = await mkdtemp(path.join(tmpdir(), 'edgeml-e2e-'));
    try {
      const { code, stdout, stderr, summary: s } = await runUntilIdle(workDir, 600);
      assert.equal(code, 0, `runtime exited ${code}\nstdout:\n${stdout.slice(-4000)}\nstderr:\n${stderr.slice(-4000)}`);
      const summary = s!;
      const samples = (await readdir(path.join(workDir, 'data', 'share', 'inbox'))).filter((n) => !n.startsWith('.'));
      assert.equal(summary.ok, true);
      assert.equal(summary.unaccounted, 0);
      assert.equal(summary.filesSeen, 13, JSON.stringify(summary));
      assert.equal(summary.completed + summary.deadLettered, summary.filesSeen);
      assert.equal(summary.deadLettered, 0, JSON.stringify(summary.deadLetteredByReason));
      assert.ok(samples.length === 13 || samples.length === 0, 'inbox holds the samples (keep) or nothing (move/delete)');

      const journal = await readJournal(path.join(workDir, 'hub', 'upstream.jsonl'));
      const results = journal.filter((r) => r.body.schema === 'edgeml.inference.result/v1');
      const cls = results.filter((r) => r.body.part === 'result:cls' && r.body.model?.name !== undefined && r.properties['schema'] === 'edgeml.inference.result/v1' && r.body.outputs?.label !== undefined);
      const imagePaths = new Set(cls.map((r) => r.body.source!.path));
      assert.equal(imagePaths.size, 12, `a classification result for each of the 12 sample images (got ${imagePaths.size})`);
      const correct = cls.filter((r) => (r.body.source!.path.includes('rot180') ? '180' : '0') === r.body.outputs!.label).length;
      assert.ok(correct / cls.length >= 0.9, `orientation correct for ${correct}/${cls.length}`);
      // The ocr chain reads the words of every sample image, upright or upside down, one result per file.
      const read = journal.filter((r) => r.body.schema === 'edgeml.chain.result/v1');
      assert.equal(new Set(read.map((r) => r.body.source!.path)).size, 12, 'a chain result for each sample image');
      let edits = 0;
      let chars = 0;
      for (const r of read) {
        const truth = sampleText(r.body.source!.path) ?? '';
        edits += editDistance(r.body.text ?? '', truth);
        chars += truth.length;
      }
      assert.ok(edits / chars < 0.1, `character error rate ${((100 * edits) / chars).toFixed(1)} %: ${read.map((r) => r.body.text).join(' | ')}`);
      // Tabular inference: the telemetry's 8 windows of 64 rows, scored by the bundled anomaly model; its planted rows flagged.
      const windows = results.filter((r) => r.body.part?.startsWith('result:anomaly.w') === true);
      assert.equal(windows.length, 8, windows.map((r) => r.body.part).join(', '));
      const flagged = windows.flatMap((r) => r.body.outputs?.flagged ?? []).map((f) => f.row).sort((a, b) => a - b);
      assert.deepEqual(flagged, Array.from({ length: 500 }, (_, i) => i).filter(isPlantedAnomaly));
      assert.equal(windows.filter((r) => r.properties['label'] === 'anomaly').length, 5);
      assert.equal(summary.upstreamMessages, journal.length);

      // edgeml results after the run (runtime.json is gone; it reads the journal left in hub/): one
      // object per sample file, the words read from every image, and the same text on each person's line.
      const piped = await edgeml(workDir, 'results');
      assert.equal(piped.code, 0, piped.err);
      const files = piped.out.trim().split('\n').map((l) => JSON.parse(l) as { file: string; text?: string; anomalies?: { flaggedRows: number[] }[] });
      assert.deepEqual(files.map((f) => f.file).sort(), [...new Set(journal.map((r) => r.body.source!.path))].sort());
      assert.equal(files.length, 13);
      const images = files.filter((f) => sampleText(f.file) !== undefined);
      assert.equal(images.length, 12);
      for (const f of images) assert.ok((f.text ?? '').trim() !== '', `text read from ${f.file}: ${JSON.stringify(f)}`);
      assert.deepEqual(files.find((f) => f.file.endsWith('.csv'))?.anomalies?.[0]?.flaggedRows, flagged);
      let lines = '';
      const code2 = await runCli(['results', '--workdir', workDir], { env: {}, cwd: '/', stdoutIsTty: true, write: (t) => (lines += t), warn: () => undefined, signal: AbortSignal.timeout(30_000) });
      assert.equal(code2, 0);
      for (const f of images) assert.ok(lines.includes(`${f.file}  text "${f.text!.split('\n').join(' | ')}"`), `${f.file}'s line shows its text:\n${lines}`);
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });

  describe('a running instance', () => {
    let runtime: LocalRuntime;
    let workDir: string;
    before(async function () {
      this.timeout(120_000);
      workDir = await mkdtemp(path.join(tmpdir(), 'edgeml-e2e-live-'));
      runtime = await startLocalRuntime({ repoRoot, workDir, demo: true, hubPort: 0, env: { ...process.env, EDGEML_STORAGE_CONNECTION_STRING: '', EDGEML_STORAGE_CONTAINER_SAS_URL: '' }, logger: silent });
    });
    after(async function () {
      this.timeout(60_000);
      await runtime?.stop();
      await rm(workDir, { recursive: true, force: true });
    });

    it('twin set on the inferencer changes its batching live and reported properties show it', async () => {
      await runtime.waitUntilIdle({ signal: AbortSignal.timeout(600_000) });
      const before = runtime.hub.getTwin('inferencer');
      const version = await runtime.hub.patchDesired('inferencer', { maxBatchSize: 3, maxQueueDelayMs: 7 });
      let reported: { config?: { status?: string; desiredVersion?: number; effective?: { maxBatchSize?: number; maxQueueDelayMs?: number } } } = {};
      for (let i = 0; i < 50; i++) {
        reported = runtime.hub.getTwin('inferencer').reported as typeof reported;
        if (reported.config?.desiredVersion === version) break;
        await sleep(200);
      }
      assert.notDeepEqual(before.desired, runtime.hub.getTwin('inferencer').desired);
      assert.equal(reported.config?.status, 'applied', JSON.stringify(reported.config));
      assert.equal(reported.config?.effective?.maxBatchSize, 3);
      assert.equal(reported.config?.effective?.maxQueueDelayMs, 7);
      const status = await runtime.hub.invokeMethod('inferencer', 'getStatus', null, { responseTimeoutMs: 10_000 });
      assert.equal((status.payload as { config?: { effective?: { maxBatchSize?: number } } }).config?.effective?.maxBatchSize, 3, 'getStatus shows the batching now in force');
    });

    it('Azurite holds the image dataset: AutoML JSON lines with the edge labels, each naming an uploaded image', async () => {
      await runtime.waitUntilIdle({ signal: AbortSignal.timeout(600_000) });
      const service = BlobServiceClient.fromConnectionString(runtime.storageConnectionString!);
      const lines: Record<string, unknown>[] = [];
      const images = new Set<string>();
      const tables: string[] = [];
      for await (const c of service.listContainers()) {
        const container = service.getContainerClient(c.name);
        for await (const b of container.listBlobsFlat()) {
          if (b.name.startsWith('image/') && !b.name.endsWith('/MLTable')) images.add(`${container.url}/${b.name}`);
          if (/^table-[0-9a-f]{8}\/(MLTable|.*\/artifact\.parquet)$/.test(b.name)) tables.push(b.name);
          if (!b.name.startsWith('datasets/images/') || b.name.endsWith('/MLTable')) continue;
          const text = (await container.getBlobClient(b.name).downloadToBuffer()).toString('utf8');
          lines.push(...text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));
        }
      }
      // The sample telemetry CSV: a Parquet file in a table dataset folder, with that folder's MLTable.
      assert.equal(tables.filter((n) => n.endsWith('.parquet')).length, 1, tables.join(', '));
      assert.ok(tables.includes(`${tables[0]!.split('/')[0]!}/MLTable`), tables.join(', '));
      const cls = lines.filter((l) => typeof l['label'] === 'string');
      assert.equal(new Set(cls.map((l) => l['source_id'])).size, 12, `a labelled line for each of the 12 sample images (${lines.length} lines)`);
      for (const l of lines) assert.deepEqual(automlLineProblems(l), [], JSON.stringify(l));
      for (const l of cls) {
        assert.ok(['0', '180'].includes(l['label'] as string), JSON.stringify(l));
        assert.ok(images.has(l['image_url'] as string), `image_url names an uploaded image: ${String(l['image_url'])}`);
      }
    });

    it('invoke uploader getStatus returns its queue', async () => {
      const r = await runtime.hub.invokeMethod('uploader', 'getStatus', null, { responseTimeoutMs: 10_000 });
      assert.equal(r.status, 200);
      const payload = r.payload as { usage?: Record<string, { items: number; quotaBytes: number }>; sink?: { state?: string } };
      assert.deepEqual(Object.keys(payload.usage ?? {}).sort(), ['artifacts', 'raw', 'results'], JSON.stringify(r.payload));
      assert.equal(typeof payload.usage!['results']!.quotaBytes, 'number');
      assert.ok(payload.sink?.state !== undefined);
    });

    it('the edgeml CLI talks to the running instance: status, twin set/get, invoke', async () => {
      const cli = (...args: string[]): Promise<{ code: number | null; out: string; err: string }> => edgeml(workDir, ...args);
      const status = await cli('status');
      assert.equal(status.code, 0, status.err);
      const parsed = JSON.parse(status.out) as { processes: { name: string; state: string }[] };
      assert.deepEqual(parsed.processes.map((p) => p.name).sort(), ['aggregator', 'inferencer', 'transformer', 'uploader', 'watcher']);
      const set = await cli('twin', 'set', 'watcher', 'statusReportIntervalMs=45000');
      assert.equal(set.code, 0, set.err);
      const twin = JSON.parse((await cli('twin', 'get', 'watcher')).out) as { desired: { statusReportIntervalMs?: number } };
      assert.equal(twin.desired.statusReportIntervalMs, 45000);
      const invoke = await cli('invoke', 'watcher', 'getStatus');
      assert.equal(invoke.code, 0, invoke.err);
      assert.equal((JSON.parse(invoke.out) as { status: number }).status, 200);
      const bad = await cli('invoke', 'watcher', 'rescan', '{"unexpected":true}');
      assert.equal((JSON.parse(bad.out) as { status: number }).status, 400, 'hostile method payload gets 400 with problems');
      const unknown = await cli('frobnicate');
      assert.equal(unknown.code, 2, 'a usage error exits 2');
      assert.match(unknown.err, /unknown command frobnicate/);
    });

    it('edgeml verify: 0 gaps after the run; a deleted blob is named as missing and the exit code says so', async () => {
      await runtime.waitUntilIdle({ signal: AbortSignal.timeout(600_000) });
      const verify = (): Promise<{ code: number | null; out: string; err: string }> =>
        new Promise((resolve) => {
          const p = spawn(process.execPath, [path.join(repoRoot, 'deployment/runtime/bin/edgeml.js'), '--workdir', workDir, 'verify'], { stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          let err = '';
          p.stdout.on('data', (c: Buffer) => (out += c.toString()));
          p.stderr.on('data', (c: Buffer) => (err += c.toString()));
          p.once('exit', (code) => resolve({ code, out, err }));
        });
      type Report = { ok: boolean; checked: number; gaps: number; checks: { file: string; part: string; blob: string; status: string }[] };
      const clean = await verify();
      assert.equal(clean.code, 0, `${clean.out}\n${clean.err}`);
      const report = JSON.parse(clean.out) as Report;
      assert.equal(report.gaps, 0);
      const artifacts = report.checks.filter((c) => c.part === 'artifact');
      assert.ok(artifacts.length >= 13, `every sample file's artifact is checked: ${artifacts.length}`);
      assert.ok(report.checks.some((c) => c.part === 'results'), 'result batches are checked');
      const victim = artifacts.find((c) => c.blob.endsWith('.parquet'))!;
      const blob = BlobServiceClient.fromConnectionString(runtime.storageConnectionString!).getContainerClient('edgeml').getBlockBlobClient(victim.blob);
      const bytes = await blob.downloadToBuffer();
      await blob.delete();
      try {
        const gap = await verify();
        assert.equal(gap.code, 1);
        const after = JSON.parse(gap.out) as Report;
        assert.deepEqual(after.checks.filter((c) => c.status !== 'ok').map((c) => [c.blob, c.status]), [[victim.blob, 'missing']]);
        assert.match(gap.err, new RegExp(`gap: missing: ${victim.blob.replace(/[.]/g, '\\.')}`));
      } finally {
        await blob.uploadData(bytes);
      }
    });

    it('a killed module is restarted per its restart policy and new files still complete', async () => {
      const proc = runtime.processes.get('transformer')!;
      const before = proc.snapshot();
      assert.ok(proc.kill('SIGKILL'));
      for (let i = 0; i < 100 && proc.snapshot().restarts === before.restarts; i++) await sleep(200);
      assert.equal(proc.snapshot().restarts, before.restarts + 1);
      const { renderTextImage } = await import('@edgeml/runtime');
      const { writeFile, rename } = await import('node:fs/promises');
      const tmp = path.join(runtime.paths.share, 'after-kill.png.partial');
      await writeFile(tmp, await renderTextImage('After restart'));
      await rename(tmp, path.join(runtime.paths.inbox, 'after-kill.png'));
      await sleep(1_500);
      await runtime.waitUntilIdle({ signal: AbortSignal.timeout(300_000) });
      const summary = await runtime.summary();
      assert.equal(summary.unaccounted, 0);
      assert.equal(summary.filesSeen, 14);
      const blobs = await listBlobs(runtime.storageConnectionString!);
      assert.ok(blobs.length >= 14, `blobs: ${blobs.length}`);
    });
  });
});
