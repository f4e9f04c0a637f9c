/**
 * Credentials against a real Azurite: SAS tokens that expire, lack rights, or may create but not
 * read. The sink pauses (nothing is quarantined), a new SAS written to the secret file resumes it
 * without a restart, and a create-only SAS acknowledges replays without reading and without a 403.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AlertMessage, CompletionMessage } from '@edgeml/shared';
import { startAzurite, type AzuriteInstance } from '../../helpers/azurite.js';
import { makeDataRoot, md5b64, stageArtifact, startApp, storage, waitFor, type StagedArtifact } from './fixtures.js';

const FAST = {
  retry: { initialDelayMs: 100, maxDelayMs: 500 },
  sdkRetry: { maxTries: 1, retryDelayInMs: 100, maxRetryDelayInMs: 500, tryTimeoutInMs: 10_000 },
  sinkProbe: { initialDelayMs: 200, maxDelayMs: 1_000 },
  credentialsRefreshIntervalMs: 1_000,
};

interface SinkView {
  state: string;
  code?: string;
  cause?: string;
  credentials?: { from: string; expiresAt?: string; permissions?: string };
}
interface StatusView {
  sink: SinkView;
  totals: { uploaded: number; quarantined: number; deadLettered: number; presentUnverified: number; alreadyPresent: number; bytes: number };
}

const statusOf = (t: Awaited<ReturnType<typeof startApp>>): StatusView => t.app.status() as unknown as StatusView;

describe('uploader credentials (real Azurite)', function () {
  this.timeout(90_000);
  let azurite: AzuriteInstance;
  before(async () => {
    azurite = await startAzurite();
  });
  after(async () => {
    await azurite?.stop();
  });

  const containerSasUrl = async (container: string, permissions: string, expiresInMs: number): Promise<string> => {
    const service = storage.BlobServiceClient.fromConnectionString(azurite.connectionString);
    await service.getContainerClient(container).createIfNotExists();
    const sas = storage
      .generateBlobSASQueryParameters(
        { containerName: container, permissions: storage.ContainerSASPermissions.parse(permissions), startsOn: new Date(Date.now() - 60_000), expiresOn: new Date(Date.now() + expiresInMs) },
        new storage.StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
      )
      .toString();
    return `${azurite.blobEndpoint}/${container}?${sas}`;
  };

  const failuresOf = async (t: Awaited<ReturnType<typeof startApp>>): Promise<Record<string, number>> => {
    const m = await t.registry.getSingleMetric('edgeml_uploader_failures_total')?.get();
    return Object.fromEntries((m?.values ?? []).map((v) => [String(v.labels['reason']), v.value]));
  };

  it('a SAS that expires mid-backlog pauses uploads; a new SAS in the secret file resumes them without a restart: 0 quarantined, one alert', async () => {
    const paths = await makeDataRoot();
    const secret = path.join(paths.root, 'sas-url');
    await writeFile(secret, await containerSasUrl('expiring', 'cw', 4_000));
    const t = await startApp(paths, { EDGEML_STORAGE_CONTAINER_SAS_URL_FILE: secret }, { ...FAST, concurrency: 2 });
    try {
      const staged: StagedArtifact[] = [];
      for (let i = 0; i < 10; i++) staged.push(await stageArtifact(paths, { sizeBytes: 2048, seed: `exp-${i}` }));
      for (const s of staged.slice(0, 3)) await t.edge.deliver('artifacts', s.message);
      await waitFor(() => t.completions().length === 3, 15_000, 'the first uploads');
      assert.equal(statusOf(t).sink.credentials?.from, 'EDGEML_STORAGE_CONTAINER_SAS_URL_FILE');
      await new Promise((r) => setTimeout(r, 4_500)); // the SAS expires
      for (const s of staged.slice(3)) await t.edge.deliver('artifacts', s.message);
      await waitFor(() => statusOf(t).sink.state === 'paused', 15_000, 'the pause');
      const paused = statusOf(t);
      assert.deepEqual([paused.sink.code, paused.sink.cause], ['SINK_PERMISSION_DENIED', 'credentials']);
      await new Promise((r) => setTimeout(r, 2_000));
      const refusals = (await failuresOf(t))['permission'] ?? 0;
      assert.ok(refusals >= 1 && refusals <= 2, `refused uploads while the SAS was expired: ${refusals} (the uploads in flight), no more`);
      assert.equal(t.completions().length, 3, 'nothing acknowledged (or dead-lettered) while paused');
      // The platform rotates the SAS: a new one in the same file.
      await writeFile(secret, await containerSasUrl('expiring', 'cw', 3_600_000));
      await waitFor(() => t.completions().length === 10, 20_000, 'every item after the rotation');
      const s = statusOf(t);
      assert.equal(s.sink.state, 'ready');
      assert.deepEqual([s.totals.quarantined, s.totals.deadLettered], [0, 0]);
      assert.ok(t.completions().every((c) => c.outcome === 'uploaded'));
      const alerts = t.edge.sentTo('alerts').map((m) => m.json as AlertMessage);
      assert.equal(alerts.length, 1, JSON.stringify(alerts.map((a) => a.message)));
      assert.deepEqual([alerts[0]?.code, alerts[0]?.severity], ['SINK_PERMISSION_DENIED', 'critical']);
      assert.ok(!JSON.stringify(t.edge.reported).includes('sig='), 'no SAS in reported properties');
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });

  it('a read-only SAS: a clear reason, uploads paused (never quarantined, never retried in a loop); readiness says why', async () => {
    const paths = await makeDataRoot();
    const t = await startApp(paths, { EDGEML_STORAGE_CONTAINER_SAS_URL: await containerSasUrl('readonly', 'rl', 3_600_000) }, { ...FAST, maxAttempts: 5 });
    try {
      await waitFor(() => statusOf(t).sink.state === 'paused', 10_000, 'the access check to fail');
      assert.match(t.app.ready().reasons.join(' '), /uploads need write \(w\)/);
      const alerts = t.edge.sentTo('alerts').map((m) => m.json as AlertMessage);
      assert.ok(alerts.some((a) => a.severity === 'critical' && a.code === 'SINK_PERMISSION_DENIED'));
      const s = await stageArtifact(paths, { sizeBytes: 2048 });
      await t.edge.deliver('artifacts', s.message);
      await new Promise((r) => setTimeout(r, 3_000));
      assert.equal(t.completions().length, 0, 'held in the queue, not dead-lettered');
      assert.deepEqual(await failuresOf(t), {}, 'the SAS is judged before any upload: no request is refused');
      const status = statusOf(t) as StatusView & { usage: { artifacts: { items: number; quarantined: number } } };
      assert.deepEqual([status.usage.artifacts.items, status.usage.artifacts.quarantined], [1, 0]);
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });

  it('a create-only SAS (sp=cw) acknowledges replays of uploaded items, small and in blocks, without reading, re-sending or a 403', async () => {
    const paths = await makeDataRoot();
    const desired = { ...FAST, containerName: 'createonly', singleUploadMaxBytes: 64 * 1024, blockSizeBytes: 64 * 1024 };
    const small = await stageArtifact(paths, { sizeBytes: 4096, seed: 'co-small' });
    const large = await stageArtifact(paths, { sizeBytes: 5 * 64 * 1024 + 7, seed: 'co-large' });
    // First life: uploaded with the account key (rights to read).
    const first = await startApp(paths, { EDGEML_STORAGE_CONNECTION_STRING: azurite.connectionString }, { ...desired, deleteAfterUpload: false });
    try {
      for (const s of [small, large]) await first.edge.deliver('artifacts', s.message);
      await waitFor(() => first.completions().length === 2, 20_000, 'the first uploads');
    } finally {
      await first.stop();
    }
    // Second life: the queue and its ledger are gone (a replaced device, a wiped volume), the
    // credentials may only create and write. The watcher replays both items.
    await rm(path.join(paths.root, 'state'), { recursive: true, force: true });
    const t = await startApp(paths, { EDGEML_STORAGE_CONTAINER_SAS_URL: await containerSasUrl('createonly', 'cw', 3_600_000) }, desired);
    try {
      await waitFor(() => statusOf(t).sink.state === 'ready', 10_000, 'the cw SAS to pass the check');
      for (const s of [small, large]) await t.edge.deliver('artifacts', s.message);
      await waitFor(() => t.completions().length === 2, 20_000, 'both replays acknowledged');
      for (const [s, c] of [small, large].map((x) => [x, t.completions().find((m) => m.id === x.message.id)] as const)) {
        assert.equal(c?.outcome, 'uploaded', c?.reason);
        assert.equal(c?.blob?.md5, md5b64(s.content));
      }
      await new Promise((r) => setTimeout(r, 1_500));
      const status = statusOf(t);
      // The small replay costs its one Put Blob (answered 409); the block replay's commit-first probe sends no block.
      assert.deepEqual([status.totals.presentUnverified, status.totals.bytes, status.totals.quarantined], [2, 0, 0]);
      assert.deepEqual(await failuresOf(t), {}, 'no 403, no retry');
      assert.equal(status.sink.state, 'ready');
      assert.equal(t.edge.sentTo('alerts').length, 0);
      assert.equal(t.completions().length, 2, 'acknowledged once each, no loop');
      const blob = await storage.BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('createonly').getBlobClient((t.completions()[1] as CompletionMessage).blob?.name ?? '').downloadToBuffer();
      assert.ok(blob.equals(small.content) || blob.equals(large.content), 'the first upload is intact');
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });
});
