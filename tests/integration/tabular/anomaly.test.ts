/**
 * Tabular inference on the sample telemetry, with real files and the real ONNX Runtime: the
 * transformer's `anomaly` profile writes the feature windows, the bundled anomaly model scores them
 * in the session pool and the `anomaly` post-processor flags exactly the planted rows.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TELEMETRY_ANOMALY_SPEC, createLogger, decodeNpy } from '@edgeml/shared';
import { isPlantedAnomaly, telemetryCsv } from '@edgeml/runtime';
import { bundledAnomalyModel, createSessionPool, validateManifest, type ModelManifest, type SessionPool } from '@edgeml/inferencer';
import { writeFeatureMatrix, type FeatureWindow } from '@edgeml/transformer';

const logger = createLogger({ name: 'test', level: 'silent' });
const CPU = { executionProvider: 'cpu', cudaDeviceId: 0, intraOpThreads: 0, interOpThreads: 0 } as const;
const NULLS = ['', 'NA', 'N/A', 'null', 'NULL'];

describe('tabular inference: telemetry anomaly profile and model (real ONNX Runtime)', function () {
  this.timeout(60_000);
  let dir: string;
  let pool: SessionPool | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-tabular-'));
  });
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  const windowsOf = async (csv: string): Promise<readonly FeatureWindow[]> => {
    const file = path.join(dir, 'telemetry.csv');
    await writeFile(file, csv);
    const r = await writeFeatureMatrix({ file, format: 'csv', spec: TELEMETRY_ANOMALY_SPEC, delimiter: 'auto', nullValues: NULLS, maxRecordChars: 1 << 20, target: (i) => path.join(dir, `w${i}.npy`) });
    assert.ok('windows' in r, JSON.stringify(r));
    return r.windows;
  };

  it('cuts the 500 sample rows into windows of 64, scaled, the missing humidity filled with its mean', async () => {
    const windows = await windowsOf(telemetryCsv(500));
    assert.deepEqual(windows.map((w) => [w.firstRow, w.rows]), [[0, 64], [64, 64], [128, 64], [192, 64], [256, 64], [320, 64], [384, 64], [448, 52]]);
    const first = decodeNpy(await readFile(path.join(dir, 'w0.npy')));
    assert.deepEqual(first.shape, [1, 64, 2]);
    // Row 0: temperature 20.00 → 0; humidity missing (row 0 is a multiple of 17) → the mean → 0.
    assert.equal(first.data[0], 0);
    assert.equal(first.data[1], 0);
    // Row 1: temperature 20 + 5 sin(0.1) = 20.50, humidity 45 + 10 cos(1/7) = 54.9.
    assert.ok(Math.abs((first.data[2] ?? 0) - 0.5 / 3.5) < 1e-3);
    assert.ok(Math.abs((first.data[3] ?? 0) - 9.9 / 7) < 1e-3);
  });

  it('a table without the profile\'s columns gets no tensor', async () => {
    const file = path.join(dir, 'other.csv');
    await writeFile(file, 'a,b\n1,2\n');
    const r = await writeFeatureMatrix({ file, format: 'csv', spec: TELEMETRY_ANOMALY_SPEC, delimiter: 'auto', nullValues: NULLS, maxRecordChars: 1 << 20, target: (i) => path.join(dir, `x${i}.npy`) });
    assert.deepEqual(r, { notApplicable: 'the table has no column "temperature_c", "humidity_pct"' });
  });

  it('the bundled model flags exactly the planted anomalies, as table rows', async () => {
    const windows = await windowsOf(telemetryCsv(500));
    const model = bundledAnomalyModel();
    const manifest = model.manifest as ModelManifest;
    assert.ok('manifest' in validateManifest(manifest));
    const modelFile = path.join(dir, 'model.onnx');
    await writeFile(modelFile, model.bytes);
    pool = createSessionPool({ size: 1, logger });
    const session = await pool.open(modelFile, CPU);
    const flagged: number[] = [];
    let maxNormal = 0;
    let minPlanted = Number.POSITIVE_INFINITY;
    for (const w of windows) {
      const t = decodeNpy(await readFile(path.join(dir, `w${w.index}.npy`)));
      const response = await session.runBatch({ inputName: 'x', input: { dtype: 'float32', data: t.data as Float32Array, dims: [...t.shape] }, postprocessor: manifest.postprocessor, labels: [], geometries: [undefined], firstRows: [w.firstRow] });
      const item = response.items[0] as { outputs: { scores: number[]; flagged: { row: number }[]; firstRow: number } };
      assert.equal(item.outputs.firstRow, w.firstRow);
      flagged.push(...item.outputs.flagged.map((f) => f.row));
      item.outputs.scores.forEach((s, i) => {
        if (isPlantedAnomaly(w.firstRow + i)) minPlanted = Math.min(minPlanted, s);
        else maxNormal = Math.max(maxNormal, s);
      });
    }
    assert.deepEqual(flagged.sort((a, b) => a - b), [37, 137, 237, 337, 437]);
    assert.ok(minPlanted > 3 && maxNormal < 3, `planted ≥ ${minPlanted}, normal ≤ ${maxNormal}`);
  });
});
