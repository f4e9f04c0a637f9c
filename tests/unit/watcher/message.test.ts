import assert from 'node:assert/strict';
import { assertValidMessage, SCHEMAS } from '@edgeml/shared';
import { buildFileMessage } from '@edgeml/watcher';

const item = { id: 'ab'.repeat(32), path: 'cam1/photo.JPG', sizeBytes: 1234, mtimeMs: 1_700_000_000_000.5, attempts: 1, detectedAt: 1_700_000_001_000, stableAt: 1_700_000_003_000 };

describe('watcher/message', () => {
  it('builds a valid edgeml.file/v1 with routing properties as strings', () => {
    const { body, properties } = buildFileMessage(item, 1_700_000_004_000);
    assertValidMessage(body);
    assert.equal(body.schema, SCHEMAS.file);
    assert.equal(body.source.path, 'inbox/cam1/photo.JPG');
    assert.equal(body.source.extension, '.jpg');
    assert.equal(body.source.kind, 'image');
    assert.equal(body.source.sha256, item.id);
    assert.deepEqual(properties, { schema: SCHEMAS.file, kind: 'image', extension: '.jpg', sizeBytes: '1234' });
  });

  it('re-emissions keep messageId and detectedAt; attempt counts up', () => {
    const a = buildFileMessage(item, 1_700_000_004_000).body;
    const b = buildFileMessage({ ...item, attempts: 2 }, 1_700_000_900_000).body;
    assert.equal(a.messageId, b.messageId);
    assert.equal(a.source.detectedAt, b.source.detectedAt);
    assert.equal(a.detectedAt, '2023-11-14T22:13:21.000Z');
    assert.equal(b.attempt, 2);
    assert.notEqual(a.createdAt, b.createdAt);
  });

  it('names the parts already uploaded (sorted) on a re-emission, and nothing when there are none', () => {
    assert.equal('doneParts' in buildFileMessage({ ...item, doneParts: [] }, 1).body, false);
    const { body } = buildFileMessage({ ...item, attempts: 2, doneParts: ['result:cls', 'artifact'] }, 1);
    assertValidMessage(body);
    assert.deepEqual(body.doneParts, ['artifact', 'result:cls']);
  });
});
