/**
 * Stages a model named by an OCI reference (`models.<profile>.artifact`): from the store when the
 * digest was pulled before (offline once cached), else from an OCI layout an operator dropped into
 * `<models>/preload/` (air-gapped sites), else from the registry with credentials from the
 * environment. A tag is resolved to a digest (its last digest when the registry is unreachable) and
 * everything is reported by digest. Every byte is verified (shared/src/oci/pull.ts); the model
 * manifest is validated as the store's are; a name or version the twin gives must match it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  EdgeMLError,
  canonicalJson,
  createRegistryClient,
  errorCode,
  formatReference,
  fsyncDir,
  layoutSource,
  parseReference,
  plainHttpFor,
  pullModelPackage,
  readLayoutIndex,
  registryCredentialsFromEnv,
  registrySource,
  sha256File,
  unpackLayoutTar,
  type ContentSource,
  type Logger,
  type OciReference,
} from '@edgeml/shared';
import type { ModelEntry } from '../config.js';
import type { ArtifactCache } from './artifact-cache.js';
import { STAGING_DIR, storeDir } from './layout.js';
import { MANIFEST_FILE, MODEL_FILE, readManifest, validateManifest, type ModelManifest } from './manifest.js';
import type { StagedModel, StageOptions } from './store.js';

/** Where operators drop OCI layouts (a directory or a `.tar`) for devices without a registry. */
export const PRELOAD_DIR = 'preload';

/** What a staged model knows about the artifact it came from (reported, and named by every result). */
export interface ArtifactInfo {
  /** `registry/repository@sha256:…`. */
  readonly reference: string;
  readonly digest: string;
  /** The tag the twin named, when it named one. */
  readonly tag?: string;
  /** Where the bytes came from this time. */
  readonly source: 'cache' | 'preload' | 'registry';
  /** True when a tag was resolved from the store's last resolution because the registry did not answer. */
  readonly resolvedOffline?: boolean;
}

export interface ArtifactStageContext {
  readonly modelsDir: string;
  readonly cache: ArtifactCache;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  readonly fetch?: typeof fetch;
}

const TRANSIENT = new Set(['REGISTRY_UNAVAILABLE', 'REGISTRY_THROTTLED', 'TIMEOUT']);

function checkIdentity(entry: ModelEntry, manifest: ModelManifest, sha256: string, what: string): void {
  if (entry.name !== undefined && entry.name !== manifest.name) throw new EdgeMLError('MODEL_INVALID', `${what} holds model ${manifest.name}@${manifest.version}; the twin names ${entry.name}`);
  if (entry.version !== undefined && entry.version !== manifest.version) throw new EdgeMLError('MODEL_INVALID', `${what} holds model ${manifest.name}@${manifest.version}; the twin names version ${entry.version}`);
  if (entry.sha256 !== undefined && entry.sha256 !== sha256) throw new EdgeMLError('MODEL_INVALID', `${what}: the twin's sha256 ${entry.sha256} is not model.onnx's ${sha256}`);
}

/** A layout under preload/ that holds `ref` (by digest, or by tag), unpacked when it is a tar. */
async function findPreloaded(ctx: ArtifactStageContext, ref: OciReference, work: string, maxBytes: number): Promise<{ source: ContentSource; reference: string } | undefined> {
  const dir = path.join(ctx.modelsDir, PRELOAD_DIR);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    let layoutDir = path.join(dir, e.name);
    if (e.isFile() && e.name.endsWith('.tar')) {
      layoutDir = path.join(work, `layout-${e.name}`);
      try {
        await unpackLayoutTar(path.join(dir, e.name), layoutDir, maxBytes);
      } catch (err: unknown) {
        ctx.logger.warn({ err, file: e.name }, 'a preload file is not a readable OCI layout tar; skipped');
        continue;
      }
    } else if (!e.isDirectory()) continue;
    const index = await readLayoutIndex(layoutDir).catch(() => undefined);
    const hit = index?.manifests.find((m) => (ref.digest !== undefined ? m.digest === ref.digest : m.annotations?.['org.opencontainers.image.ref.name'] === ref.tag));
    if (hit !== undefined) return { source: layoutSource(layoutDir), reference: hit.digest };
  }
  return undefined;
}

/**
 * @throws EdgeMLError REGISTRY_* (with the registry's answer), DIGEST_MISMATCH, ARTIFACT_INVALID, MODEL_INVALID, FILE_TOO_LARGE, PATH_OUTSIDE_ROOT
 */
export async function stageArtifact(entry: ModelEntry, options: StageOptions, ctx: ArtifactStageContext): Promise<StagedModel> {
  const ref = parseReference(entry.artifact!);
  const repo = `${ref.registry}/${ref.repository}`;
  const tagged = ref.tag === undefined ? undefined : `${repo}:${ref.tag}`;
  const signalOpt = options.signal === undefined ? {} : { signal: options.signal };
  let client: ReturnType<typeof createRegistryClient> | undefined;
  const registry = async (): Promise<ReturnType<typeof createRegistryClient>> => {
    client ??= createRegistryClient({
      registry: ref.registry,
      plainHttp: plainHttpFor(ref.registry, ctx.env),
      credentials: await registryCredentialsFromEnv(ref.registry, ctx.env),
      ...(ctx.fetch === undefined ? {} : { fetch: ctx.fetch }),
      requestTimeoutMs: Math.min(30_000, options.downloadTimeoutMs),
    });
    return client;
  };

  // 1. The digest: pinned, or the tag resolved (its last resolution when the registry does not answer).
  let digest = ref.digest;
  let resolvedOffline = false;
  if (digest === undefined) {
    try {
      digest = (await (await registry()).resolve(ref.repository, ref.tag!, options.signal)).digest;
    } catch (err: unknown) {
      const last = await ctx.cache.digestOfTag(tagged!);
      if (!TRANSIENT.has(errorCode(err)) || last === undefined) throw err;
      ctx.logger.warn({ err, reference: tagged, digest: last }, 'the registry did not answer; the tag is taken at the digest it last resolved to');
      digest = last;
      resolvedOffline = true;
    }
  }
  const artifactBase = { reference: formatReference({ ...ref, digest }), digest, ...(ref.tag === undefined ? {} : { tag: ref.tag }), ...(resolvedOffline ? { resolvedOffline } : {}) };
  const noop = (): Promise<void> => Promise.resolve();

  // 2. Already in the store: no network at all.
  const cached = await ctx.cache.byDigest(digest);
  if (cached !== undefined) {
    const dir = storeDir(ctx.modelsDir, cached.name, cached.version);
    const file = path.join(dir, MODEL_FILE);
    const ok = await stat(file).then((s) => s.isFile(), () => false);
    if (ok) {
      const manifest = await readManifest(path.join(dir, MANIFEST_FILE));
      const { sha256, sizeBytes } = await sha256File(file, options.signal);
      if (sha256 === cached.sha256) {
        checkIdentity(entry, manifest, sha256, artifactBase.reference);
        if (sizeBytes > options.maxModelBytes) throw new EdgeMLError('FILE_TOO_LARGE', `model is ${sizeBytes} bytes; maxModelBytes is ${options.maxModelBytes}`);
        return { entry, file, sha256, sizeBytes, manifest: { ...manifest, sha256 }, origin: 'registry', artifact: { ...artifactBase, source: 'cache' }, commit: noop, discard: noop };
      }
      ctx.logger.warn({ digest, name: cached.name, version: cached.version }, 'the store copy of a cached artifact changed; pulling it again');
    }
  }

  // 3. Pull into staging: from a preloaded layout, else from the registry.
  const work = path.join(ctx.modelsDir, STAGING_DIR, `oci-${randomBytes(6).toString('hex')}`);
  await mkdir(work, { recursive: true });
  try {
    const dest = path.join(work, 'package');
    const limits = { maxModelBytes: options.maxModelBytes, downloadTimeoutMs: options.downloadTimeoutMs, ...signalOpt };
    const preloaded = await findPreloaded(ctx, { ...ref, digest }, work, options.maxModelBytes * 2 + 4 * 1024 * 1024);
    const source = preloaded?.source ?? registrySource(await registry(), ref.repository);
    const pulled = await pullModelPackage(source, digest, dest, limits);
    const parsed = validateManifest({ ...(pulled.modelManifest as object), sha256: pulled.modelSha256 });
    if ('problems' in parsed) throw new EdgeMLError('MODEL_INVALID', `${artifactBase.reference}: its model manifest is invalid: ${parsed.problems.join('; ')}`, { details: { problems: parsed.problems } });
    const manifest = parsed.manifest;
    checkIdentity(entry, manifest, pulled.modelSha256, artifactBase.reference);
    const target = storeDir(ctx.modelsDir, manifest.name, manifest.version);
    const existing = await sha256File(path.join(target, MODEL_FILE)).catch(() => undefined);
    const existingManifest = existing === undefined ? undefined : await readManifest(path.join(target, MANIFEST_FILE)).catch(() => undefined);
    const sameManifest = existingManifest !== undefined && canonicalJson({ ...existingManifest, sha256: null }) === canonicalJson({ ...manifest, sha256: null });
    if (existing !== undefined && (existing.sha256 !== pulled.modelSha256 || !sameManifest)) {
      throw new EdgeMLError('MODEL_INVALID', `${artifactBase.reference} holds ${manifest.name}@${manifest.version}, but the store already has a different model under that name and version (a new model needs a new version)`);
    }
    return {
      entry,
      file: pulled.modelFile,
      sha256: pulled.modelSha256,
      sizeBytes: pulled.modelSizeBytes,
      manifest,
      origin: 'registry',
      artifact: { ...artifactBase, source: preloaded === undefined ? 'registry' : 'preload' },
      async commit() {
        if (existing === undefined) {
          await mkdir(path.dirname(target), { recursive: true });
          await rm(target, { recursive: true, force: true });
          await rename(dest, target);
          await fsyncDir(path.dirname(target));
        }
        await ctx.cache.record(digest, { name: manifest.name, version: manifest.version, sha256: pulled.modelSha256, reference: artifactBase.reference, pulledAt: new Date().toISOString() }, tagged);
        await rm(work, { recursive: true, force: true });
      },
      discard: () => rm(work, { recursive: true, force: true }),
    };
  } catch (err: unknown) {
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}
