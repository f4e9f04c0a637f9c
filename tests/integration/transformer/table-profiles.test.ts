/**
 * Table profiles through the real transformer app (real files, DuckDB for the artifact): the sample
 * telemetry yields its Parquet artifact and one feature-matrix tensor per window of 64 rows, every
 * message naming every window's part; a table without the profile's columns yields only its artifact;
 * a re-emission skips the windows already uploaded; bad profiles are refused with every problem.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { TELEMETRY_ANOMALY_SPEC, assertValidMessage, decodeNpy, preprocessingSignature, sha256, type ArtifactMessage, type TensorMessage } from '@edgeml/shared';
import { telemetryCsv } from '@edgeml/runtime';
import { configFrom, dropFile, makeDataRoot, startApp } from './harness.js';

const WINDOWS = Array.from({ length: 8 }, (_, i) => `result:anomaly.w${i}`);

describe('transformer table profiles (feature-matrix tensors)', function () {
  this.timeout(60_000);
  let root: Awaited<ReturnType<typeof makeDataRoot>>;
  beforeEach(async () => {
    root = await makeDataRoot();
  });
  afterEach(async () => {
    await root.cleanup();
  });

  it('the sample telemetry: its artifact and 8 window tensors, every one naming all 9 parts', async () => {
    const h = await startApp(root.paths);
    const msg = await dropFile(root.paths, 'telemetry.csv', telemetryCsv(500));
    await h.edge.deliver('files', msg);
    const [artifact] = h.edge.sentTo('artifacts');
    assert.ok(artifact, JSON.stringify(h.edge.sent.map((s) => s.json)).slice(0, 500));
    assert.deepEqual((artifact.json as ArtifactMessage).expectedParts, ['artifact', ...WINDOWS]);
    const tensors = h.edge.sentTo('tensors').map((s) => ({ body: s.json as TensorMessage, properties: s.properties }));
    assert.deepEqual(tensors.map((t) => t.body.part), WINDOWS);
    let rows = 0;
    for (const [i, t] of tensors.entries()) {
      assertValidMessage(t.body);
      assert.deepEqual(t.body.expectedParts, ['artifact', ...WINDOWS]);
      assert.deepEqual(t.body.preprocessing.spec, TELEMETRY_ANOMALY_SPEC);
      assert.equal(t.body.preprocessing.signature, preprocessingSignature(TELEMETRY_ANOMALY_SPEC));
      assert.deepEqual(t.body.preprocessing.rows, { first: i * 64, count: i < 7 ? 64 : 52 });
      assert.deepEqual(t.body.tensor.shape, [1, i < 7 ? 64 : 52, 2]);
      assert.deepEqual([t.properties['kind'], t.properties['profile'], t.properties['layout']], ['table', 'anomaly', 'NC']);
      const bytes = await readFile(path.join(root.paths.root, t.body.tensor.path));
      assert.equal(sha256(bytes), t.body.tensor.sha256);
      assert.deepEqual(decodeNpy(bytes).shape, t.body.tensor.shape);
      rows += t.body.preprocessing.rows!.count;
    }
    assert.equal(rows, 500);
    assert.equal(new Set(tensors.map((t) => t.body.messageId)).size, 8);
    await h.stop();
  });

  it('a table without the profile\'s columns: only its artifact', async () => {
    const h = await startApp(root.paths);
    const msg = await dropFile(root.paths, 'sales.csv', 'region,amount\nnorth,10\nsouth,20\n');
    await h.edge.deliver('files', msg);
    assert.deepEqual((h.edge.sentTo('artifacts')[0]?.json as ArtifactMessage).expectedParts, ['artifact']);
    assert.equal(h.edge.sentTo('tensors').length, 0);
    await h.stop();
  });

  it('a re-emission with some windows uploaded sends only the others (the same parts expected)', async () => {
    const h = await startApp(root.paths);
    const msg = await dropFile(root.paths, 'telemetry.csv', telemetryCsv(500));
    await h.edge.deliver('files', { ...msg, doneParts: ['result:anomaly.w0', 'result:anomaly.w5'] });
    const tensors = h.edge.sentTo('tensors').map((s) => s.json as TensorMessage);
    assert.deepEqual(tensors.map((t) => t.part), WINDOWS.filter((p) => p !== 'result:anomaly.w0' && p !== 'result:anomaly.w5'));
    assert.deepEqual(tensors[0]?.expectedParts, ['artifact', ...WINDOWS]);
    await h.stop();
  });

  it('a profile\'s own windows, columns and scaling; bad profiles are refused with every problem', async () => {
    const h = await startApp(root.paths, { table: { profiles: { anomaly: { enabled: false }, temp: { columns: ['temperature_c'], mean: [0], std: [1], missing: 'zero', windowRows: 200 } } } });
    const msg = await dropFile(root.paths, 'telemetry.csv', telemetryCsv(500));
    await h.edge.deliver('files', msg);
    const tensors = h.edge.sentTo('tensors').map((s) => s.json as TensorMessage);
    assert.deepEqual(tensors.map((t) => [t.part, ...t.tensor.shape]), [['result:temp.w0', 1, 200, 1], ['result:temp.w1', 1, 200, 1], ['result:temp.w2', 1, 100, 1]]);
    const first = decodeNpy(await readFile(path.join(root.paths.root, tensors[0]!.tensor.path)));
    assert.ok(Math.abs((first.data[1] ?? 0) - (20 + 5 * Math.sin(0.1))) < 1e-2);
    await h.stop();
    assert.throws(
      () => configFrom({ table: { profiles: { x: { columns: ['a', 'b'], mean: [0], std: [1, 0] } } }, image: { profiles: {} } }),
      (err: unknown) => /\/table\/profiles\/x\/std\/1/.test(String(err)),
    );
    assert.throws(() => configFrom({ table: { profiles: { x: { columns: ['a', 'b'], mean: [0], std: [1, 2] } } } }), (err: unknown) => /mean: 1 values for 2 columns/.test(String(err)));
    assert.throws(() => configFrom({ table: { profiles: { cls: { columns: ['a'], mean: [0], std: [1] } } } }), (err: unknown) => /an image profile has the same name/.test(String(err)));
  });
});
