import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { SCHEMAS, type CompletionMessage } from '@edgeml/shared';
import { startAzurite, type AzuriteInstance } from '../../helpers/azurite.js';
import { makeDataRoot, md5b64, resultMessage, stageArtifact, startApp, storage, waitFor } from './fixtures.js';

describe('uploader → Azurite (blob sink)', function () {
  this.timeout(60_000);
  let azurite: AzuriteInstance;
  before(async () => {
    azurite = await startAzurite();
  });
  after(async () => {
    await azurite?.stop();
  });

  it('uploads artifacts with content, MD5 and metadata that read back, and acknowledges each part', async () => {
    const paths = await makeDataRoot();
    const t = await startApp(paths, { EDGEML_STORAGE_CONNECTION_STRING: azurite.connectionString }, { containerName: 'readback' });
    try {
      const staged = await Promise.all([1, 2, 3].map((i) => stageArtifact(paths, { sizeBytes: 1000 * i })));
      for (const s of staged) await t.edge.deliver('artifacts', s.message);
      await waitFor(() => t.completions().length === 3, 20_000, 'three completions');
      const container = storage.BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('readback');
      for (const s of staged) {
        const c = t.completions().find((m) => m.id === s.message.id) as CompletionMessage;
        assert.equal(c.outcome, 'uploaded');
        assert.equal(c.schema, SCHEMAS.completion);
        assert.equal(c.part, 'artifact');
        assert.equal(c.blob?.md5, md5b64(s.content));
        assert.match(c.blob?.name ?? '', new RegExp(`^image/dev-1/2026/11/24/${s.message.id}/artifact\\.png$`));
        const blob = container.getBlobClient(c.blob?.name ?? '');
        const body = await blob.downloadToBuffer();
        assert.deepEqual(body, s.content);
        const props = await blob.getProperties();
        assert.equal(Buffer.from(props.contentMD5 ?? []).toString('base64'), md5b64(s.content));
        assert.equal(props.metadata?.['sourcesha256'], s.message.source.sha256);
        assert.equal(props.metadata?.['deviceid'], 'dev-1');
        assert.equal(props.metadata?.['contentsha256'], s.message.artifact.sha256);
      }
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });

  it('batches results into a JSON-lines blob with a deterministic name', async () => {
    const paths = await makeDataRoot();
    const t = await startApp(paths, { EDGEML_STORAGE_CONNECTION_STRING: azurite.connectionString }, { containerName: 'results', results: { batchMaxItems: 5, batchWindowMs: 600_000, batchIdleMs: 0 } });
    try {
      for (let i = 0; i < 5; i++) await t.edge.deliver('results', resultMessage(i));
      // Each line is announced `held` when queued, then `uploaded` when its batch is committed.
      const uploaded = (): CompletionMessage[] => t.completions().filter((c) => c.outcome === 'uploaded');
      await waitFor(() => uploaded().length === 5, 20_000, 'five completions');
      assert.equal(t.held().length, 5);
      const names = new Set(uploaded().map((c) => c.blob?.name));
      assert.equal(names.size, 1);
      const name = [...names][0] ?? '';
      assert.match(name, /^results\/dev-1\/2026\/11\/24\/10\/20261124T100000Z-[0-9a-f]{16}\.jsonl$/);
      const container = storage.BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('results');
      const text = (await container.getBlobClient(name).downloadToBuffer()).toString('utf8');
      const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { messageId: string });
      assert.equal(lines.length, 5);
      assert.deepEqual(lines.map((l) => l.messageId), [...lines.map((l) => l.messageId)].sort());
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });
});
