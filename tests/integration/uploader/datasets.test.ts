import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { parseMessage, SCHEMAS, type DataPaths, type HardExampleMessage, type InferenceResultMessage } from '@edgeml/shared';
import { automlLineProblems } from '../../helpers/automl.js';
import { assertValidMLTable } from '../../helpers/mltable.js';
import { startAzurite, type AzuriteInstance } from '../../helpers/azurite.js';
import { makeDataRoot, resultMessage, stageArtifact, startApp, storage, waitFor, type TestApp } from './fixtures.js';

const IMAGE_META = { width: 320, height: 240, sourceWidth: 640, sourceHeight: 480 };

/** The image artifact of a result's source (same id), staged and delivered. Returns its blob name. */
async function deliverImage(paths: DataPaths, t: TestApp, result: InferenceResultMessage): Promise<string> {
  const staged = await stageArtifact(paths, { seed: result.id, detectedAt: result.source.detectedAt });
  await t.edge.deliver('artifacts', { ...staged.message, id: result.id, artifact: { ...staged.message.artifact, metadata: IMAGE_META } });
  return `image/dev-1/2026/11/24/${result.id}/artifact.png`;
}

function detection(n: number, scores: readonly number[]): InferenceResultMessage {
  const r = resultMessage(n);
  const boxes = scores.map((score, i) => ({ points: [], bbox: { x: 64 * i, y: 48, width: 64, height: 96 }, score }));
  return { ...r, part: 'result:det', expectedParts: ['artifact', 'result:det'], outputs: { boxes, boxCount: boxes.length, coordinates: 'source', mapSize: { width: 32, height: 32 } } };
}

const disagreeing = (n: number): InferenceResultMessage => ({
  ...resultMessage(n),
  comparison: { mode: 'shadow', model: { name: 'cls', version: '2.0.0', sha256: 'b'.repeat(64) }, agrees: false, label: 'x', score: 0.8 },
});

const lowConfidence = (n: number): InferenceResultMessage => ({ ...resultMessage(n), outputs: { label: 'maybe', score: 0.2, top: [{ label: 'maybe', score: 0.2 }] } });

async function jsonLines(connectionString: string, container: string, prefix: string): Promise<{ name: string; lines: Record<string, unknown>[] }[]> {
  const c = storage.BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container);
  const out = [];
  for await (const b of c.listBlobsFlat({ prefix })) {
    // The folder's MLTable (YAML) is checked on its own below.
    if (b.name.endsWith('/MLTable')) continue;
    const text = (await c.getBlobClient(b.name).downloadToBuffer()).toString('utf8');
    out.push({ name: b.name, lines: text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) });
  }
  return out;
}

describe('uploader → Azurite: labelled image datasets and hard examples', function () {
  this.timeout(90_000);
  let azurite: AzuriteInstance;
  before(async () => {
    azurite = await startAzurite();
  });
  after(async () => {
    await azurite?.stop();
  });

  const fast = { results: { batchWindowMs: 600_000, batchIdleMs: 500 } };

  it('writes AutoML image lines (class, or boxes as fractions) whose image_url names the uploaded image', async () => {
    const paths = await makeDataRoot();
    const t = await startApp(paths, { EDGEML_STORAGE_CONNECTION_STRING: azurite.connectionString }, { containerName: 'labelled', ...fast });
    try {
      const cls = resultMessage(1);
      const det = detection(2, [0.9, 0.8]);
      const orphan = resultMessage(3); // no image artifact: left out of the dataset, still uploaded as a result
      const blobs = [await deliverImage(paths, t, cls), await deliverImage(paths, t, det)];
      for (const r of [cls, det, orphan]) await t.edge.deliver('results', r);
      await waitFor(() => t.completions().filter((c) => c.outcome === 'uploaded').length === 5, 30_000, 'two images and three result lines');

      const files = await jsonLines(azurite.connectionString, 'labelled', 'datasets/images/');
      assert.equal(files.length, 1);
      assert.match(files[0]?.name ?? '', /^datasets\/images\/dev-1\/2026\/11\/24\/20261124T100000Z-[0-9a-f]{16}\.jsonl$/);
      const lines = files[0]?.lines ?? [];
      assert.equal(lines.length, 2);
      for (const l of lines) assert.deepEqual(automlLineProblems(l), [], JSON.stringify(l));
      const container = storage.BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('labelled');
      // Its MLTable: JSON lines below the device/date partitions, image_url a stream (valid against the documented keys).
      await waitFor(() => container.getBlobClient('datasets/images/MLTable').exists(), 10_000, 'the dataset MLTable');
      const mltable = assertValidMLTable((await container.getBlobClient('datasets/images/MLTable').downloadToBuffer()).toString('utf8'));
      assert.deepEqual(mltable['paths'], [{ pattern: './*/*/*/*/*-*.jsonl' }]);
      assert.match(files[0]!.name.slice('datasets/images/'.length), /^[^/]*\/[^/]*\/[^/]*\/[^/]*\/[^/]*-[^/]*\.jsonl$/, 'the pattern matches the dataset blob');
      assert.deepEqual((mltable['transformations'] as unknown[]).slice(1), [
        { extract_columns_from_partition_format: { partition_format: '/{deviceId}/{date:yyyy/MM/dd}/{windowStart}-{batchId}.jsonl' } },
        { convert_column_types: [{ columns: ['image_url'], column_type: 'stream_info' }] },
      ]);
      const byId = new Map(lines.map((l) => [l['source_id'], l]));
      const clsLine = byId.get(cls.id);
      assert.equal(clsLine?.['image_url'], `${container.url}/${blobs[0]}`);
      assert.deepEqual([clsLine?.['label'], clsLine?.['score']], ['180', 0.9]);
      assert.deepEqual(clsLine?.['image_details'], { format: 'png', width: 320, height: 240 });
      // The URL reads back the very image uploaded (https form, against Azurite).
      const image = await container.getBlobClient(blobs[0] ?? '').downloadToBuffer();
      assert.ok(image.length > 0);
      const detLine = byId.get(det.id);
      assert.deepEqual(detLine?.['label'], [
        { label: 'object', topX: 0, topY: 0.1, bottomX: 0.1, bottomY: 0.3, score: 0.9 },
        { label: 'object', topX: 0.1, topY: 0.1, bottomX: 0.2, bottomY: 0.3, score: 0.8 },
      ]);
      assert.deepEqual((t.app.status() as { datasets: Record<string, unknown> }).datasets['withoutImage'], 1);
      assert.equal(t.edge.sentTo('hardExamples').length, 0, 'confident, agreeing results are no hard examples');
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });

  it('a low-confidence and a disagreeing result go to the to-label dataset, each with its hard-example message', async () => {
    const paths = await makeDataRoot();
    const prefix = 'azureml://subscriptions/S/resourcegroups/R/workspaces/W/datastores/edgeblob/paths/';
    const t = await startApp(paths, { EDGEML_STORAGE_CONNECTION_STRING: azurite.connectionString }, { containerName: 'tolabel', ...fast, concurrency: 1, bandwidthBytesPerSecond: 8_000, datasets: { imageUrlPrefix: prefix, hardExamples: { minConfidence: 0.5 } } });
    try {
      const low = lowConfidence(10);
      const dis = disagreeing(11);
      const lowBox = detection(12, [0.95, 0.3]);
      const fine = resultMessage(13);
      // One upload at a time, images slowed down: the batch is sealed while most images still wait in the
      // artifacts class, which it would overtake (results go first) if it did not wait for them.
      for (const r of [fine, low, dis, lowBox]) await deliverImage(paths, t, r);
      for (const r of [low, dis, lowBox, fine]) await t.edge.deliver('results', r);
      await waitFor(() => t.edge.sentTo('hardExamples').length === 3, 30_000, 'three hard-example messages');

      const files = await jsonLines(azurite.connectionString, 'tolabel', 'datasets/to-label/');
      assert.equal(files.length, 1);
      const lines = files[0]?.lines ?? [];
      assert.deepEqual(lines.map((l) => l['source_id']).sort(), [low.id, dis.id, lowBox.id].sort());
      for (const l of lines) {
        assert.deepEqual(automlLineProblems(l), []);
        assert.ok(String(l['image_url']).startsWith(`${prefix}image/dev-1/2026/11/24/`));
      }
      const messages = t.edge.sentTo('hardExamples').map((m) => parseMessage(Buffer.from(JSON.stringify(m.json)), SCHEMAS.hardExample) as HardExampleMessage);
      const byId = new Map(messages.map((m) => [m.id, m]));
      assert.deepEqual(byId.get(low.id)?.reasons, ['lowConfidence']);
      assert.deepEqual([byId.get(low.id)?.label, byId.get(low.id)?.score], ['maybe', 0.2]);
      assert.deepEqual(byId.get(dis.id)?.reasons, ['disagreement']);
      assert.equal(byId.get(dis.id)?.comparison?.agrees, false);
      assert.deepEqual([byId.get(lowBox.id)?.reasons, byId.get(lowBox.id)?.score, byId.get(lowBox.id)?.profile], [['lowConfidence'], 0.3, 'det']);
      for (const m of messages) {
        assert.equal(m.dataset.blob, files[0]?.name);
        assert.equal(m.dataset.folder, 'datasets/to-label');
        assert.equal(m.image.url, `${prefix}${m.image.blob}`);
      }
      // Sent with the commit of its line's batch, after the line's own `uploaded` completion (one outbox, in order).
      const order = t.edge.sent.map((m) => m.json as { schema?: string; id?: string; outcome?: string; part?: string });
      // And after its image was committed (the batch waits for a hard example's queued image, served first).
      for (const r of [low, dis, lowBox]) {
        const uploadedAt = (part: string): number => order.findIndex((m) => m.schema === SCHEMAS.completion && m.id === r.id && m.part === part && m.outcome === 'uploaded');
        const hardAt = order.findIndex((m) => m.schema === SCHEMAS.hardExample && m.id === r.id);
        assert.ok(uploadedAt(r.part) >= 0 && hardAt > uploadedAt(r.part), `hard example of ${r.part} after its line's completion (${uploadedAt(r.part)} < ${hardAt})`);
        assert.ok(uploadedAt('artifact') >= 0 && hardAt > uploadedAt('artifact'), `hard example after its image's completion (${uploadedAt('artifact')} < ${hardAt})`);
      }
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });

  it('enforces the hourly quota over a rolling hour of the injected clock; over quota is counted, not sent', async () => {
    const paths = await makeDataRoot();
    let offsetMs = 0;
    const now = (): Date => new Date(Date.now() + offsetMs);
    const t = await startApp(paths, { EDGEML_STORAGE_CONNECTION_STRING: azurite.connectionString }, { containerName: 'quota', ...fast, datasets: { hardExamples: { maxPerHour: 2 } } }, now);
    const uploadedResults = (): number => t.completions().filter((c) => c.outcome === 'uploaded' && c.part === 'result:cls').length;
    try {
      const first = [20, 21, 22].map(lowConfidence);
      for (const r of first) await deliverImage(paths, t, r);
      for (const r of first) await t.edge.deliver('results', r);
      await waitFor(() => uploadedResults() === 3, 30_000, 'three result lines');
      await waitFor(() => t.edge.sentTo('hardExamples').length === 2, 10_000, 'two hard examples');
      const hard = (): Record<string, unknown> => (t.app.status() as { datasets: { hardExamples: Record<string, unknown> } }).datasets.hardExamples;
      assert.deepEqual([hard()['flagged'], hard()['overQuota'], hard()['sent'], hard()['lastHour']], [3, 1, 2, 2]);

      offsetMs = 30 * 60_000; // still inside the hour: refused
      const inside = lowConfidence(23);
      await deliverImage(paths, t, inside);
      await t.edge.deliver('results', inside);
      await waitFor(() => uploadedResults() === 4, 30_000, 'the fourth line');
      assert.equal(hard()['overQuota'], 2);

      offsetMs = 61 * 60_000; // the first two left the rolling hour
      const after = lowConfidence(24);
      await deliverImage(paths, t, after);
      await t.edge.deliver('results', after);
      await waitFor(() => t.edge.sentTo('hardExamples').length === 3, 30_000, 'a hard example in the next hour');
      assert.deepEqual([hard()['overQuota'], hard()['sent'], hard()['lastHour']], [2, 3, 1]);
      const lines = (await jsonLines(azurite.connectionString, 'quota', 'datasets/to-label/')).flatMap((f) => f.lines);
      assert.equal(lines.length, 3, 'the to-label dataset holds only what was sent');
      // Every result line still reached the image dataset: the quota limits hard examples, not data.
      const all = (await jsonLines(azurite.connectionString, 'quota', 'datasets/images/')).flatMap((f) => f.lines);
      assert.equal(all.length, 5);
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });

  it('a malformed result is still dead-lettered with a clear error, datasets on', async () => {
    const paths = await makeDataRoot();
    const t = await startApp(paths, { EDGEML_STORAGE_CONNECTION_STRING: azurite.connectionString }, { containerName: 'bad', ...fast });
    try {
      await t.edge.deliver('results', { ...lowConfidence(30), comparison: { agrees: 'no' } });
      await waitFor(() => t.completions().length === 1, 10_000, 'the dead letter');
      const c = t.completions()[0];
      assert.deepEqual([c?.outcome, c?.code, c?.part], ['deadLettered', 'MESSAGE_INVALID', 'result:cls']);
      assert.match(c?.reason ?? '', /comparison/);
      assert.equal(t.edge.sentTo('hardExamples').length, 0);
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });
});
