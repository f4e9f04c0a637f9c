/**
 * The training component on the sample telemetry, with the real parts: the sample CSV becomes Parquet
 * through the transformer's DuckDB conversion (what the uploader uploads), sits in a dataset folder with
 * an `MLTable`, the component reads it through that MLTable and writes model.onnx + manifest.json; the
 * model, run by the real ONNX Runtime on the transformer's own feature windows, scores every planted
 * anomaly above every normal row and flags exactly the planted rows.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TELEMETRY_ANOMALY_SPEC, createLogger, decodeNpy, isEdgeMLError, sha256, sha256File } from '@edgeml/shared';
import { isPlantedAnomaly, telemetryCsv } from '@edgeml/runtime';
import { createSessionPool, validateManifest, type ModelManifest, type SessionPool } from '@edgeml/inferencer';
import { convertCsvToParquet, createDuckDbEngine, writeFeatureMatrix, type FeatureWindow } from '@edgeml/transformer';
import { BlobServiceClient } from '@azure/storage-blob';
import { renderMLTable } from '@edgeml/uploader';
import { trainAnomalyModel } from '../../../training/src/train.js';
import { startAzurite } from '../../helpers/azurite.js';
import { globToRegExp } from '../../../training/src/data.js';
import { configFrom } from '../transformer/harness.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const CPU = { executionProvider: 'cpu', cudaDeviceId: 0, intraOpThreads: 0, interOpThreads: 0 } as const;
const ROWS = 500;

describe('training component: telemetry anomaly model (DuckDB, real ONNX Runtime)', function () {
  this.timeout(120_000);
  let dir: string;
  let pool: SessionPool | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-training-'));
  });
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  /** The sample as the uploader's dataset folder: Parquet under device/date partitions, with an MLTable. */
  const uploadedDataset = async (): Promise<string> => {
    const csv = path.join(dir, 'telemetry.csv');
    const text = telemetryCsv(ROWS);
    await writeFile(csv, text);
    const folder = path.join(dir, 'datasets', 'telemetry');
    const target = path.join(folder, 'device=edgeml-dev', 'date=2026-11-24', 'telemetry.parquet');
    await mkdir(path.dirname(target), { recursive: true });
    const engine = createDuckDbEngine(() => ({ memoryLimitBytes: 256 * 1024 * 1024, threads: 1 }));
    try {
      const r = await convertCsvToParquet({ sourcePath: csv, targetPath: target, expectedSha256: sha256(Buffer.from(text)), options: configFrom().table, engine });
      assert.equal(r.rows, ROWS);
    } finally {
      engine.close();
    }
    await writeFile(path.join(folder, 'MLTable'), 'type: mltable\npaths:\n  - pattern: ./**/*.parquet\ntransformations:\n  - read_parquet\n');
    return folder;
  };

  /** Scores of every sample row from the trained model, on the transformer's windows of the sample CSV. */
  const scoreSample = async (modelFile: string, manifest: ModelManifest): Promise<{ scores: number[]; flagged: number[] }> => {
    const csv = path.join(dir, 'telemetry.csv');
    const r = await writeFeatureMatrix({ file: csv, format: 'csv', spec: TELEMETRY_ANOMALY_SPEC, delimiter: 'auto', nullValues: configFrom().table.nullValues, maxRecordChars: 1 << 20, target: (i) => path.join(dir, `w${i}.npy`) });
    assert.ok('windows' in r);
    pool = createSessionPool({ size: 1, logger });
    const session = await pool.open(modelFile, CPU);
    const scores: number[] = [];
    const flagged: number[] = [];
    for (const w of r.windows as readonly FeatureWindow[]) {
      const t = decodeNpy(await readFile(path.join(dir, `w${w.index}.npy`)));
      const response = await session.runBatch({ inputName: manifest.inputs[0]!.name, input: { dtype: 'float32', data: t.data as Float32Array, dims: [...t.shape] }, postprocessor: manifest.postprocessor, labels: [], geometries: [undefined], firstRows: [w.firstRow] });
      const item = response.items[0] as { outputs: { scores: number[]; flagged: { row: number }[] } };
      scores.push(...item.outputs.scores);
      flagged.push(...item.outputs.flagged.map((f) => f.row));
    }
    return { scores, flagged: flagged.sort((a, b) => a - b) };
  };

  it('trained on the uploaded Parquet through its MLTable, the model scores the planted anomalies above every normal row', async () => {
    const folder = await uploadedDataset();
    const out = path.join(dir, 'model');
    const r = await trainAnomalyModel({ data: folder, outDir: out, version: '2', dataset: { uri: 'azureml:edgeml-telemetry:1' }, now: () => new Date('2026-12-04T00:00:00Z') });
    assert.equal(r.source.via, 'mltable');
    assert.equal(r.source.format, 'parquet');
    assert.equal(r.fitted.rows, ROWS);
    // The folder `edgeml model push` publishes: model.onnx + a valid manifest naming its SHA-256.
    const manifest = JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8')) as ModelManifest;
    assert.ok('manifest' in validateManifest(manifest));
    assert.equal(manifest.sha256, (await sha256File(path.join(out, 'model.onnx'))).sha256);
    assert.deepEqual([manifest.name, manifest.version, manifest.preprocessing.profile, manifest.postprocessor.kind], ['telemetry-anomaly', '2', 'anomaly', 'anomaly']);
    assert.deepEqual(manifest.provenance?.dataset, { uri: 'azureml:edgeml-telemetry:1' });

    const { scores, flagged } = await scoreSample(path.join(out, 'model.onnx'), manifest);
    assert.equal(scores.length, ROWS);
    const planted = scores.filter((_, i) => isPlantedAnomaly(i));
    const normal = scores.filter((_, i) => !isPlantedAnomaly(i));
    assert.equal(planted.length, 5);
    assert.ok(Math.min(...planted) > Math.max(...normal), `planted ≥ ${Math.min(...planted)}, normal ≤ ${Math.max(...normal)}`);
    assert.deepEqual(flagged, [37, 137, 237, 337, 437]);
  });

  it('one command against Blob Storage (Azurite): the dataset folder as the uploader lays it out, with its MLTable, copied and trained on', async () => {
    const folder = await uploadedDataset();
    const azurite = await startAzurite();
    try {
      const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('edgeml');
      await container.create();
      // The uploader's layout ({dataset}/{deviceId}/{yyyy}/{MM}/{dd}/{id}/{part}.{ext}) and its own MLTable.
      const layout = '{deviceId}/{yyyy}/{MM}/{dd}/{id}/{part}.{ext}';
      const id = 'f'.repeat(64);
      await container.getBlockBlobClient(`table-telemetry/edgeml-dev/2026/11/24/${id}/artifact.parquet`).uploadFile(path.join(folder, 'device=edgeml-dev', 'date=2026-11-24', 'telemetry.parquet'));
      await container.getBlockBlobClient('table-telemetry/MLTable').uploadData(renderMLTable({ layout, ext: 'parquet' }));
      // Another table in the container is not part of this dataset.
      await container.getBlockBlobClient('table-other/edgeml-dev/2026/11/24/x/artifact.csv').uploadData(Buffer.from('a,b\n1,2\n'));
      const r = await trainAnomalyModel({ data: 'blob:edgeml/table-telemetry', blobConnectionString: azurite.connectionString, outDir: path.join(dir, 'blob-model'), version: '3' });
      assert.equal(r.source.via, 'mltable');
      assert.equal(r.fitted.rows, ROWS);
      assert.equal(r.manifest.provenance?.dataset?.uri, `${azurite.blobEndpoint}/edgeml/table-telemetry/`);
      const { scores } = await scoreSample(path.join(dir, 'blob-model', 'model.onnx'), r.manifest);
      const planted = scores.filter((_, i) => isPlantedAnomaly(i));
      assert.ok(Math.min(...planted) > Math.max(...scores.filter((_, i) => !isPlantedAnomaly(i))));
      await assert.rejects(trainAnomalyModel({ data: 'blob:edgeml/nothing-here', blobConnectionString: azurite.connectionString, outDir: path.join(dir, 'x'), version: '1' }), (err: unknown) => isEdgeMLError(err) && err.code === 'FILE_NOT_FOUND');
    } finally {
      await azurite.stop();
    }
  });

  it('reads a CSV file as well, and fits the same model as from the Parquet', async () => {
    const folder = await uploadedDataset();
    const fromParquet = await trainAnomalyModel({ data: folder, outDir: path.join(dir, 'a'), version: '1' });
    const fromCsv = await trainAnomalyModel({ data: path.join(dir, 'telemetry.csv'), outDir: path.join(dir, 'b'), version: '1' });
    assert.equal(fromCsv.source.format, 'csv');
    assert.deepEqual(fromCsv.fitted.center, fromParquet.fitted.center);
    assert.deepEqual(fromCsv.fitted.scale, fromParquet.fitted.scale);
  });

  it('data without the profile\'s columns is refused, naming them', async () => {
    const csv = path.join(dir, 'other.csv');
    await writeFile(csv, 'a,b\n1,2\n');
    await assert.rejects(trainAnomalyModel({ data: csv, outDir: path.join(dir, 'm'), version: '1' }), (err: unknown) => isEdgeMLError(err) && err.code === 'INPUT_MALFORMED' && /"temperature_c", "humidity_pct"/.test(err.message));
  });

  it('MLTable patterns: * stays in a folder, ** crosses folders', () => {
    assert.ok(globToRegExp('*.parquet').test('a.parquet'));
    assert.ok(!globToRegExp('*.parquet').test('d/a.parquet'));
    assert.ok(globToRegExp('**/*.parquet').test('device=x/date=y/a.parquet'));
    assert.ok(!globToRegExp('**/*.parquet').test('MLTable'));
  });
});
