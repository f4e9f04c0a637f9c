/**
 * The OCI distribution API (distribution-spec v1.1) over `fetch`, for one registry: this folder is
 * the only code that speaks it. This file is the composition root: it settles the options' defaults
 * and wires the parts, which hold the logic:
 *
 * | file | part |
 * |---|---|
 * | types.ts | the public contract: options, credentials, `RegistryClient` |
 * | transport.ts | one request: URL, Authorization, deadline, retries (429 with Retry-After, 5xx, no answer), the 401 round |
 * | auth.ts | Basic, the Bearer token challenge (`realm`, `service`, `scope`), ACR's token exchange; tokens per scope |
 * | challenge.ts | parsing `WWW-Authenticate` |
 * | failures.ts | refusals → error codes, with the registry's own error text |
 * | content.ts | bodies read under a size cap, sha256 digests |
 * | manifests.ts | resolve, get (verified by digest), put |
 * | blobs.ts | exists, read into memory or stream into a file, verified by size and digest |
 * | upload.ts | blob uploads, monolithic or in PATCH chunks |
 *
 * Why not `@azure/container-registry`: its content client needs an Entra ID credential, calls
 * ACR-only endpoints and throws on Basic challenges, so it cannot talk to a plain registry
 * (the CNCF distribution registry the tests run, Harbor, a local `registry:2`).
 *
 * Failures carry one code each: REGISTRY_UNAUTHORIZED (401/403), REGISTRY_NOT_FOUND (404),
 * REGISTRY_THROTTLED (429 after the retries, Retry-After honoured), REGISTRY_UNAVAILABLE (no answer,
 * timeout, 5xx after the retries), DIGEST_MISMATCH (content that does not hash to its digest),
 * ARTIFACT_INVALID (a registry refusing a manifest), FILE_TOO_LARGE (over a caller's limit), ABORTED
 * (the caller's signal). Credentials never appear in a message.
 */
import { createRegistryAuth } from './auth.js';
import { createBlobReads } from './blobs.js';
import { registryFailure } from './failures.js';
import { createManifestOperations } from './manifests.js';
import { createTransport } from './transport.js';
import type { RegistryClient, RegistryClientOptions } from './types.js';
import { createBlobUpload } from './upload.js';

/** Creates a client for one registry. Nothing is sent until a method is called. */
export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  const doFetch = options.fetch ?? fetch;
  const base = `${options.plainHttp === true ? 'http' : 'https'}://${options.registry}`;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const fail = registryFailure(options.registry);
  const auth = createRegistryAuth({ registry: options.registry, credentials: options.credentials ?? {}, fetch: doFetch, requestTimeoutMs, fail });
  const request = createTransport({
    base,
    fetch: doFetch,
    requestTimeoutMs,
    maxAttempts: Math.max(1, options.maxAttempts ?? 4),
    backoff: { initialDelayMs: options.retryDelayMs ?? 500, maxDelayMs: options.maxRetryDelayMs ?? 30_000 },
    auth,
    fail,
  });
  const manifests = createManifestOperations({ request, fail });
  const blobs = createBlobReads({ request, fail });
  const uploadBlob = createBlobUpload({ base, chunkBytes: options.chunkBytes ?? 16 * 1024 * 1024, request, blobExists: blobs.blobExists, fail });
  return {
    registry: options.registry,
    resolve: manifests.resolve,
    getManifest: manifests.getManifest,
    readBlob: blobs.readBlob,
    downloadBlob: blobs.downloadBlob,
    blobExists: blobs.blobExists,
    uploadBlob,
    putManifest: manifests.putManifest,
  };
}
