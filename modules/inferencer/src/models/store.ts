/**
 * The model store behind one interface: where models live (`<models>/<name>/<version>/model.onnx` +
 * `manifest.json`), the install of the bundled ones, and fetching a candidate for a hot swap — from
 * the store, from a path inside the store, or streamed from an http(s) / Blob SAS URL with a size
 * limit, hashed while it is written — verified before anyone loads it.
 *
 * Other sources (an OCI registry, say) plug in as another {@link ModelStore} or inside `stage`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { EdgeMLError, fsyncDir, resolveInside, sha256File, writeFileAtomic, type Logger } from '@edgeml/shared';
import type { ModelEntry } from '../config.js';
import { ArtifactCache } from './artifact-cache.js';
import { stageArtifact, type ArtifactInfo } from './artifact-source.js';
import { installBundledModels, type InstalledModel } from './bundled.js';
import { downloadModel } from './download.js';
import { STAGING_DIR, storeDir } from './layout.js';
import { MANIFEST_FILE, MODEL_FILE, readManifest, type ModelManifest } from './manifest.js';

/** A model fetched and verified, not yet loaded. */
export interface StagedModel {
  readonly entry: ModelEntry;
  /** The file a session opens. */
  readonly file: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly manifest: ModelManifest;
  /** `store`, `path`, `url` (never the URL itself: it may carry a SAS) or `registry` (an OCI artifact). */
  readonly origin: 'store' | 'path' | 'url' | 'registry';
  /** The OCI artifact it came from (origin `registry`). */
  readonly artifact?: ArtifactInfo;
  /** Makes the model permanent in the store once it is proven good (a download is moved in). */
  commit(): Promise<void>;
  /** Removes a download that was refused. */
  discard(): Promise<void>;
}

export interface StageOptions {
  readonly maxModelBytes: number;
  readonly downloadTimeoutMs: number;
  /** The manifest of the model serving this profile now; a download without its own manifest inherits it. */
  readonly inheritManifest: ModelManifest | undefined;
  readonly fetch?: typeof fetch;
  readonly signal?: AbortSignal;
}

/** Where models come from and go to. */
export interface ModelStore {
  /** The store's root directory. */
  readonly dir: string;
  /** Removes partial downloads a crash or a kill left behind (nothing in staging is ever reused). */
  clearStaging(): Promise<void>;
  /** Installs the bundled models (idempotent, compared by SHA-256). */
  installBundled(): Promise<InstalledModel[]>;
  /**
   * Fetches the model an entry names and verifies it (size limit, SHA-256 against the twin's and
   * the manifest's). @throws EdgeMLError MODEL_DOWNLOAD_FAILED, MODEL_INVALID, FILE_NOT_FOUND, FILE_TOO_LARGE, PATH_OUTSIDE_ROOT
   */
  stage(entry: ModelEntry, options: StageOptions): Promise<StagedModel>;
}

export interface FileModelStoreOptions {
  readonly fetch?: typeof fetch;
  /** Registry credentials come from here (shared/src/oci/credentials.ts), never from the twin. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
}

/** The store on a local directory (`<data>/models`). */
export function createFileModelStore(modelsDir: string, defaults: FileModelStoreOptions): ModelStore {
  const cache = new ArtifactCache(modelsDir, defaults.logger);
  return {
    dir: modelsDir,
    clearStaging: () => rm(path.join(modelsDir, STAGING_DIR), { recursive: true, force: true }),
    installBundled: () => installBundledModels(modelsDir),
    stage: (entry, options) =>
      entry.artifact !== undefined
        ? stageArtifact(entry, options, { modelsDir, cache, env: defaults.env ?? {}, logger: defaults.logger, ...(defaults.fetch === undefined ? {} : { fetch: defaults.fetch }) })
        : stageModel(entry, { ...(defaults.fetch === undefined ? {} : { fetch: defaults.fetch }), ...options, modelsDir }),
  };
}

/**
 * Fetches the model an entry names and verifies it: size limit, SHA-256 against the twin's and the
 * manifest's, manifest name/version. The session is created by the caller.
 * @throws EdgeMLError MODEL_DOWNLOAD_FAILED, MODEL_INVALID, FILE_NOT_FOUND, FILE_TOO_LARGE, PATH_OUTSIDE_ROOT
 */
export async function stageModel(named: ModelEntry, options: StageOptions & { readonly modelsDir: string }): Promise<StagedModel> {
  // Without an artifact the schema requires name and version.
  const entry = named as ModelEntry & { readonly name: string; readonly version: string };
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
    result = await downloadModel(entry.uri, file, options);
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

