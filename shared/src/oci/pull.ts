/**
 * Pulls a model package (our artifact, an `oras` push, or a container image carrying `/models/`)
 * into a directory as `model.onnx` + `manifest.json`, verifying every byte: the manifest against
 * the digest asked for, every blob against its descriptor, model.onnx against the SHA-256 its model
 * manifest and the package's annotation declare. The model manifest's own content (inputs, labels,
 * post-processor) is the caller's to validate.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { EdgeMLError, errorMessage } from '../errors.js';
import { sha256File } from '../files.js';
import type { ContentSource } from './content-source.js';
import { extractModelFiles } from './image-layer.js';
import { ANNOTATIONS, MODEL_PACKAGE_FILES, type OciDescriptor } from './media-types.js';
import { locatePackage } from './model-package.js';

export interface PullLimits {
  /** Largest model.onnx (and, for an image, largest layer and member). */
  readonly maxModelBytes: number;
  /** Largest model manifest. Default 1 MiB. */
  readonly maxManifestBytes?: number;
  /** Deadline of one blob download. */
  readonly downloadTimeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Architecture picked from an image index. Default amd64. */
  readonly arch?: string;
}

/** A pulled, verified package on disk. */
export interface PulledPackage {
  /** Digest of the manifest the reference named (an index's, for a multi-platform image). */
  readonly digest: string;
  readonly kind: 'artifact' | 'image';
  readonly modelFile: string;
  readonly manifestFile: string;
  /** SHA-256 (hex) of model.onnx. */
  readonly modelSha256: string;
  readonly modelSizeBytes: number;
  /** The parsed model manifest (validated by the caller). */
  readonly modelManifest: unknown;
  /** The OCI manifest's annotations. */
  readonly annotations: Readonly<Record<string, string>>;
}

/**
 * Pulls `reference` (a tag or a digest) from `source` into `destDir` (created).
 * @throws EdgeMLError REGISTRY_*, DIGEST_MISMATCH, ARTIFACT_INVALID (not a package, no model manifest), MODEL_INVALID (model.onnx does not hash to what the package says), FILE_TOO_LARGE, PATH_OUTSIDE_ROOT
 */
export async function pullModelPackage(source: ContentSource, reference: string, destDir: string, limits: PullLimits): Promise<PulledPackage> {
  await mkdir(destDir, { recursive: true });
  const signalOpt = limits.signal === undefined ? {} : { signal: limits.signal };
  const top = await source.getManifest(reference, signalOpt);
  let located = locatePackage(top.bytes, limits.arch === undefined ? {} : { arch: limits.arch });
  if (located.kind === 'index') {
    const child = await source.getManifest(located.child.digest, signalOpt);
    located = locatePackage(child.bytes, limits.arch === undefined ? {} : { arch: limits.arch });
    if (located.kind === 'index') throw new EdgeMLError('ARTIFACT_INVALID', `${source.name}@${top.digest}: an index inside an index is not followed`);
  }
  const modelFile = path.join(destDir, MODEL_PACKAGE_FILES.model);
  const manifestFile = path.join(destDir, MODEL_PACKAGE_FILES.manifest);
  await rm(modelFile, { force: true });
  await rm(manifestFile, { force: true });
  const download = (d: OciDescriptor, file: string): Promise<void> =>
    source.downloadBlob(d, file, { maxBytes: limits.maxModelBytes, ...(limits.downloadTimeoutMs === undefined ? {} : { timeoutMs: limits.downloadTimeoutMs }), ...signalOpt });
  if (located.kind === 'artifact') {
    await download(located.model, modelFile);
    await download(located.manifest, manifestFile);
  } else {
    // Layers in order: a later one replaces (or whites out) what an earlier one put in the folder.
    for (const [i, layer] of located.layers.entries()) {
      const layerFile = path.join(destDir, `.layer-${i}`);
      try {
        await download(layer.descriptor, layerFile);
        await extractModelFiles(layerFile, layer.folder, destDir, { maxMemberBytes: limits.maxModelBytes, maxUnpackedBytes: Math.max(limits.maxModelBytes * 4, 64 * 1024 * 1024) });
      } finally {
        await rm(layerFile, { force: true });
      }
    }
  }
  const have = async (f: string): Promise<boolean> => (await readFile(f).then(() => true, () => false));
  if (!(await have(modelFile)) || !(await have(manifestFile))) {
    throw new EdgeMLError('ARTIFACT_INVALID', `${source.name}@${top.digest}: the image carries no ${!(await have(modelFile)) ? `/${MODEL_PACKAGE_FILES.imageFolder}/${MODEL_PACKAGE_FILES.model}` : `/${MODEL_PACKAGE_FILES.imageFolder}/${MODEL_PACKAGE_FILES.manifest} (the model manifest)`}`);
  }
  const text = await readFile(manifestFile, 'utf8');
  if (Buffer.byteLength(text) > (limits.maxManifestBytes ?? 1024 * 1024)) throw new EdgeMLError('FILE_TOO_LARGE', `${source.name}@${top.digest}: the model manifest is over ${limits.maxManifestBytes ?? 1024 * 1024} bytes`);
  let modelManifest: unknown;
  try {
    modelManifest = JSON.parse(text);
  } catch (err: unknown) {
    throw new EdgeMLError('ARTIFACT_INVALID', `${source.name}@${top.digest}: the model manifest is not JSON: ${errorMessage(err)}`, { cause: err });
  }
  const { sha256, sizeBytes } = await sha256File(modelFile, limits.signal);
  const declared = (modelManifest as { sha256?: unknown } | null)?.sha256;
  if (typeof declared === 'string' && declared !== sha256) throw new EdgeMLError('MODEL_INVALID', `${source.name}@${top.digest}: the model manifest says model.onnx has SHA-256 ${declared}; it has ${sha256}`);
  const annotated = located.annotations[ANNOTATIONS.modelSha256];
  if (annotated !== undefined && annotated !== sha256) throw new EdgeMLError('MODEL_INVALID', `${source.name}@${top.digest}: the package's ${ANNOTATIONS.modelSha256} annotation says ${annotated}; model.onnx has ${sha256}`);
  return { digest: top.digest, kind: located.kind, modelFile, manifestFile, modelSha256: sha256, modelSizeBytes: sizeBytes, modelManifest, annotations: located.annotations };
}
