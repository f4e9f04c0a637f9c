/**
 * The registry client's public contract: its options, the credentials it may use, and the methods
 * the rest of the suite calls (client.ts builds it from the parts in this folder).
 */
import type { OciDescriptor } from '../media-types.js';

/** How a client authenticates. Anonymous when empty. */
export interface RegistryCredentials {
  readonly username?: string;
  readonly password?: string;
  /** An Entra ID access token (scope `https://containerregistry.azure.net/.default`) for ACR's `/oauth2/exchange`. */
  readonly aadAccessToken?: string;
  /** The Entra ID tenant of that token (optional for the exchange). */
  readonly tenant?: string;
}

export interface RegistryClientOptions {
  /** `host[:port]`. */
  readonly registry: string;
  readonly credentials?: RegistryCredentials;
  /** http instead of https (a local registry). */
  readonly plainHttp?: boolean;
  readonly fetch?: typeof fetch;
  /** Deadline of one request until its answer (not a blob's body). Default 30 000. */
  readonly requestTimeoutMs?: number;
  /** Attempts per request on 429, 5xx and no answer. Default 4. */
  readonly maxAttempts?: number;
  /** First retry delay (doubles, jittered; a 429's Retry-After wins when given, capped at maxRetryDelayMs). Default 500. */
  readonly retryDelayMs?: number;
  /** Cap on any retry delay. Default 30 000. */
  readonly maxRetryDelayMs?: number;
  /** Largest blob sent in one request; larger ones go in PATCH chunks of this size. Default 16 MiB. */
  readonly chunkBytes?: number;
}

/** What a manifest request returned, with its digest checked. */
export interface FetchedManifest {
  readonly bytes: Buffer;
  /** sha256 of the bytes (equal to the digest asked for, and to Docker-Content-Digest when sent). */
  readonly digest: string;
  readonly mediaType: string;
}

export interface BlobSource {
  /** A file to send, or bytes. */
  readonly file?: string;
  readonly bytes?: Uint8Array;
  readonly digest: string;
  readonly size: number;
}

export interface RegistryClient {
  readonly registry: string;
  /** Resolves a tag (or checks a digest) to the manifest's digest without downloading it. */
  resolve(repository: string, reference: string, signal?: AbortSignal): Promise<{ digest: string; mediaType: string; size: number }>;
  /** GETs a manifest (at most `maxBytes`, default 4 MiB) and verifies its digest. */
  getManifest(repository: string, reference: string, options?: { maxBytes?: number; signal?: AbortSignal }): Promise<FetchedManifest>;
  /** Reads a small blob into memory, verified. */
  readBlob(repository: string, descriptor: OciDescriptor, options?: { maxBytes?: number; signal?: AbortSignal }): Promise<Buffer>;
  /** Streams a blob into `file` (created; must not exist), verified against the descriptor's digest and size. */
  downloadBlob(repository: string, descriptor: OciDescriptor, file: string, options: { maxBytes: number; timeoutMs?: number; signal?: AbortSignal }): Promise<void>;
  blobExists(repository: string, digest: string, signal?: AbortSignal): Promise<boolean>;
  /** Uploads a blob unless the repository already has it. */
  uploadBlob(repository: string, blob: BlobSource, signal?: AbortSignal): Promise<{ uploaded: boolean }>;
  /** PUTs a manifest under a tag or its digest; returns the digest the registry computed (checked against ours). */
  putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string, signal?: AbortSignal): Promise<string>;
}
