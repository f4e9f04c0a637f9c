import assert from 'node:assert/strict';
import {
  assertValidMessage,
  configHash,
  deterministicMessageId,
  EdgeMLError,
  MAX_MESSAGE_BYTES,
  MODULE_ENDPOINTS,
  parseMessage,
  parseShareFileEvent,
  preprocessingSignature,
  SCHEMAS,
  type FileMessage,
  type PreprocessingSpec,
} from '@edgeml/shared';

const id = 'a'.repeat(64);
const file: FileMessage = {
  schema: SCHEMAS.file,
  id,
  messageId: deterministicMessageId(id, 'file'),
  attempt: 1,
  source: { path: 'inbox/a.jpg', sha256: id, sizeBytes: 10, detectedAt: '2026-11-24T00:00:00.000Z', name: 'a.jpg', extension: '.jpg', kind: 'image', mtimeMs: 1 },
  detectedAt: '2026-11-24T00:00:00.000Z',
  stableAt: '2026-11-24T00:00:01.000Z',
  createdAt: '2026-11-24T00:00:01.000Z',
};

function code(err: unknown): string {
  assert.ok(err instanceof EdgeMLError);
  return err.code;
}

describe('shared/contracts', () => {
  it('parses a valid message and rejects wrong schema, invalid JSON, oversize and bad fields with every problem', () => {
    assert.deepEqual(parseMessage(JSON.stringify(file), SCHEMAS.file), file);
    assert.throws(() => parseMessage('{"schema":"edgeml.tensor/v1"}', SCHEMAS.file), (e) => code(e) === 'MESSAGE_INVALID');
    assert.throws(() => parseMessage('{not json', SCHEMAS.file), (e) => code(e) === 'MESSAGE_INVALID');
    assert.throws(() => parseMessage(Buffer.alloc(MAX_MESSAGE_BYTES + 1, 32), SCHEMAS.file), (e) => code(e) === 'MESSAGE_TOO_LARGE');
    try {
      parseMessage(JSON.stringify({ ...file, id: 'nothex', attempt: 0, source: { ...file.source, kind: 'video' } }), SCHEMAS.file);
      assert.fail('should throw');
    } catch (err: unknown) {
      assert.ok(err instanceof EdgeMLError);
      const problems = err.details?.['problems'] as string[];
      assert.equal(problems.length, 3, problems.join('\n'));
    }
    assert.throws(() => parseMessage('null', SCHEMAS.file), (e) => code(e) === 'MESSAGE_INVALID');
  });

  it('validates outgoing messages (producer bugs surface in tests)', () => {
    assertValidMessage(file);
    assert.throws(() => assertValidMessage({ ...file, attempt: -1 } as { schema: string }), /attempt/);
    assert.throws(() => assertValidMessage({ schema: 'nope' }), /unknown schema/);
  });

  it('parses Azure Stack Edge FileEvents and refuses malformed ones', () => {
    const ev = parseShareFileEvent(JSON.stringify({ ChangeType: 'Created', ShareRelativeFilePath: 'inbox/x.png', ShareName: 'share' }));
    assert.equal(ev.ShareRelativeFilePath, 'inbox/x.png');
    assert.throws(() => parseShareFileEvent('{"ChangeType":"Created"}'), /ShareRelativeFilePath/);
  });

  it('derives stable ids and signatures from canonical JSON', () => {
    assert.equal(configHash({ b: 1, a: [1, { y: 2, x: 1 }] }), configHash({ a: [1, { x: 1, y: 2 }], b: 1 }));
    assert.notEqual(configHash({ a: 1 }), configHash({ a: 2 }));
    const spec: PreprocessingSpec = { width: 192, height: 48, resize: 'padRight', colorOrder: 'BGR', layout: 'NCHW', dtype: 'float32', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], background: [127.5, 127.5, 127.5] };
    assert.match(preprocessingSignature(spec), /^pp1-[0-9a-f]{16}$/);
    assert.equal(deterministicMessageId(id, 'result', 'cls', '3'), deterministicMessageId(id, 'result', 'cls', '3'));
    assert.notEqual(deterministicMessageId(id, 'result', 'cls', '3'), deterministicMessageId(id, 'result', 'cls', '4'));
  });

  it('declares the inputs and outputs the flow needs', () => {
    assert.equal(MODULE_ENDPOINTS.watcher.outputs.files, 'files');
    assert.equal(MODULE_ENDPOINTS.transformer.inputs.files, 'files');
    assert.equal(MODULE_ENDPOINTS.uploader.outputs.completed, 'completed');
    assert.equal(MODULE_ENDPOINTS.watcher.inputs.completed, 'completed');
    for (const m of Object.values(MODULE_ENDPOINTS)) assert.equal(m.outputs.alerts, 'alerts');
  });
});
