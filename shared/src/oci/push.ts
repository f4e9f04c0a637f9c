/**
 * Pushes a model package — model.onnx and its model manifest — as our OCI artifact: blobs first
 * (each skipped when the repository already has it), then the manifest under a tag. Also copies a
 * package from a source into an OCI layout tar (air-gapped transfer).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EdgeMLError } from '../errors.js';
import { sha256, sha256File } from '../files.js';
import type { ContentSource } from './content-source.js';
import { writeLayoutTar, type LayoutBlob } from './layout.js';
import { EMPTY_DESCRIPTOR, OCI_MEDIA_TYPES, type OciDescriptor, type OciManifest } from './media-types.js';
import { buildPackageManifest, locatePackage, packageAnnotations, type PackageIdentity } from './model-package.js';
import type { RegistryClient } from './registry/types.js';

export interface PushRequest {
  readonly repository: string;
  readonly tag: string;
  readonly modelFile: string;
  /** The model manifest's exact bytes (pushed as they are). */
  readonly manifestBytes: Buffer;
  /** Name, version, profile, provenance, and the model's SHA-256 (checked against the file). */
  readonly identity: Omit<PackageIdentity, 'sha256'> & { readonly sha256?: string };
  readonly extraAnnotations?: Readonly<Record<string, string>>;
  readonly created: Date;
  readonly signal?: AbortSignal;
}

export interface PushResult {
  /** The manifest's digest: what the twin pins. */
  readonly digest: string;
  /** `registry/repository@digest`. */
  readonly reference: string;
  readonly tag: string;
  readonly modelSha256: string;
  readonly modelSizeBytes: number;
  /** Blobs sent (the others were already there). */
  readonly uploaded: number;
  readonly manifest: OciManifest;
}

/** @throws EdgeMLError MODEL_INVALID (the manifest's sha256 is not the file's), REGISTRY_*, DIGEST_MISMATCH */
export async function pushModelPackage(client: RegistryClient, request: PushRequest): Promise<PushResult> {
  const { sha256: modelSha256, sizeBytes } = await sha256File(request.modelFile, request.signal);
  if (request.identity.sha256 !== undefined && request.identity.sha256 !== modelSha256) {
    throw new EdgeMLError('MODEL_INVALID', `the model manifest says ${path.basename(request.modelFile)} has SHA-256 ${request.identity.sha256}; it has ${modelSha256}`);
  }
  const model = { digest: `sha256:${modelSha256}`, size: sizeBytes };
  const manifestBlob = { digest: `sha256:${sha256(request.manifestBytes)}`, size: request.manifestBytes.length };
  const built = buildPackageManifest({ model, manifest: manifestBlob }, packageAnnotations({ ...request.identity, sha256: modelSha256 }, request.created, request.extraAnnotations));
  const s = request.signal;
  let uploaded = 0;
  const count = (r: { uploaded: boolean }): void => void (r.uploaded && uploaded++);
  count(await client.uploadBlob(request.repository, { bytes: Buffer.from('{}'), digest: EMPTY_DESCRIPTOR.digest, size: EMPTY_DESCRIPTOR.size }, s));
  count(await client.uploadBlob(request.repository, { file: request.modelFile, ...model }, s));
  count(await client.uploadBlob(request.repository, { bytes: request.manifestBytes, ...manifestBlob }, s));
  const digest = await client.putManifest(request.repository, request.tag, built.bytes, OCI_MEDIA_TYPES.manifest, s);
  return { digest, reference: `${client.registry}/${request.repository}@${digest}`, tag: request.tag, modelSha256, modelSizeBytes: sizeBytes, uploaded, manifest: built.manifest };
}

/**
 * Copies the package `reference` names from `source` into an OCI layout tar (manifest, config and
 * every layer, as they are), tagged `refName`. Verifies everything it copies.
 * @throws EdgeMLError ARTIFACT_INVALID (not a model package), REGISTRY_*, DIGEST_MISMATCH, FILE_TOO_LARGE
 */
export async function exportToLayout(source: ContentSource, reference: string, target: string, options: { readonly refName: string; readonly maxBlobBytes: number; readonly signal?: AbortSignal }): Promise<{ digest: string }> {
  const signalOpt = options.signal === undefined ? {} : { signal: options.signal };
  const top = await source.getManifest(reference, signalOpt);
  const located = locatePackage(top.bytes);
  if (located.kind === 'index') throw new EdgeMLError('ARTIFACT_INVALID', `${source.name}@${top.digest} is an image index: export the platform manifest's digest instead`);
  const manifest = JSON.parse(top.bytes.toString('utf8')) as OciManifest;
  const work = await mkdtemp(path.join(tmpdir(), 'edgeml-export-'));
  try {
    const blobs: LayoutBlob[] = [];
    const descriptors: OciDescriptor[] = [manifest.config, ...manifest.layers];
    for (const [i, d] of descriptors.entries()) {
      if (d.digest === EMPTY_DESCRIPTOR.digest) {
        blobs.push({ digest: d.digest, bytes: Buffer.from('{}') });
        continue;
      }
      const file = path.join(work, `blob-${i}`);
      await source.downloadBlob(d, file, { maxBytes: options.maxBlobBytes, ...signalOpt });
      blobs.push({ digest: d.digest, file });
    }
    await writeLayoutTar(target, { bytes: top.bytes, digest: top.digest, mediaType: manifest.mediaType ?? OCI_MEDIA_TYPES.manifest, refName: options.refName }, blobs);
    return { digest: top.digest };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
