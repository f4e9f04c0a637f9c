/**
 * The model package as an OCI image manifest (image-spec v1.1): how ours is built, and how a
 * pulled manifest is recognised — our artifact, one pushed by `oras` (files found by their
 * `org.opencontainers.image.title`), or a container image carrying `/models/model.onnx` and
 * `/models/manifest.json` in a layer. Pure.
 */
import { createHash } from 'node:crypto';
import { EdgeMLError } from '../errors.js';
import { ANNOTATIONS, EMPTY_DESCRIPTOR, MODEL_PACKAGE_FILES, MODEL_PACKAGE_TYPES, OCI_MEDIA_TYPES, type OciDescriptor, type OciIndex, type OciManifest } from './media-types.js';

/** What the package's annotations are made from: the model manifest's identity and provenance. */
export interface PackageIdentity {
  readonly name: string;
  readonly version: string;
  /** SHA-256 (hex) of model.onnx. */
  readonly sha256: string;
  readonly profile?: string;
  readonly description?: string;
  readonly provenance?: ModelProvenance;
}

/** Where a model came from (the model manifest's optional `provenance`). */
export interface ModelProvenance {
  /** The Azure ML registered model. */
  readonly azureml?: { readonly modelName?: string; readonly modelVersion?: string; readonly jobName?: string; readonly workspace?: string };
  /** The data it was trained on. */
  readonly dataset?: { readonly name?: string; readonly version?: string; readonly uri?: string };
  readonly gitRevision?: string;
  readonly source?: string;
  /** RFC 3339. */
  readonly trainedAt?: string;
}

/** A built package manifest: its exact bytes (what is pushed and hashed) and its digest. */
export interface BuiltManifest {
  readonly manifest: OciManifest;
  readonly bytes: Buffer;
  readonly digest: string;
}

const sha256Digest = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** The manifest annotations for a package (identity, provenance, creation time) plus `extra`. */
export function packageAnnotations(identity: PackageIdentity, created: Date, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const p = identity.provenance;
  const dataset = p?.dataset === undefined ? undefined : p.dataset.name !== undefined ? `${p.dataset.name}${p.dataset.version === undefined ? '' : `:${p.dataset.version}`}` : p.dataset.uri;
  const out: Record<string, string> = {
    [ANNOTATIONS.title]: identity.name,
    [ANNOTATIONS.version]: identity.version,
    [ANNOTATIONS.created]: created.toISOString(),
    [ANNOTATIONS.modelName]: identity.name,
    [ANNOTATIONS.modelVersion]: identity.version,
    [ANNOTATIONS.modelSha256]: identity.sha256,
  };
  if (identity.profile !== undefined) out[ANNOTATIONS.modelProfile] = identity.profile;
  if (identity.description !== undefined) out[ANNOTATIONS.description] = identity.description;
  if (p?.azureml?.modelName !== undefined) out[ANNOTATIONS.azuremlModel] = `${p.azureml.modelName}${p.azureml.modelVersion === undefined ? '' : `:${p.azureml.modelVersion}`}`;
  if (dataset !== undefined) out[ANNOTATIONS.dataset] = dataset;
  if (p?.gitRevision !== undefined) out[ANNOTATIONS.revision] = p.gitRevision;
  if (p?.source !== undefined) out[ANNOTATIONS.source] = p.source;
  return { ...out, ...extra };
}

/** Builds the package manifest for a model file and its model manifest (both already digested). */
export function buildPackageManifest(layers: { readonly model: { digest: string; size: number }; readonly manifest: { digest: string; size: number } }, annotations: Readonly<Record<string, string>>): BuiltManifest {
  const manifest: OciManifest = {
    schemaVersion: 2,
    mediaType: OCI_MEDIA_TYPES.manifest,
    artifactType: MODEL_PACKAGE_TYPES.artifact,
    config: { ...EMPTY_DESCRIPTOR },
    layers: [
      { mediaType: MODEL_PACKAGE_TYPES.onnx, digest: layers.model.digest, size: layers.model.size, annotations: { [ANNOTATIONS.title]: MODEL_PACKAGE_FILES.model } },
      { mediaType: MODEL_PACKAGE_TYPES.modelManifest, digest: layers.manifest.digest, size: layers.manifest.size, annotations: { [ANNOTATIONS.title]: MODEL_PACKAGE_FILES.manifest } },
    ],
    annotations: { ...annotations },
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return { manifest, bytes, digest: sha256Digest(bytes) };
}

/** What a pulled manifest holds. */
export type LocatedPackage =
  | { readonly kind: 'index'; readonly child: OciDescriptor }
  | { readonly kind: 'artifact'; readonly model: OciDescriptor; readonly manifest: OciDescriptor; readonly annotations: Readonly<Record<string, string>> }
  | { readonly kind: 'image'; readonly layers: readonly ImageLayer[]; readonly annotations: Readonly<Record<string, string>> };

/** A tar layer to search, and the folder in it that holds model.onnx and manifest.json. */
export interface ImageLayer {
  readonly descriptor: OciDescriptor;
  /** `models` for a container image; the title of a directory `oras push` packed. */
  readonly folder: string;
}

const invalid = (why: string): EdgeMLError => new EdgeMLError('ARTIFACT_INVALID', why);

const isTarLayer = (d: OciDescriptor): boolean => /(^|[.+/])tar($|[.+])/.test(d.mediaType) || d.mediaType === OCI_MEDIA_TYPES.dockerLayerTarGzip;

/** A descriptor's title, as oras and our push write it (a relative path). */
const titleOf = (d: OciDescriptor): string | undefined => d.annotations?.[ANNOTATIONS.title];

function descriptorProblems(d: unknown, where: string): string[] {
  const o = d as Partial<OciDescriptor> | null;
  if (typeof o !== 'object' || o === null) return [`${where}: not a descriptor`];
  const problems: string[] = [];
  if (typeof o.mediaType !== 'string') problems.push(`${where}.mediaType: missing`);
  if (typeof o.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(o.digest)) problems.push(`${where}.digest: not sha256:<64 hex>`);
  if (!Number.isSafeInteger(o.size) || (o.size as number) < 0) problems.push(`${where}.size: not a non-negative integer`);
  return problems;
}

/** The platform to pick from an index: this machine's (models are platform-free; any will do otherwise). */
function pickFromIndex(index: OciIndex, arch: string): OciDescriptor {
  const manifests = index.manifests.filter((m) => descriptorProblems(m, 'manifest').length === 0);
  const first = manifests.find((m) => m.platform?.architecture === arch) ?? manifests.find((m) => m.platform === undefined) ?? manifests[0];
  if (first === undefined) throw invalid('the image index lists no manifest');
  return first;
}

/**
 * Recognises a pulled manifest (by its bytes).
 * @throws EdgeMLError ARTIFACT_INVALID (not JSON, not schemaVersion 2, no model layers and no tar layer, only one of the two files)
 */
export function locatePackage(bytes: Buffer, options: { readonly arch?: string } = {}): LocatedPackage {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid('the manifest is not JSON');
  }
  const d = doc as Partial<OciManifest & OciIndex> | null;
  if (typeof d !== 'object' || d === null || d.schemaVersion !== 2) throw invalid('the manifest is not an image manifest or index of schemaVersion 2');
  if (Array.isArray(d.manifests)) return { kind: 'index', child: pickFromIndex(d as OciIndex, options.arch ?? 'amd64') };
  if (!Array.isArray(d.layers) || d.layers.length === 0) throw invalid('the manifest has no layers');
  const problems = d.layers.flatMap((l, i) => descriptorProblems(l, `layers[${i}]`));
  if (problems.length > 0) throw invalid(`the manifest's layers are malformed: ${problems.join('; ')}`);
  const layers = d.layers;
  const annotations = d.annotations ?? {};
  const named = (file: string, type: string): OciDescriptor | undefined => layers.find((l) => l.mediaType === type) ?? layers.find((l) => titleOf(l) === file || titleOf(l)?.endsWith(`/${file}`) === true);
  const model = named(MODEL_PACKAGE_FILES.model, MODEL_PACKAGE_TYPES.onnx);
  const manifest = named(MODEL_PACKAGE_FILES.manifest, MODEL_PACKAGE_TYPES.modelManifest);
  if (model !== undefined && manifest !== undefined) return { kind: 'artifact', model, manifest, annotations };
  const isPackageType = d.artifactType === MODEL_PACKAGE_TYPES.artifact || d.config?.mediaType === MODEL_PACKAGE_TYPES.artifact;
  if (model !== undefined || isPackageType) {
    throw invalid(`the artifact has ${model === undefined ? 'no model file (a layer titled model.onnx)' : 'no model manifest (a layer titled manifest.json)'}`);
  }
  const tars: ImageLayer[] = layers.flatMap((l) => {
    if (!isTarLayer(l)) return [];
    const title = titleOf(l);
    if (title === undefined) return [{ descriptor: l, folder: MODEL_PACKAGE_FILES.imageFolder }];
    return l.annotations?.[ANNOTATIONS.orasUnpack] === 'true' ? [{ descriptor: l, folder: title.replace(/^\.?\/+|\/+$/g, '') }] : [];
  });
  if (tars.length === 0) throw invalid(`no layer is a model package file (titled ${MODEL_PACKAGE_FILES.model} / ${MODEL_PACKAGE_FILES.manifest}) or an image layer carrying /${MODEL_PACKAGE_FILES.imageFolder}/`);
  return { kind: 'image', layers: tars, annotations };
}
