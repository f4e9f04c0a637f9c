import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { ERROR_CODES, createLogger, createTwinConfigBinder, preprocessingSignature, selfCheck, type TensorMessage } from '@edgeml/shared';
import {
  CLS_PROFILE_SPEC,
  DEFAULT_PROFILES,
  INFERENCER_CONFIG_SCHEMA,
  INFERENCER_DEFAULTS,
  bundledModels,
  decodeNpy,
  encodeNpy,
  inferencerModule,
  signatureMismatch,
  tensorMismatch,
  validateManifest,
  type InferencerConfig,
  type ModelManifest,
} from '@edgeml/inferencer';

const logger = createLogger({ name: 'test', level: 'silent' });
const binder = () =>
  createTwinConfigBinder<InferencerConfig>({
    schema: INFERENCER_CONFIG_SCHEMA,
    build: inferencerModule.buildConfig!,
    apply: () => Promise.resolve(),
    report: () => Promise.resolve(),
    logger,
  });

describe('inferencer config, manifests and tensor files', () => {
  it('an empty twin yields the documented defaults; the self-check passes', () => {
    const r = binder().validate({});
    assert.ok('config' in r);
    for (const [k, v] of Object.entries(INFERENCER_DEFAULTS)) assert.equal((r.config as unknown as Record<string, unknown>)[k], v, k);
    assert.deepEqual(Object.keys(r.config.models), ['cls', 'det', 'rec', 'anomaly']);
    assert.deepEqual(selfCheck(inferencerModule, logger), []);
    assert.ok(Object.isFrozen(r.config));
  });

  it('rejects hostile documents with every problem listed', () => {
    const r = binder().validate({ maxBatchSize: 1e6, executionProvider: 'gpu', extra: 1, models: { cls: { name: 'a/b', version: '' } } });
    assert.ok('problems' in r);
    assert.ok(r.problems.length >= 4, JSON.stringify(r.problems));
    const cross = binder().validate({ maxQueueBytes: 1024 * 1024 * 2, maxTensorBytes: 1024 * 1024 * 4, models: { cls: { name: 'm', version: '1', uri: 'https://x.example/m.onnx' } } });
    assert.ok('problems' in cross);
    assert.equal(cross.problems.length, 2, JSON.stringify(cross.problems));
  });

  it('bundled manifests are valid and expect the documented profile signatures', () => {
    assert.equal(DEFAULT_PROFILES.cls.signature, preprocessingSignature({
      width: 192, height: 48, resize: 'padRight', colorOrder: 'BGR', layout: 'NCHW', dtype: 'float32',
      scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], background: [127.5, 127.5, 127.5],
    }));
    assert.equal(DEFAULT_PROFILES.det.signature, preprocessingSignature({
      width: 640, height: 640, resize: 'contain', colorOrder: 'BGR', layout: 'NCHW', dtype: 'float32',
      scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], background: [0, 0, 0],
    }));
    for (const b of bundledModels()) assert.ok('manifest' in validateManifest(b.manifest), b.manifest.name);
    const bad = validateManifest({ schema: 'x', name: '../x', inputs: [], preprocessing: {}, postprocessor: { kind: 'magic' } });
    assert.ok('problems' in bad && bad.problems.length >= 5);
  });

  it('tensorMismatch and signatureMismatch say why', () => {
    const manifest = bundledModels()[0]!.manifest as ModelManifest;
    const msg = {
      preprocessing: { profile: 'cls', signature: DEFAULT_PROFILES.cls.signature, spec: CLS_PROFILE_SPEC },
      tensor: { path: 'x', sha256: 'a'.repeat(64), dtype: 'float32', shape: [1, 3, 48, 192], layout: 'NCHW' },
    } as Pick<TensorMessage, 'preprocessing' | 'tensor'>;
    assert.equal(tensorMismatch(msg, manifest), undefined);
    assert.equal(tensorMismatch({ ...msg, tensor: { ...msg.tensor, shape: [3, 48, 192] } }, manifest), undefined);
    assert.match(tensorMismatch({ ...msg, tensor: { ...msg.tensor, dtype: 'uint8' } }, manifest)!, /dtype uint8/);
    assert.match(tensorMismatch({ ...msg, tensor: { ...msg.tensor, shape: [1, 3, 48, 100] } }, manifest)!, /dimension 3/);
    assert.match(tensorMismatch({ ...msg, preprocessing: { ...msg.preprocessing, signature: 'pp1-x' } }, manifest)!, /signature/);
    const session = { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 3, -1, -1] }], outputs: [{ name: 'softmax_0.tmp_0', dtype: 'float32', shape: [-1, 2] }] };
    assert.equal(signatureMismatch(session, manifest), undefined);
    assert.match(signatureMismatch({ ...session, inputs: [{ name: 'input', dtype: 'float32', shape: [-1, 3, -1, -1] }] }, manifest)!, /input input/);
    assert.match(signatureMismatch({ ...session, outputs: [{ name: 'softmax_0.tmp_0', dtype: 'float32', shape: [-1, 1, -1, -1] }] }, manifest)!, /output/);
  });

  it('.npy round-trips and every malformation is INPUT_MALFORMED', () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i / 3);
    const bytes = encodeNpy({ dtype: 'float32', shape: [2, 3, 4], data });
    assert.equal((bytes.length - bytes.readUInt16LE(8) - 10) % 4, 0);
    assert.equal((10 + bytes.readUInt16LE(8)) % 64, 0, 'header padded to 64 bytes');
    const back = decodeNpy(bytes);
    assert.deepEqual(back.shape, [2, 3, 4]);
    assert.deepEqual([...back.data], [...data]);
    const u8 = decodeNpy(encodeNpy({ dtype: 'uint8', shape: [3], data: Uint8Array.from([1, 2, 3]) }));
    assert.deepEqual([...u8.data], [1, 2, 3]);
    const malformed = [
      Buffer.from('hello world, not numpy'),
      bytes.subarray(0, bytes.length - 4),
      Buffer.concat([bytes, Buffer.alloc(4)]),
      Buffer.from(bytes.toString('latin1').replace('<f4', '>f4'), 'latin1'),
      Buffer.from(bytes.toString('latin1').replace("'fortran_order': False", "'fortran_order': True "), 'latin1'),
      bytes.subarray(0, 20),
    ];
    for (const m of malformed) assert.throws(() => decodeNpy(m), (e: { code?: string }) => e.code === 'INPUT_MALFORMED');
  });

  it('the README lists the error codes the module raises, each one a shared code', async () => {
    const readme = await readFile(new URL('../../../modules/inferencer/README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Error codes'));
    const listed = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!);
    assert.ok(listed.length > 5);
    for (const code of listed) assert.ok(code in ERROR_CODES, code);
    const src = new URL('../../../modules/inferencer/src/', import.meta.url);
    const files = (await readdir(src, { recursive: true })).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length > 10);
    const sources = await Promise.all(files.map((f) => readFile(new URL(f, src), 'utf8')));
    const used = new Set([...sources.join('\n').matchAll(/EdgeMLError\('([A-Z_]+)'/g)].map((m) => m[1]!));
    for (const code of used) assert.ok(listed.includes(code), `README lists ${code}`);
  });
});
