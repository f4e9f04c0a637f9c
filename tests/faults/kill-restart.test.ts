/**
 * Kill/restart/outage run: files arrive while modules are killed with SIGKILL at random moments,
 * Azurite is stopped for a while, the edge hub is restarted and the uploader's artifacts quota is
 * filled (uploads paused, a 2-item quota, files arriving: the rest is deferred back to the watcher
 * until the quota has room again). Afterwards every file must have its
 * artifact blob (content matching its recorded sha256), every image its classification result on
 * $upstream and in a results blob, and no blob name may have been seen with two different contents.
 *
 * Size through the environment (defaults sized for CI on 2 cores):
 *   EDGEML_FAULT_FILES (60)  EDGEML_FAULT_KILLS (6)  EDGEML_FAULT_AZURITE_DOWN_MS (15000)
 *   EDGEML_FAULT_QUOTA_FULL_MS (15000: how long the uploader's quota is held full)
 *   EDGEML_FAULT_SEED (random; printed, so a failing run can be replayed)
 *   EDGEML_FAULT_COMPLETION_TIMEOUT_MS (120000: the watcher's re-emission timeout during the run; it must exceed the
 *   longest legitimate time in flight, or the watcher dead-letters sources as TIMEOUT after maxAttempts)
 * The full run: EDGEML_FAULT_FILES=500 EDGEML_FAULT_KILLS=20 EDGEML_FAULT_AZURITE_DOWN_MS=60000.
 */
import assert from 'node:assert/strict';
import { BlobServiceClient } from '@azure/storage-blob';
import { renderTextImage, telemetryCsv } from '@edgeml/runtime';
import { sleep } from '@edgeml/shared';
import { UPLOADER_DEFAULTS } from '@edgeml/uploader';
import { ALERT_SCHEMA, RESULT_SCHEMA, dropFile, listBlobs, readJournal, sha256, startSuite, waitFor, type SuiteHandle } from '../helpers/suite.js';

const FILES = Number(process.env['EDGEML_FAULT_FILES'] ?? 60);
const KILLS = Number(process.env['EDGEML_FAULT_KILLS'] ?? 6);
const AZURITE_DOWN_MS = Number(process.env['EDGEML_FAULT_AZURITE_DOWN_MS'] ?? 15_000);
const QUOTA_FULL_MS = Number(process.env['EDGEML_FAULT_QUOTA_FULL_MS'] ?? 15_000);
/** The uploader's artifacts quota while it is held full, and the defaults it goes back to. */
const QUOTA_ITEMS = 2;
const SEED = Number(process.env['EDGEML_FAULT_SEED'] ?? Math.floor(Math.random() * 1e9));

/** mulberry32: a small seeded PRNG so a run can be replayed from its printed seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Runtime = SuiteHandle['runtime'];

/**
 * Holds the uploader's artifacts quota full: uploads off and a QUOTA_ITEMS-item quota while files
 * arrive, so new artifacts are refused (rejectNew → deferred to the watcher). Counts what it saw
 * before the quota is given back: the uploader's refusals (its in-memory counter, read before any
 * later kill could reset it) and the watcher's deferred files.
 */
async function fillUploaderQuota(rt: Runtime, holdMs: number, arrivals: () => Promise<void>, seen: { rejected: number; deferredSeen: number }): Promise<void> {
  const uploaderTwin = (): { status?: { usage?: { artifacts?: { rejected?: number } } }; config?: { desiredVersion?: number; status?: string } } =>
    rt.hub.getTwin('uploader').reported as never;
  const applied = async (version: number, what: string): Promise<void> => {
    // A module killed just before may still be starting: it reads the whole twin when it connects.
    await waitFor(() => (uploaderTwin().config?.desiredVersion ?? 0) >= version, 120_000, what);
    assert.equal(uploaderTwin().config?.status, 'applied', what);
  };
  const before = uploaderTwin().status?.usage?.artifacts?.rejected ?? 0;
  await applied(await rt.hub.patchDesired('uploader', { uploadOn: false, quotaRetryAfterMs: 2_000, classes: { artifacts: { maxItems: QUOTA_ITEMS } } }), 'the uploader takes the small quota');
  const until = Date.now() + holdMs;
  await arrivals();
  while (Date.now() < until) {
    const status = await rt.hub.invokeMethod('watcher', 'getStatus', null, { responseTimeoutMs: 5_000 }).catch(() => undefined);
    const deferred = (status?.payload as { counts?: { deferred?: number } } | undefined)?.counts?.deferred ?? 0;
    seen.deferredSeen = Math.max(seen.deferredSeen, deferred);
    await sleep(1_000);
  }
  const usage = await rt.hub.invokeMethod('uploader', 'getStatus', null, { responseTimeoutMs: 5_000 }).catch(() => undefined);
  const rejected = (usage?.payload as { usage?: { artifacts?: { rejected?: number } } } | undefined)?.usage?.artifacts?.rejected ?? uploaderTwin().status?.usage?.artifacts?.rejected ?? 0;
  seen.rejected += Math.max(0, rejected - before);
  await applied(
    await rt.hub.patchDesired('uploader', {
      uploadOn: UPLOADER_DEFAULTS.uploadOn,
      quotaRetryAfterMs: UPLOADER_DEFAULTS.quotaRetryAfterMs,
      classes: { artifacts: { maxItems: UPLOADER_DEFAULTS.classes.artifacts.maxItems } },
    }),
    'the uploader takes its defaults back',
  );
}

interface Dropped {
  readonly name: string;
  readonly id: string;
  readonly kind: 'image' | 'table';
}

describe(`faults: ${FILES} files, ${KILLS} kill -9, Azurite down ${AZURITE_DOWN_MS / 1000} s, a hub restart, the upload quota full ${QUOTA_FULL_MS / 1000} s (seed ${SEED})`, function () {
  this.timeout(60 * 60_000);
  let suite: SuiteHandle;
  const random = prng(SEED);
  const dropped: Dropped[] = [];
  const faults: string[] = [];
  /** Every (blob name → content MD5) observed while the run went on: a second MD5 is a rewrite with other content. */
  const seenMd5 = new Map<string, Set<string>>();

  before(async function () {
    this.timeout(180_000);
    suite = await startSuite('edgeml-faults-');
  });
  after(async function () {
    this.timeout(120_000);
    await suite?.close();
  });

  it('loses nothing and writes no blob twice with different content', async () => {
    const rt = suite.runtime;
    // Items a killed module held in memory (received, not yet forwarded) come back only when the
    // watcher re-emits what was not completed within completionTimeoutMs (default 10 min, measured:
    // a first run here sat idle on 6 such images until that timeout). The run shortens it so CI sees
    // the recovery, but not below the longest legitimate time in flight: at 45 s a 500-file run
    // dead-lettered 112 sources as TIMEOUT (3 attempts) while they queued behind a 60 s outage.
    // EDGEML_FAULT_COMPLETION_TIMEOUT_MS=600000 keeps the default.
    const completionTimeoutMs = Number(process.env['EDGEML_FAULT_COMPLETION_TIMEOUT_MS'] ?? 120_000);
    const version = await rt.hub.patchDesired('watcher', { completionTimeoutMs });
    await waitFor(() => (rt.hub.getTwin('watcher').reported as { config?: { desiredVersion?: number; status?: string } }).config?.desiredVersion === version, 120_000, 'the watcher applies completionTimeoutMs');
    assert.equal((rt.hub.getTwin('watcher').reported as { config?: { status?: string } }).config?.status, 'applied');
    const started = Date.now();
    let observing = true;
    const service = BlobServiceClient.fromConnectionString(rt.storageConnectionString!);
    const observeOnce = async (): Promise<void> => {
      for await (const c of service.listContainers()) {
        for await (const b of service.getContainerClient(c.name).listBlobsFlat()) {
          const md5 = b.properties.contentMD5 === undefined ? `etag-less len:${b.properties.contentLength}` : Buffer.from(b.properties.contentMD5).toString('base64');
          const key = `${c.name}/${b.name}`;
          const set = seenMd5.get(key) ?? new Set<string>();
          set.add(md5);
          seenMd5.set(key, set);
        }
      }
    };
    const observe = async (): Promise<void> => {
      while (observing) {
        // Azurite is down on purpose for part of the run; the next round lists again.
        await observeOnce().catch(() => undefined);
        await sleep(2_000);
      }
    };
    const observer = observe();

    // Faults at random points between chunks of arrivals: K kills, one Azurite outage, one hub restart,
    // one spell of a full upload quota.
    const plan: Array<'kill' | 'azurite' | 'hub' | 'quota'> = [...Array.from({ length: KILLS }, () => 'kill' as const), 'azurite', 'hub', 'quota'];
    const quota = { rejected: 0, deferredSeen: 0 };
    for (let i = plan.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [plan[i], plan[j]] = [plan[j]!, plan[i]!];
    }
    const chunk = Math.max(1, Math.ceil(FILES / (plan.length + 1)));
    let azuriteOutage: Promise<void> | undefined;
    const names = ['watcher', 'transformer', 'inferencer', 'uploader'];
    let next = 0;
    const dropChunk = async (): Promise<void> => {
      for (let k = 0; k < chunk && next < FILES; k++, next++) {
        const i = next;
        if (i % 10 === 9) {
          const name = `fault-${String(i).padStart(4, '0')}.csv`;
          const data = telemetryCsv(50 + i);
          await dropFile(rt, name, data);
          dropped.push({ name, id: sha256(data), kind: 'table' });
        } else {
          const jpeg = i % 3 === 0;
          const name = `fault-${String(i).padStart(4, '0')}${i % 4 === 0 ? '-rot180' : ''}.${jpeg ? 'jpg' : 'png'}`;
          const data = await renderTextImage(`Item ${i} / lot ${SEED % 997}`, { rotate180: i % 4 === 0, format: jpeg ? 'jpeg' : 'png', width: 320 + (i % 5) * 40 });
          await dropFile(rt, name, data);
          dropped.push({ name, id: sha256(data), kind: 'image' });
        }
      }
    };
    for (const fault of plan) {
      await dropChunk();
      await sleep(1_000 + random() * 5_000);
      const at = `${((Date.now() - started) / 1000).toFixed(1)} s`;
      if (fault === 'kill') {
        const running = names.filter((n) => rt.processes.get(n)?.snapshot().state === 'running');
        const victim = running[Math.floor(random() * running.length)];
        if (victim !== undefined && rt.processes.get(victim)!.kill('SIGKILL')) faults.push(`${at} kill -9 ${victim}`);
        else faults.push(`${at} kill skipped (no module running)`);
      } else if (fault === 'azurite') {
        faults.push(`${at} Azurite stopped for ${AZURITE_DOWN_MS / 1000} s`);
        await rt.azurite!.stop();
        azuriteOutage = sleep(AZURITE_DOWN_MS).then(() => rt.azurite!.restart());
      } else if (fault === 'hub') {
        faults.push(`${at} hub restart (2 s down)`);
        await rt.restartHub({ downMs: 2_000 });
      } else {
        faults.push(`${at} uploader quota held full for ${QUOTA_FULL_MS / 1000} s (uploads off, artifacts maxItems ${QUOTA_ITEMS})`);
        await fillUploaderQuota(rt, QUOTA_FULL_MS, dropChunk, quota);
      }
    }
    await dropChunk();
    while (next < FILES) await dropChunk();
    await azuriteOutage;

    await rt.waitUntilIdle({ signal: AbortSignal.timeout(Math.max(10, FILES / 2) * 60_000) });
    const wallS = (Date.now() - started) / 1000;
    observing = false;
    await observer;

    const summary = await rt.summary();
    const journal = await readJournal(rt.hub.upstreamJournalFile);
    const blobs = await listBlobs(rt.storageConnectionString!, { download: true });
    await observeOnce();

    // Results inside the uploaded results batches (JSON lines), by source id.
    const resultLines = blobs
      .filter((b) => b.name.includes('/results/') && b.name.endsWith('.jsonl') && b.content !== undefined)
      .flatMap((b) => b.content!.toString('utf8').split('\n').filter((l) => l.trim().length > 0).map((l) => JSON.parse(l) as { id?: string; part?: string; outputs?: { label?: unknown } }));

    const problems: string[] = [];
    let artifactsOk = 0;
    let upstreamOk = 0;
    let resultBlobsOk = 0;
    for (const f of dropped) {
      const artifacts = blobs.filter((b) => b.metadata['sourcesha256'] === f.id && b.metadata['contentsha256'] !== undefined);
      if (artifacts.length !== 1) problems.push(`${f.name}: ${artifacts.length} artifact blobs (${artifacts.map((b) => b.name).join(', ')})`);
      else if (artifacts[0]!.contentSha256 !== artifacts[0]!.metadata['contentsha256']) problems.push(`${f.name}: artifact content sha256 ${artifacts[0]!.contentSha256} ≠ recorded ${artifacts[0]!.metadata['contentsha256']}`);
      else artifactsOk++;
      if (f.kind !== 'image') continue;
      const onUpstream = journal.filter((r) => r.body.schema === RESULT_SCHEMA && r.body.id === f.id && r.body.part === 'result:cls');
      if (onUpstream.length === 0) problems.push(`${f.name}: no cls result on $upstream`);
      else upstreamOk++;
      const labels = new Set(onUpstream.map((r) => JSON.stringify(r.body.outputs?.['label'])));
      if (labels.size > 1) problems.push(`${f.name}: $upstream results disagree: ${[...labels].join(' vs ')}`);
      const inBlobs = resultLines.filter((r) => r.id === f.id && r.part === 'result:cls');
      if (inBlobs.length === 0) problems.push(`${f.name}: no cls result in any results blob`);
      else resultBlobsOk++;
      const blobLabels = new Set(inBlobs.map((r) => JSON.stringify(r.outputs?.label)));
      if (blobLabels.size > 1) problems.push(`${f.name}: results blobs disagree: ${[...blobLabels].join(' vs ')}`);
    }
    const rewritten = [...seenMd5].filter(([, set]) => set.size > 1).map(([name, set]) => `${name}: ${[...set].join(' / ')}`);
    const conflicts = journal.filter((r) => r.body.schema === ALERT_SCHEMA && r.body.code === 'SINK_CONFLICT');
    const images = dropped.filter((f) => f.kind === 'image').length;
    const duplicatesOnUpstream = journal.filter((r) => r.body.schema === RESULT_SCHEMA && r.body.part === 'result:cls').length - upstreamOk;
    const restarts = Object.fromEntries([...rt.processes].map(([n, p]) => [n, p.snapshot().restarts]));

    process.stdout.write(
      [
        `      seed ${SEED}; wall ${wallS.toFixed(0)} s; faults:`,
        ...faults.map((f) => `        ${f}`),
        `      files ${dropped.length} (images ${images}, tables ${dropped.length - images}); watcher: completed ${summary.completed}, dead-lettered ${summary.deadLettered}, unaccounted ${summary.unaccounted}`,
        `      artifact blobs verified ${artifactsOk}/${dropped.length}; cls results on $upstream ${upstreamOk}/${images} (+${duplicatesOnUpstream} redelivered duplicates); in results blobs ${resultBlobsOk}/${images}`,
        `      quota full: uploader deferred ${quota.rejected} part(s); the watcher held up to ${quota.deferredSeen} deferred file(s)`,
        `      blobs ${blobs.length}, names observed ${seenMd5.size}, rewritten with other content ${rewritten.length}; SINK_CONFLICT alerts ${conflicts.length}; restarts ${JSON.stringify(restarts)}`,
        ...problems.slice(0, 30).map((p) => `      PROBLEM ${p}`),
        '',
      ].join('\n'),
    );

    assert.equal(summary.unaccounted, 0);
    assert.equal(summary.deadLettered, 0, JSON.stringify(summary.deadLetteredByReason));
    assert.equal(summary.completed, dropped.length);
    assert.deepEqual(problems, []);
    assert.deepEqual(rewritten, []);
    assert.equal(conflicts.length, 0);
    assert.ok(quota.rejected > 0, 'the quota was full: the uploader refused (deferred) items');
    assert.ok(quota.deferredSeen > 0, 'the watcher held deferred files');
    const kills = faults.filter((f) => f.includes('kill -9')).length;
    assert.ok(kills >= Math.min(KILLS, 1), `kills performed: ${kills}`);
    assert.ok(Object.values(restarts).reduce((a, b) => a + b, 0) >= kills, 'every killed module was restarted');
  });
});
