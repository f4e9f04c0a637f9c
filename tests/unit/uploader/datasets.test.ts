import assert from 'node:assert/strict';
import { deterministicMessageId, SCHEMAS, type InferenceResultMessage } from '@edgeml/shared';
import { automlLine, datasetBlobName, HardExampleQuota, hardExampleReasons, imageUrl, predictionOf, type ImageRef } from '@edgeml/uploader';
import { automlLineProblems } from '../../helpers/automl.js';
import { sha } from './fixtures.js';

function result(outputs: Record<string, unknown>, extra: Partial<InferenceResultMessage> = {}): InferenceResultMessage {
  const id = sha('src');
  return {
    schema: SCHEMAS.result,
    id,
    messageId: deterministicMessageId('r', id),
    source: { path: 'inbox/a.jpg', sha256: id, sizeBytes: 1, detectedAt: '2026-11-24T10:00:00.000Z' },
    part: 'result:cls',
    expectedParts: ['artifact', 'result:cls'],
    model: { name: 'cls', version: '1', sha256: sha('m') },
    runtime: { provider: 'cpu', batchSize: 1, queueMs: 0, inferMs: 1 },
    outputs,
    createdAt: '2026-11-24T10:00:01.000Z',
    ...extra,
  };
}

const image: ImageRef = { blob: 'dev/image/2026/11/24/x/artifact.jpeg', format: 'jpeg', width: 100, height: 50, sourceWidth: 200, sourceHeight: 100 };

describe('uploader dataset lines (AutoML image JSON lines)', () => {
  it('classification and detection lines conform to the AutoML line schema; boxes are fractions of the source', () => {
    const cls = result({ label: 'dent', score: 0.7 });
    const line = automlLine(cls, predictionOf(cls)!, image, imageUrl('https://a.blob.core.windows.net/c/', image.blob));
    assert.deepEqual(automlLineProblems(line), []);
    assert.deepEqual(line?.image_details, { format: 'jpg', width: 100, height: 50 });
    const det = result({ boxes: [{ bbox: { x: 20, y: 10, width: 40, height: 30 }, score: 0.4 }, { bbox: { x: 190, y: 90, width: 50, height: 50 }, score: 0.9 }], coordinates: 'source' });
    const dl = automlLine(det, predictionOf(det)!, image, 'azureml://subscriptions/s/resourcegroups/r/workspaces/w/datastores/d/paths/x.jpg');
    assert.deepEqual(automlLineProblems(dl), []);
    assert.deepEqual(dl?.label, [
      { label: 'object', topX: 0.1, topY: 0.1, bottomX: 0.3, bottomY: 0.4, score: 0.4 },
      { label: 'object', topX: 0.95, topY: 0.9, bottomX: 1, bottomY: 1, score: 0.9 },
    ]);
    // No size for the boxes' coordinate space: no line rather than a wrong one.
    assert.equal(automlLine(det, predictionOf(det)!, { blob: 'b', format: 'png' }, 'https://x/b'), undefined);
  });

  it('the schema refuses what AutoML would refuse', () => {
    assert.ok(automlLineProblems({ label: 'x' }).length > 0, 'no image_url');
    assert.ok(automlLineProblems({ image_url: 'relative/a.png', label: 'x' }).length > 0, 'not a URL');
    assert.ok(automlLineProblems({ image_url: 'https://a/b.png', label: [{ label: 'x', topX: 10, topY: 0, bottomX: 20, bottomY: 1 }] }).length > 0, 'pixels, not fractions');
    assert.ok(automlLineProblems({ image_url: 'https://a/b.png', image_details: { format: 'gif' }, label: 'x' }).length > 0, 'format');
  });

  it('names dataset blobs by folder, device and date; URL-encodes image names', () => {
    assert.equal(datasetBlobName('datasets/images', 'dev 1', new Date('2026-11-24T10:05:00Z'), 'abc'), 'datasets/images/dev-1/2026/11/24/20261124T100500Z-abc.jsonl');
    assert.equal(imageUrl('https://a/c/', 'd/x y.png'), 'https://a/c/d/x%20y.png');
  });

  it('hard-example reasons: low top score, low lowest box score, a disagreeing candidate; none for OCR-less tables', () => {
    assert.deepEqual(hardExampleReasons(result({ label: 'a', score: 0.3 }), 0.5), ['lowConfidence']);
    assert.deepEqual(hardExampleReasons(result({ label: 'a', score: 0.5 }), 0.5), []);
    assert.deepEqual(hardExampleReasons(result({ boxes: [{ bbox: { x: 0, y: 0, width: 1, height: 1 }, score: 0.9 }, { bbox: { x: 0, y: 0, width: 1, height: 1 }, score: 0.2 }] }), 0.5), ['lowConfidence']);
    const comparison = { mode: 'shadow' as const, model: { name: 'c', version: '2', sha256: sha('c') }, agrees: false };
    assert.deepEqual(hardExampleReasons(result({ label: 'a', score: 0.2 }, { comparison }), 0.5), ['lowConfidence', 'disagreement']);
    assert.deepEqual(hardExampleReasons(result({ rows: [1, 2] }), 0.5), []);
  });

  it('the quota counts a rolling hour', () => {
    let t = 0;
    const q = new HardExampleQuota(() => t);
    assert.equal(q.hasRoom(1), true);
    q.record(true);
    t = 3_599_999;
    assert.equal(q.hasRoom(1), false);
    q.record(false);
    t = 3_600_000;
    assert.equal(q.hasRoom(1), true);
    assert.deepEqual(q.snapshot(1), { maxPerHour: 1, lastHour: 0, flagged: 2, overQuota: 1, sent: 0, lastOverQuotaAt: new Date(3_599_999).toISOString() });
  });
});
