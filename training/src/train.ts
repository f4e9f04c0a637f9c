/**
 * The training component for the telemetry anomaly model: data in (locateData / readFeatureRows),
 * model fitted (fit.ts), and out a model folder exactly as `edgeml model push` publishes it —
 * `model.onnx` and `manifest.json` (edgeml.model-manifest/v1, validated, with its SHA-256 and
 * provenance) — so the retrain workflow, or `npm run loop`, pushes it as it is.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EdgeMLError, TELEMETRY_ANOMALY_SPEC, writeFileAtomic, type ModelProvenance, type TablePreprocessingSpec } from '@edgeml/shared';
import { BUNDLED_MODEL_NAMES, MANIFEST_FILE, MODEL_FILE, anomalyManifest, standardizedDistanceModel, validateManifest, type ModelManifest } from '@edgeml/inferencer';
import { fitAnomalyModel, type FitOptions, type FittedAnomalyModel } from './fit.js';
import { locateData, readFeatureRows, type DataSource } from './data.js';
import { downloadBlobDataset, parseBlobData } from './blob-source.js';

export interface TrainOptions extends FitOptions {
  /**
   * A Parquet or CSV file, or a folder (with an MLTable, or Parquet / CSV files under it), or
   * `blob:<container>/<folder>`: that folder of Blob Storage (copied to a temp folder first).
   */
  readonly data: string;
  /** Needed for `blob:` data (from AZURE_STORAGE_CONNECTION_STRING in the entry point). */
  readonly blobConnectionString?: string;
  /** The model folder written (created when missing). */
  readonly outDir: string;
  /** Model name; default the bundled one (`telemetry-anomaly`), so a twin's `models.anomaly` keeps its name. */
  readonly name?: string;
  readonly version: string;
  /** Where the data came from (an MLTable asset, a blob URL), recorded in the manifest's provenance. */
  readonly dataset?: ModelProvenance['dataset'];
  readonly now?: () => Date;
}

export interface TrainResult {
  readonly source: DataSource;
  readonly fitted: FittedAnomalyModel;
  readonly manifest: ModelManifest;
  readonly modelFile: string;
  readonly manifestFile: string;
}

/** The features the model reads: the transformer's `anomaly` profile. */
export const TRAINING_SPEC: TablePreprocessingSpec = TELEMETRY_ANOMALY_SPEC;

/** @throws EdgeMLError FILE_NOT_FOUND, INPUT_MALFORMED (data), MODEL_INVALID (a manifest that would not load) */
export async function trainAnomalyModel(o: TrainOptions): Promise<TrainResult> {
  const blob = parseBlobData(o.data);
  if (blob === undefined) return trainOn(o.data, o, o.dataset);
  if (o.blobConnectionString === undefined) throw new EdgeMLError('CONFIG_INVALID', `--data ${o.data} needs a storage connection string (AZURE_STORAGE_CONNECTION_STRING)`);
  const dir = await mkdtemp(path.join(tmpdir(), 'edgeml-training-data-'));
  try {
    const copied = await downloadBlobDataset({ connectionString: o.blobConnectionString, container: blob.container, prefix: blob.prefix, targetDir: dir });
    return await trainOn(dir, o, o.dataset ?? { uri: copied.url });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function trainOn(data: string, o: TrainOptions, dataset: ModelProvenance['dataset'] | undefined): Promise<TrainResult> {
  const source = await locateData(data);
  const rows = await readFeatureRows(source, TRAINING_SPEC);
  const fitted = fitAnomalyModel(rows, o);
  const bytes = standardizedDistanceModel(fitted);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const base = anomalyManifest({
    name: o.name ?? BUNDLED_MODEL_NAMES.anomaly,
    version: o.version,
    description: `Telemetry anomaly scorer (standardised distance over ${TRAINING_SPEC.columns.join(', ')}), fitted on ${fitted.rows} rows`,
    threshold: fitted.threshold,
  });
  const manifest: ModelManifest = {
    ...base,
    sha256,
    provenance: { trainedAt: (o.now ?? (() => new Date()))().toISOString(), ...(dataset === undefined ? {} : { dataset }) },
  };
  const checked = validateManifest(manifest);
  if ('problems' in checked) throw new EdgeMLError('MODEL_INVALID', `the trained model's manifest is invalid: ${checked.problems.join('; ')}`);
  await mkdir(o.outDir, { recursive: true });
  const modelFile = path.join(o.outDir, MODEL_FILE);
  const manifestFile = path.join(o.outDir, MANIFEST_FILE);
  await writeFileAtomic(modelFile, bytes);
  await writeFileAtomic(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  return { source, fitted, manifest, modelFile, manifestFile };
}
