/**
 * Offline-first (#15), the whole suite through the local runtime: an uplink down far longer than the
 * watcher's patience, a SAS that expires mid-backlog and is rotated through its secret file, and a
 * create-only SAS replaying items already in storage. The watcher runs time-compressed
 * (`completionTimeoutMs` 5 s, `maxAttempts` 3): without the uploader's held leases any of these
 * would dead-letter the files within 15 s.
 *
 * Sizes through the environment (defaults sized for CI on 2 cores; the issue's full run in brackets):
 *   EDGEML_OFFLINE_FILES (30) [100]          files dropped in the outage test (every 10th a CSV)
 *   EDGEML_OFFLINE_FACTOR (4) [20]           outage = FACTOR × completionTimeoutMs × maxAttempts
 *   EDGEML_OFFLINE_SAS_FILES (20) [100]      files dropped in the SAS test
 *   EDGEML_OFFLINE_SAS_FACTOR (2) [20]       expired-SAS pause = FACTOR × completionTimeoutMs × maxAttempts
 *   EDGEML_OFFLINE_REPLAY_FILES (8)          files replayed with the create-only SAS
 *   EDGEML_OFFLINE_COMPLETION_TIMEOUT_MS (5000), EDGEML_OFFLINE_MAX_ATTEMPTS (3): the watcher's settings
 *   EDGEML_OFFLINE_MAX_IN_FLIGHT (8)         the watcher's maxInFlight, scaled down with the timeout: the
 *                                            defaults (100 files, 10 min × 3) let every file in flight finish
 *                                            its processing well within one timeout; 100 files in 5 s do not
 *                                            on 2 busy cores (a full-size run dead-lettered 8 of a 75-file
 *                                            burst as TIMEOUT before the transformer reached them). Held files
 *                                            do not count against it, so the held backlog still grows.
 * The full run: EDGEML_OFFLINE_FILES=100 EDGEML_OFFLINE_FACTOR=20 EDGEML_OFFLINE_SAS_FILES=100 EDGEML_OFFLINE_SAS_FACTOR=20
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as Storage from '@azure/storage-blob';
import { renderTextImage, telemetryCsv } from '@edgeml/runtime';
import { sleep } from '@edgeml/shared';
import { startAzurite, type AzuriteInstance } from '../helpers/azurite.js';
import { ALERT_SCHEMA, RESULT_SCHEMA, dropFile, listBlobs, readJournal, sha256, startSuite, waitFor, type SuiteHandle } from '../helpers/suite.js';

/** The storage SDK as the uploader resolves it (SAS generation must match what the uploader speaks). */
const storage = createRequire(new URL('../../modules/uploader/package.json', import.meta.url))('@azure/storage-blob') as typeof Storage;

const num = (name: string, dflt: number): number => Number(process.env[name] ?? dflt);
const COMPLETION_TIMEOUT_MS = num('EDGEML_OFFLINE_COMPLETION_TIMEOUT_MS', 5_000);
const MAX_ATTEMPTS = num('EDGEML_OFFLINE_MAX_ATTEMPTS', 3);
const PATIENCE_MS = COMPLETION_TIMEOUT_MS * MAX_ATTEMPTS;
const MAX_IN_FLIGHT = num('EDGEML_OFFLINE_MAX_IN_FLIGHT', 8);
const FILES = num('EDGEML_OFFLINE_FILES', 30);
const FACTOR = num('EDGEML_OFFLINE_FACTOR', 4);
const SAS_FILES = num('EDGEML_OFFLINE_SAS_FILES', 20);
const SAS_FACTOR = num('EDGEML_OFFLINE_SAS_FACTOR', 2);
const REPLAY_FILES = num('EDGEML_OFFLINE_REPLAY_FILES', 8);
const CONTAINER = 'edgeml';

type Runtime = SuiteHandle['runtime'];

interface Dropped {
  readonly name: string;
  readonly id: string;
  readonly kind: 'image' | 'table';
}

interface UploaderStatusView {
  sink: { state: string; code?: string; cause?: string; credentials?: { from: string } };
  totals: { uploaded: number; quarantined: number; deadLettered: number; presentUnverified: number; held: number };
  held: { parts: number; leaseMs: number };
}

/** Patches a module's twin and waits until the module reports it applied. */
async function applyTwin(rt: Runtime, module: string, patch: Record<string, unknown>): Promise<void> {
  const version = await rt.hub.patchDesired(module, patch);
  const reported = (): { desiredVersion?: number; status?: string; problems?: unknown } | undefined => (rt.hub.getTwin(module).reported as { config?: { desiredVersion?: number; status?: string } }).config;
  await waitFor(() => (reported()?.desiredVersion ?? 0) >= version, 120_000, `${module} applies ${JSON.stringify(patch)}`);
  assert.equal(reported()?.status, 'applied', `${module}: ${JSON.stringify(reported()?.problems)}`);
}

/** The watcher time-compressed; the uploader with a short lease so renewals happen during the test. */
async function compressTime(rt: Runtime, uploader: Record<string, unknown> = {}): Promise<void> {
  await applyTwin(rt, 'watcher', { completionTimeoutMs: COMPLETION_TIMEOUT_MS, maxAttempts: MAX_ATTEMPTS, maxInFlight: MAX_IN_FLIGHT });
  await applyTwin(rt, 'uploader', {
    leaseMs: 10_000,
    sinkProbe: { initialDelayMs: 500, maxDelayMs: 3_000 },
    credentialsRefreshIntervalMs: 1_000,
    results: { batchWindowMs: 5_000 },
    sdkRetry: { maxTries: 1, tryTimeoutInMs: 10_000, retryDelayInMs: 200, maxRetryDelayInMs: 1_000 },
    ...uploader,
  });
}

/** Images (text rendered by sharp, some rotated) and every 10th a CSV, named `<prefix>-NNNN`. */
async function dropFiles(rt: Runtime, prefix: string, from: number, count: number, into: Dropped[]): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const base = `${prefix}-${String(i).padStart(4, '0')}`;
    if (i % 10 === 9) {
      const data = telemetryCsv(40 + i);
      await dropFile(rt, `${base}.csv`, data);
      into.push({ name: `${base}.csv`, id: sha256(data), kind: 'table' });
    } else {
      const data = await renderTextImage(`${prefix} ${i}`, { rotate180: i % 4 === 0, format: i % 3 === 0 ? 'jpeg' : 'png', width: 300 + (i % 5) * 30 });
      await dropFile(rt, `${base}.${i % 3 === 0 ? 'jpg' : 'png'}`, data);
      into.push({ name: `${base}.${i % 3 === 0 ? 'jpg' : 'png'}`, id: sha256(data), kind: 'image' });
    }
  }
}

/** Every file's artifact in blob storage (content as recorded) and every image's cls result in a results blob. */
async function undelivered(connectionString: string, dropped: readonly Dropped[]): Promise<string[]> {
  const blobs = await listBlobs(connectionString, { download: true });
  const lines = blobs
    .filter((b) => b.name.includes('/results/') && b.name.endsWith('.jsonl') && b.content !== undefined)
    .flatMap((b) => b.content!.toString('utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { id?: string; part?: string }));
  const problems: string[] = [];
  for (const f of dropped) {
    const artifacts = blobs.filter((b) => b.metadata['sourcesha256'] === f.id && b.metadata['contentsha256'] !== undefined);
    if (artifacts.length !== 1) problems.push(`${f.name}: ${artifacts.length} artifact blobs`);
    else if (artifacts[0]!.contentSha256 !== artifacts[0]!.metadata['contentsha256']) problems.push(`${f.name}: artifact content differs from its recorded sha256`);
    if (f.kind === 'image' && !lines.some((l) => l.id === f.id && l.part === 'result:cls')) problems.push(`${f.name}: no cls result in any results blob`);
  }
  return problems;
}

async function uploaderStatus(rt: Runtime): Promise<UploaderStatusView> {
  const r = await rt.hub.invokeMethod('uploader', 'getStatus', null, { responseTimeoutMs: 10_000 });
  assert.equal(r.status, 200);
  return r.payload as UploaderStatusView;
}

async function uploaderAlerts(rt: Runtime): Promise<{ code?: string | undefined; severity?: string | undefined; message?: string | undefined }[]> {
  const journal = await readJournal(rt.hub.upstreamJournalFile);
  return journal
    .filter((r) => r.body.schema === ALERT_SCHEMA && r.body.module === 'uploader')
    .map((r) => ({ code: r.body.code, severity: (r.body as { severity?: string }).severity, message: r.body.message }));
}

/** A module's Prometheus text (its metrics port is in the runtime's runtime.json). */
async function metricsOf(rt: Runtime, module: string): Promise<string> {
  const info = JSON.parse(await readFile(path.join(rt.workDir, 'runtime.json'), 'utf8')) as { metricsPorts: Record<string, number> };
  const res = await fetch(`http://127.0.0.1:${info.metricsPorts[module]}/metrics`);
  return res.text();
}

/** Leases that ran out at the watcher: a living uploader must never let one lapse. */
async function leaseExpiries(rt: Runtime): Promise<number> {
  const text = await metricsOf(rt, 'watcher');
  return text
    .split('\n')
    .filter((l) => l.startsWith('edgeml_watcher_lease_expiries_total'))
    .reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
}

const metricValue = (text: string, name: string, labels: string): number =>
  text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(labels))
    .reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);

async function containerSasUrl(azurite: AzuriteInstance, permissions: string, expiresOn: Date): Promise<string> {
  const sas = storage
    .generateBlobSASQueryParameters(
      { containerName: CONTAINER, permissions: storage.ContainerSASPermissions.parse(permissions), startsOn: new Date(Date.now() - 120_000), expiresOn },
      new storage.StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
    )
    .toString();
  return `${azurite.blobEndpoint}/${CONTAINER}?${sas}`;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(0)} s`;

describe(`faults: offline-first (watcher patience ${seconds(PATIENCE_MS)}: completionTimeoutMs ${COMPLETION_TIMEOUT_MS} × maxAttempts ${MAX_ATTEMPTS})`, function () {
  this.timeout(60 * 60_000);

  it(`storage unreachable for ${FACTOR} × the watcher's patience while ${FILES} files arrive, then back: 0 dead letters, everything in blob storage`, async () => {
    const suite = await startSuite('edgeml-outage-');
    try {
      const rt = suite.runtime;
      await compressTime(rt);
      const dropped: Dropped[] = [];
      const outageMs = FACTOR * PATIENCE_MS;
      await rt.azurite!.stop();
      const downAt = Date.now();
      // Files arrive all through the outage, in five chunks.
      const chunks = 5;
      for (let c = 0; c < chunks; c++) {
        await dropFiles(rt, 'outage', dropped.length, Math.round(((c + 1) * FILES) / chunks) - dropped.length, dropped);
        await sleep(Math.max(0, downAt + ((c + 1) * outageMs) / (chunks + 1) - Date.now()));
      }
      await waitFor(async () => (await uploaderStatus(rt)).sink.state === 'paused', 60_000, 'the uploader to pause');
      await sleep(Math.max(0, downAt + outageMs - Date.now()));
      const during = await uploaderStatus(rt);
      const watcherDuring = await rt.summary();
      assert.deepEqual([during.sink.state, during.sink.cause], ['paused', 'unreachable']);
      assert.equal(watcherDuring.deadLettered, 0, 'nothing dead-lettered during the outage');
      await rt.azurite!.restart();
      const upAt = Date.now();
      await rt.waitUntilIdle({ signal: AbortSignal.timeout(Math.max(10, FILES) * 60_000) });
      const summary = await rt.summary();
      const after = await uploaderStatus(rt);
      const problems = await undelivered(rt.storageConnectionString!, dropped);
      const lapses = await leaseExpiries(rt);
      process.stdout.write(
        [
          `      outage ${seconds(upAt - downAt)} (${((upAt - downAt) / PATIENCE_MS).toFixed(1)} × the watcher's patience); ${dropped.length} files; drained ${seconds(Date.now() - upAt)} after the restore`,
          `      during: uploader ${during.sink.state}/${during.sink.cause}, ${during.held.parts} parts held (lease ${seconds(during.held.leaseMs)}), ${during.totals.held} held sent so far`,
          `      after: watcher completed ${summary.completed}, dead-lettered ${summary.deadLettered}, unaccounted ${summary.unaccounted}, leases that lapsed ${lapses}; uploader uploaded ${after.totals.uploaded}, quarantined ${after.totals.quarantined}, held sent ${after.totals.held}`,
          ...problems.slice(0, 20).map((p) => `      PROBLEM ${p}`),
          '',
        ].join('\n'),
      );
      assert.ok(upAt - downAt >= outageMs, 'the outage lasted as long as asked');
      assert.ok(during.held.parts > 0, 'parts were held during the outage');
      assert.deepEqual([summary.deadLettered, summary.unaccounted, summary.completed], [0, 0, dropped.length], JSON.stringify(summary.deadLetteredByReason));
      assert.equal(after.totals.quarantined, 0);
      assert.equal(lapses, 0, 'the uploader renewed every lease in time');
      assert.deepEqual(problems, []);
      const journal = await readJournal(rt.hub.upstreamJournalFile);
      const images = dropped.filter((f) => f.kind === 'image');
      for (const f of images) assert.ok(journal.some((r) => r.body.schema === RESULT_SCHEMA && r.body.id === f.id), `${f.name}: result on $upstream`);
    } finally {
      await suite.close();
    }
  });

  describe('credentials', () => {
    let azurite: AzuriteInstance;
    let secrets: string;
    before(async function () {
      this.timeout(120_000);
      azurite = await startAzurite();
      await storage.BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(CONTAINER).createIfNotExists();
      secrets = await mkdtemp(path.join(tmpdir(), 'edgeml-secrets-'));
    });
    after(async function () {
      this.timeout(60_000);
      await azurite?.stop();
      await rm(secrets, { recursive: true, force: true });
    });

    it(`a SAS that expires mid-backlog, paused ${SAS_FACTOR} × the watcher's patience, replaced through the secret file while running: 0 quarantined, 0 dead letters, one alert`, async () => {
      const secretFile = path.join(secrets, 'storage-sas-url');
      await writeFile(secretFile, await containerSasUrl(azurite, 'cw', new Date(Date.now() + 24 * 3600_000)));
      // The suite writes to this Azurite (no Azurite of its own); the uploader reads its SAS from the file.
      const suite = await startSuite('edgeml-sas-', { env: { EDGEML_STORAGE_CONNECTION_STRING: azurite.connectionString, EDGEML_STORAGE_CONTAINER_SAS_URL_FILE: secretFile } });
      try {
        const rt = suite.runtime;
        await compressTime(rt);
        assert.equal((await uploaderStatus(rt)).sink.credentials?.from, 'EDGEML_STORAGE_CONTAINER_SAS_URL_FILE');
        const dropped: Dropped[] = [];
        const first = Math.ceil(SAS_FILES / 4);
        await dropFiles(rt, 'sas', 0, first, dropped);
        await waitFor(async () => (await rt.summary()).completed >= first, 10 * 60_000, 'the first files uploaded with the first SAS');
        // The platform hands out short-lived SAS tokens: the next one expires 2 s after it is picked
        // up, while the rest of the files arrive (and queue up behind it).
        await writeFile(secretFile, await containerSasUrl(azurite, 'cw', new Date(Date.now() + 3_000)));
        await dropFiles(rt, 'sas', first, SAS_FILES - first, dropped);
        await waitFor(async () => (await uploaderStatus(rt)).sink.state === 'paused', 5 * 60_000, 'the pause after the SAS expired');
        const pausedAt = Date.now();
        const paused = await uploaderStatus(rt);
        assert.deepEqual([paused.sink.code, paused.sink.cause], ['SINK_PERMISSION_DENIED', 'credentials']);
        await sleep(SAS_FACTOR * PATIENCE_MS);
        const heldAtEnd = (await uploaderStatus(rt)).held.parts;
        const during = await rt.summary();
        assert.equal(during.deadLettered, 0, `nothing dead-lettered while the SAS was expired: ${JSON.stringify(during.deadLetteredByReason)}`);
        await writeFile(secretFile, await containerSasUrl(azurite, 'cw', new Date(Date.now() + 24 * 3600_000)));
        const rotatedAt = Date.now();
        await rt.waitUntilIdle({ signal: AbortSignal.timeout(Math.max(10, SAS_FILES) * 60_000) });
        const summary = await rt.summary();
        const after = await uploaderStatus(rt);
        const alerts = await uploaderAlerts(rt);
        const problems = await undelivered(azurite.connectionString, dropped);
        process.stdout.write(
          [
            `      paused ${seconds(rotatedAt - pausedAt)} (${((rotatedAt - pausedAt) / PATIENCE_MS).toFixed(1)} × the watcher's patience) with up to ${heldAtEnd} parts held; resumed and drained ${seconds(Date.now() - rotatedAt)} after the rotation`,
            `      watcher completed ${summary.completed}/${dropped.length}, dead-lettered ${summary.deadLettered}; uploader quarantined ${after.totals.quarantined}, sink ${after.sink.state}; uploader alerts: ${alerts.map((a) => `${a.severity}/${a.code}`).join(', ')}`,
            ...problems.slice(0, 20).map((p) => `      PROBLEM ${p}`),
            '',
          ].join('\n'),
        );
        assert.deepEqual([summary.deadLettered, summary.unaccounted, summary.completed], [0, 0, dropped.length], JSON.stringify(summary.deadLetteredByReason));
        assert.equal(after.totals.quarantined, 0);
        assert.equal(after.sink.state, 'ready');
        assert.equal(alerts.length, 1, JSON.stringify(alerts));
        assert.deepEqual([alerts[0]?.code, alerts[0]?.severity], ['SINK_PERMISSION_DENIED', 'critical']);
        assert.deepEqual(problems, []);
      } finally {
        await suite.close();
      }
    });

    it(`a create-only SAS (sp=cw) on a fresh device replays ${REPLAY_FILES} files already in storage: all acknowledged, no 403, nothing re-sent`, async () => {
      // Artifact names without the date, so that a replay on another day names the same blobs.
      const blobNameTemplate = '{deviceId}/{kind}/{id}/{part}.{ext}';
      const dropped: Dropped[] = [];
      const first = await startSuite('edgeml-replay-1-', { env: { EDGEML_STORAGE_CONNECTION_STRING: azurite.connectionString } });
      try {
        await applyTwin(first.runtime, 'uploader', { blobNameTemplate, results: { batchWindowMs: 5_000 } });
        await dropFiles(first.runtime, 'replay', 0, REPLAY_FILES, dropped);
        await first.runtime.waitUntilIdle({ signal: AbortSignal.timeout(10 * 60_000) });
        assert.equal((await first.runtime.summary()).completed, REPLAY_FILES);
      } finally {
        await first.close();
      }
      // A replaced device (new ledger, new queue) with a create-only SAS gets the same files again.
      const secretFile = path.join(secrets, 'replay-sas-url');
      await writeFile(secretFile, await containerSasUrl(azurite, 'cw', new Date(Date.now() + 24 * 3600_000)));
      const second = await startSuite('edgeml-replay-2-', { env: { EDGEML_STORAGE_CONNECTION_STRING: azurite.connectionString, EDGEML_STORAGE_CONTAINER_SAS_URL_FILE: secretFile } });
      try {
        const rt = second.runtime;
        await compressTime(rt, { blobNameTemplate });
        const again: Dropped[] = [];
        await dropFiles(rt, 'replay', 0, REPLAY_FILES, again);
        assert.deepEqual(again.map((d) => d.id), dropped.map((d) => d.id), 'the same content');
        await rt.waitUntilIdle({ signal: AbortSignal.timeout(10 * 60_000) });
        const summary = await rt.summary();
        const status = await uploaderStatus(rt);
        const metrics = await metricsOf(rt, 'uploader');
        const alerts = await uploaderAlerts(rt);
        const refused = metricValue(metrics, 'edgeml_uploader_failures_total', 'reason="permission"');
        process.stdout.write(
          `      replay: completed ${summary.completed}/${REPLAY_FILES}, dead-lettered ${summary.deadLettered}; artifacts taken as present without reading ${status.totals.presentUnverified}; permission failures ${refused}; uploader alerts ${alerts.length}\n`,
        );
        assert.deepEqual([summary.deadLettered, summary.unaccounted, summary.completed], [0, 0, REPLAY_FILES], JSON.stringify(summary.deadLetteredByReason));
        assert.equal(status.totals.presentUnverified, REPLAY_FILES, 'every artifact already there: acknowledged without a read');
        assert.equal(refused, 0, 'no 403');
        assert.equal(status.totals.quarantined, 0);
        assert.equal(status.sink.state, 'ready');
        assert.deepEqual(alerts, []);
        assert.deepEqual(await undelivered(azurite.connectionString, dropped), []);
      } finally {
        await second.close();
      }
    });
  });
});
