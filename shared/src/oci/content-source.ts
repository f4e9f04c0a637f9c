/**
 * Where a package's manifest and blobs are read from: a repository of a registry, or an OCI image
 * layout on disk (layout.ts) for air-gapped sites. Pulling (pull.ts) works the same on both.
 */
import type { FetchedManifest, RegistryClient } from './registry/types.js';
import type { OciDescriptor } from './media-types.js';

export interface ContentSource {
  /** For messages: `registry/repository` or the layout's path. */
  readonly name: string;
  /** @throws EdgeMLError REGISTRY_NOT_FOUND, DIGEST_MISMATCH, … */
  getManifest(reference: string, options?: { maxBytes?: number; signal?: AbortSignal }): Promise<FetchedManifest>;
  readBlob(descriptor: OciDescriptor, options?: { maxBytes?: number; signal?: AbortSignal }): Promise<Buffer>;
  /** Writes a blob to `file` (which must not exist), verified against the descriptor. */
  downloadBlob(descriptor: OciDescriptor, file: string, options: { maxBytes: number; timeoutMs?: number; signal?: AbortSignal }): Promise<void>;
}

/** A repository of a registry as a content source. */
export function registrySource(client: RegistryClient, repository: string): ContentSource {
  return {
    name: `${client.registry}/${repository}`,
    getManifest: (reference, options) => client.getManifest(repository, reference, options),
    readBlob: (descriptor, options) => client.readBlob(repository, descriptor, options),
    downloadBlob: (descriptor, file, options) => client.downloadBlob(repository, descriptor, file, options),
  };
}
