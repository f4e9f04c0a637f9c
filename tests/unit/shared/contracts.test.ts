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
  type HardExampleMessage,
  type InferenceResultMessage,
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

  describe('a candidate model beside the result (comparison) and the hard-example message', () => {
    const model = { name: 'cls', version: '3', sha256: 'b'.repeat(64) };
    const result: InferenceResultMessage = {
      schema: SCHEMAS.result,
      id,
      messageId: deterministicMessageId(id, 'cls', 'cls', '3'),
      source: file.source,
      part: 'result:cls',
      expectedParts: ['artifact', 'result:cls'],
      model,
      runtime: { provider: 'cpu', batchSize: 1, queueMs: 0, inferMs: 1 },
      outputs: { label: '0', score: 0.97, top: [{ label: '0', score: 0.97 }] },
      createdAt: '2026-11-24T00:00:02.000Z',
    };

    it('a v1 result may name a candidate and its verdict; a verdict without its model or a bad mode is refused', () => {
      const compared = { ...result, comparison: { mode: 'shadow', model: { ...model, version: '4' }, agrees: false, label: '180', score: 0.8 } };
      assert.deepEqual(parseMessage(JSON.stringify(compared), SCHEMAS.result), compared);
      assert.deepEqual(parseMessage(JSON.stringify(result), SCHEMAS.result), result, 'comparison is optional');
      assert.throws(() => parseMessage(JSON.stringify({ ...result, comparison: { mode: 'shadow', agrees: false } }), SCHEMAS.result), /comparison: must have required property 'model'/);
      assert.throws(() => parseMessage(JSON.stringify({ ...result, comparison: { mode: 'ab', model, agrees: 'no' } }), SCHEMAS.result), (e) => {
        const problems = (e as EdgeMLError).details?.['problems'] as string[];
        return problems.some((p) => p.startsWith('/comparison/mode')) && problems.some((p) => p.startsWith('/comparison/agrees'));
      });
    });

    it('validates edgeml.hard-example/v1 and names every missing field', () => {
      const hard: HardExampleMessage = {
        schema: SCHEMAS.hardExample,
        id,
        messageId: deterministicMessageId('hard-example', result.messageId),
        source: file.source,
        part: 'result:cls',
        profile: 'cls',
        reasons: ['lowConfidence', 'disagreement'],
        model,
        label: '0',
        score: 0.51,
        image: { blob: 'image/default/dev/2026/11/24/x/artifact.png', url: 'azureml://subscriptions/s/resourcegroups/r/workspaces/w/datastores/d/paths/image/default/dev/2026/11/24/x/artifact.png' },
        dataset: { folder: 'to-label/cls', blob: 'to-label/cls/dev/2026/11/24/00/20261124T000000Z-0123456789abcdef.jsonl' },
        createdAt: '2026-11-24T00:00:03.000Z',
      };
      assertValidMessage(hard);
      assert.deepEqual(parseMessage(JSON.stringify(hard), SCHEMAS.hardExample), hard);
      assert.throws(() => assertValidMessage({ ...hard, reasons: [] } as { schema: string }), /reasons/);
      assert.throws(() => assertValidMessage({ ...hard, reasons: ['tired'] } as unknown as { schema: string }), /reasons/);
      const { image: _image, dataset: _dataset, ...partial } = hard;
      assert.throws(() => assertValidMessage(partial as { schema: string }), (e) => /image/.test(String(e)) && /dataset/.test(String(e)));
    });
  });
});
