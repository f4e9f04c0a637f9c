/**
 * The one file that speaks the OCI distribution API (distribution-spec v1.1) over `fetch`: manifests,
 * blobs (streamed, size-capped, verified by digest), uploads (monolithic or chunked), and the
 * registry's authentication — Basic, the Bearer token challenge (`realm`, `service`, `scope`), and
 * Azure Container Registry's token exchange (an Entra ID access token → refresh token → access
 * token; or the null-GUID user with an ACR refresh token, as `az acr login --expose-token` gives).
 *
 * Why not `@azure/container-registry`: its content client needs an Entra ID credential, calls
 * ACR-only endpoints and throws on Basic challenges, so it cannot talk to a plain registry
 * (the CNCF distribution registry the tests run, Harbor, a local `registry:2`).
 *
 * Failures carry one code each: REGISTRY_UNAUTHORIZED (401/403), REGISTRY_NOT_FOUND (404),
 * REGISTRY_THROTTLED (429 after the retries, Retry-After honoured), REGISTRY_UNAVAILABLE (no answer,
 * timeout, 5xx after the retries), DIGEST_MISMATCH (content that does not hash to its digest),
 * ARTIFACT_INVALID (a registry refusing a manifest). Credentials never appear in a message.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { EdgeMLError, errorMessage, type ErrorCode } from '../errors.js';
import { writeStreamHashed } from '../files.js';
import { backoffDelayMs, sleep } from '../retry.js';
import { MANIFEST_ACCEPT, type OciDescriptor } from './media-types.js';

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

interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

interface RequestSpec {
  readonly method: string;
  /** Path below the registry (`/v2/…`) or an absolute URL (an upload Location). */
  readonly url: string;
  readonly repository: string;
  readonly push?: boolean;
  readonly headers?: Record<string, string>;
  /** Built per attempt: a stream cannot be sent twice. */
  readonly body?: () => Uint8Array | Promise<Uint8Array>;
  readonly okStatuses: readonly number[];
  /** 404 is an answer, not an error (HEAD of a blob that may not be there). */
  readonly notFoundOk?: boolean;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal | undefined;
  /** What the request is for, in messages. */
  readonly what: string;
}

const sha256Digest = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const ACR_NULL_USER = '00000000-0000-0000-0000-000000000000';

/** Parses `Bearer realm="…",service="…"` / `Basic realm="…"`. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (header === null) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (m === null) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1]!.toLowerCase(), params };
}

/** The registry's `{"errors":[{code,message}]}` as one line (never more than 300 characters). */
async function registryErrors(response: Response): Promise<{ codes: string[]; text: string }> {
  const body = await response.text().catch(() => '');
  try {
    const parsed = JSON.parse(body) as { errors?: { code?: string; message?: string }[] };
    const errors = Array.isArray(parsed.errors) ? parsed.errors : [];
    return { codes: errors.map((e) => String(e.code ?? '')), text: errors.map((e) => `${String(e.code ?? '')}: ${String(e.message ?? '')}`).join('; ').slice(0, 300) };
  } catch {
    return { codes: [], text: body.slice(0, 300) };
  }
}

function retryAfterMs(response: Response): number | undefined {
  const value = response.headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Creates a client for one registry. Nothing is sent until a method is called. */
export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  const doFetch = options.fetch ?? fetch;
  const base = `${options.plainHttp === true ? 'http' : 'https'}://${options.registry}`;
  const creds = options.credentials ?? {};
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const chunkBytes = options.chunkBytes ?? 16 * 1024 * 1024;
  const backoff = { initialDelayMs: options.retryDelayMs ?? 500, maxDelayMs: options.maxRetryDelayMs ?? 30_000 };
  /** Authorization per scope (`repository:<name>:pull[,push]`), with its expiry. */
  const tokens = new Map<string, { header: string; expiresAt: number }>();
  let basicOnly = false;
  const hasBasic = creds.username !== undefined && creds.password !== undefined;
  const basicHeader = hasBasic ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
  const scopeOf = (repository: string, push: boolean): string => `repository:${repository}:${push ? 'pull,push' : 'pull'}`;
  const fail = (code: ErrorCode, message: string, cause?: unknown): EdgeMLError => new EdgeMLError(code, `${options.registry}: ${message}`, cause === undefined ? undefined : { cause });

  const authorizationFor = (scope: string): string | undefined => {
    if (basicOnly) return basicHeader;
    const t = tokens.get(scope);
    return t !== undefined && t.expiresAt > Date.now() ? t.header : undefined;
  };

  /** Answers a 401 challenge: remembers how to authorize requests of this scope. */
  async function authenticate(challenge: Challenge | undefined, scope: string, signal: AbortSignal | undefined): Promise<void> {
    if (challenge?.scheme === 'basic') {
      if (basicHeader === undefined) throw fail('REGISTRY_UNAUTHORIZED', 'the registry asks for a user name and password and none are configured');
      basicOnly = true;
      return;
    }
    if (challenge?.scheme !== 'bearer' || challenge.params['realm'] === undefined) throw fail('REGISTRY_UNAUTHORIZED', 'the registry refused the request without an authentication challenge this client can answer');
    const realm = challenge.params['realm'];
    const service = challenge.params['service'] ?? options.registry;
    const wanted = [scope, ...(challenge.params['scope'] === undefined || challenge.params['scope'] === scope ? [] : [challenge.params['scope']])];
    const timeout = AbortSignal.timeout(requestTimeoutMs);
    const s = signal === undefined ? timeout : AbortSignal.any([timeout, signal]);
    let answer: Response;
    try {
      if (creds.aadAccessToken !== undefined || (creds.username === ACR_NULL_USER && creds.password !== undefined)) {
        // ACR: Entra ID access token → refresh token (POST /oauth2/exchange), then refresh token → access token.
        let refreshToken = creds.password;
        if (creds.aadAccessToken !== undefined) {
          const form = new URLSearchParams({ grant_type: 'access_token', service, access_token: creds.aadAccessToken, ...(creds.tenant === undefined ? {} : { tenant: creds.tenant }) });
          const exchanged = await doFetch(new URL('/oauth2/exchange', realm), { method: 'POST', body: form, signal: s });
          if (!exchanged.ok) throw fail('REGISTRY_UNAUTHORIZED', `the token exchange (/oauth2/exchange) answered ${exchanged.status}`);
          refreshToken = ((await exchanged.json()) as { refresh_token?: string }).refresh_token;
          if (refreshToken === undefined) throw fail('REGISTRY_UNAUTHORIZED', 'the token exchange returned no refresh_token');
        }
        const form = new URLSearchParams({ grant_type: 'refresh_token', service, scope: wanted.join(' '), refresh_token: refreshToken! });
        answer = await doFetch(realm, { method: 'POST', body: form, signal: s });
      } else {
        const url = new URL(realm);
        url.searchParams.set('service', service);
        for (const w of wanted) url.searchParams.append('scope', w);
        answer = await doFetch(url, { headers: basicHeader === undefined ? {} : { authorization: basicHeader }, signal: s });
      }
    } catch (err: unknown) {
      if ((err as EdgeMLError).code === 'REGISTRY_UNAUTHORIZED') throw err;
      throw fail('REGISTRY_UNAVAILABLE', `the token service did not answer: ${errorMessage(err)}`, err);
    }
    if (answer.status === 401 || answer.status === 403) throw fail('REGISTRY_UNAUTHORIZED', `the token service refused the credentials (${answer.status}${hasBasic || creds.aadAccessToken !== undefined ? '' : ', none configured'})`);
    if (!answer.ok) throw fail('REGISTRY_UNAVAILABLE', `the token service answered ${answer.status}`);
    const body = (await answer.json()) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.access_token ?? body.token;
    if (token === undefined) throw fail('REGISTRY_UNAUTHORIZED', 'the token service returned no token');
    // Renewed a little before it expires; 60 s is the spec's default lifetime.
    tokens.set(scope, { header: `Bearer ${token}`, expiresAt: Date.now() + Math.max(10, (body.expires_in ?? 60) - 10) * 1000 });
  }

  async function request(spec: RequestSpec): Promise<Response> {
    const scope = scopeOf(spec.repository, spec.push === true);
    const url = /^https?:\/\//.test(spec.url) ? spec.url : `${base}${spec.url}`;
    let authenticated = false;
    let lastFailure: EdgeMLError | undefined;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const auth = authorizationFor(scope);
      const timeout = AbortSignal.timeout(spec.timeoutMs ?? requestTimeoutMs);
      const signal = spec.signal === undefined ? timeout : AbortSignal.any([timeout, spec.signal]);
      let response: Response;
      try {
        const body = spec.body === undefined ? undefined : await spec.body();
        response = await doFetch(url, {
          method: spec.method,
          headers: { ...spec.headers, ...(auth === undefined ? {} : { authorization: auth }) },
          ...(body === undefined ? {} : { body, duplex: 'half' }),
          redirect: 'follow',
          signal,
        } as RequestInit);
      } catch (err: unknown) {
        if (spec.signal?.aborted === true) throw new EdgeMLError('ABORTED', `${spec.what}: cancelled`, { cause: err });
        lastFailure = fail('REGISTRY_UNAVAILABLE', `${spec.what}: no answer (${timeout.aborted ? `timed out after ${spec.timeoutMs ?? requestTimeoutMs} ms` : errorMessage(err)})`, err);
        if (attempt < maxAttempts) await sleep(backoffDelayMs(attempt, backoff), spec.signal);
        continue;
      }
      if (spec.okStatuses.includes(response.status) || (spec.notFoundOk === true && response.status === 404)) return response;
      if (response.status === 401 && !authenticated) {
        await response.body?.cancel().catch(() => undefined);
        authenticated = true;
        tokens.delete(scope);
        await authenticate(parseChallenge(response.headers.get('www-authenticate')), scope, spec.signal);
        attempt--; // the challenge round trip is not a failed attempt
        continue;
      }
      const errors = await registryErrors(response);
      const detail = `${spec.what}: HTTP ${response.status}${errors.text === '' ? '' : ` (${errors.text})`}`;
      if (response.status === 401 || response.status === 403) throw fail('REGISTRY_UNAUTHORIZED', `${detail}${hasBasic || creds.aadAccessToken !== undefined ? '' : '; no credentials are configured for this registry'}`);
      if (response.status === 404) throw fail('REGISTRY_NOT_FOUND', detail);
      if (response.status === 429 || response.status >= 500) {
        lastFailure = fail(response.status === 429 ? 'REGISTRY_THROTTLED' : 'REGISTRY_UNAVAILABLE', detail);
        if (attempt < maxAttempts) await sleep(Math.min(backoff.maxDelayMs, retryAfterMs(response) ?? backoffDelayMs(attempt, backoff)), spec.signal);
        continue;
      }
      if (errors.codes.includes('DIGEST_INVALID') || errors.codes.includes('SIZE_INVALID')) throw fail('DIGEST_MISMATCH', detail);
      if (errors.codes.some((c) => c === 'NAME_INVALID' || c === 'TAG_INVALID')) throw fail('CONFIG_INVALID', detail);
      throw fail('ARTIFACT_INVALID', detail);
    }
    throw lastFailure ?? fail('REGISTRY_UNAVAILABLE', `${spec.what}: no answer`);
  }

  /** Reads a response body into memory, at most `maxBytes`. */
  async function readCapped(response: Response, maxBytes: number, what: string): Promise<Buffer> {
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (Number.isFinite(declared) && declared > maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw fail('FILE_TOO_LARGE', `${what} is ${declared} bytes; at most ${maxBytes} are accepted`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of (response.body ?? []) as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > maxBytes) throw fail('FILE_TOO_LARGE', `${what} exceeds ${maxBytes} bytes`);
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  }

  /** An upload Location, absolute, with `digest` added to its query. */
  const withDigest = (location: string, digest: string): string => {
    const u = new URL(location, base);
    u.searchParams.set('digest', digest);
    return u.toString();
  };

  const client: RegistryClient = {
    registry: options.registry,

    async resolve(repository, reference, signal) {
      const response = await request({ method: 'HEAD', url: `/v2/${repository}/manifests/${reference}`, repository, headers: { accept: MANIFEST_ACCEPT }, okStatuses: [200], signal, what: `manifest ${repository}:${reference}` });
      const digest = response.headers.get('docker-content-digest');
      const mediaType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
      const size = Number(response.headers.get('content-length') ?? Number.NaN);
      if (digest === null || !/^sha256:[0-9a-f]{64}$/.test(digest)) {
        // The spec makes the header optional: fetch the manifest and hash it.
        const m = await client.getManifest(repository, reference, signal === undefined ? {} : { signal });
        return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
      }
      if (reference.startsWith('sha256:') && digest !== reference) throw fail('DIGEST_MISMATCH', `manifest ${repository}@${reference}: the registry answered for ${digest}`);
      return { digest, mediaType, size };
    },

    async getManifest(repository, reference, opts = {}) {
      const what = `manifest ${repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
      const response = await request({ method: 'GET', url: `/v2/${repository}/manifests/${reference}`, repository, headers: { accept: MANIFEST_ACCEPT }, okStatuses: [200], signal: opts.signal, what });
      const bytes = await readCapped(response, opts.maxBytes ?? 4 * 1024 * 1024, what);
      const digest = sha256Digest(bytes);
      if (reference.startsWith('sha256:') && digest !== reference) throw fail('DIGEST_MISMATCH', `${what}: the content hashes to ${digest}`);
      const announced = response.headers.get('docker-content-digest');
      if (announced !== null && announced.startsWith('sha256:') && announced !== digest) throw fail('DIGEST_MISMATCH', `${what}: the registry says ${announced}, the content hashes to ${digest}`);
      const mediaType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
      return { bytes, digest, mediaType };
    },

    async readBlob(repository, descriptor, opts = {}) {
      const what = `blob ${descriptor.digest}`;
      const maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
      if (descriptor.size > maxBytes) throw fail('FILE_TOO_LARGE', `${what} is ${descriptor.size} bytes; at most ${maxBytes} are accepted`);
      const response = await request({ method: 'GET', url: `/v2/${repository}/blobs/${descriptor.digest}`, repository, okStatuses: [200], signal: opts.signal, what });
      const bytes = await readCapped(response, Math.min(maxBytes, descriptor.size), what);
      if (bytes.length !== descriptor.size || sha256Digest(bytes) !== descriptor.digest) throw fail('DIGEST_MISMATCH', `${what}: ${bytes.length} bytes hashing to ${sha256Digest(bytes)}, the manifest says ${descriptor.size} bytes`);
      return bytes;
    },

    async downloadBlob(repository, descriptor, file, opts) {
      const what = `blob ${descriptor.digest}`;
      if (descriptor.size > opts.maxBytes) throw fail('FILE_TOO_LARGE', `${what} is ${descriptor.size} bytes; at most ${opts.maxBytes} are accepted`);
      const response = await request({ method: 'GET', url: `/v2/${repository}/blobs/${descriptor.digest}`, repository, okStatuses: [200], signal: opts.signal, ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }), what });
      const { sha256: hex, sizeBytes: size } = await writeStreamHashed((response.body ?? []) as AsyncIterable<Uint8Array>, file, {
        maxBytes: descriptor.size,
        tooLarge: () => fail('DIGEST_MISMATCH', `${what}: more than the ${descriptor.size} bytes the manifest says`),
        failed: (err, received) =>
          opts.signal?.aborted === true
            ? new EdgeMLError('ABORTED', `${what}: cancelled`, { cause: err })
            : fail('REGISTRY_UNAVAILABLE', `${what}: the download broke off after ${received} bytes: ${errorMessage(err)}`, err),
      });
      const digest = `sha256:${hex}`;
      if (size !== descriptor.size || digest !== descriptor.digest) throw fail('DIGEST_MISMATCH', `${what}: ${size} bytes hashing to ${digest}, the manifest says ${descriptor.size} bytes`);
    },

    async blobExists(repository, digest, signal) {
      const response = await request({ method: 'HEAD', url: `/v2/${repository}/blobs/${digest}`, repository, okStatuses: [200], notFoundOk: true, signal, what: `blob ${digest}` });
      return response.status === 200;
    },

    async uploadBlob(repository, blob, signal) {
      if (await client.blobExists(repository, blob.digest, signal)) return { uploaded: false };
      const what = `upload of ${blob.digest}`;
      const started = await request({ method: 'POST', url: `/v2/${repository}/blobs/uploads/`, repository, push: true, headers: { 'content-length': '0' }, okStatuses: [202], signal, what });
      let location = started.headers.get('location');
      await started.body?.cancel().catch(() => undefined);
      if (location === null) throw fail('ARTIFACT_INVALID', `${what}: the registry gave no upload Location`);
      const slice = async (start: number, end: number): Promise<Uint8Array> => {
        if (blob.bytes !== undefined) return blob.bytes.subarray(start, end);
        const fh = await open(blob.file!, 'r');
        try {
          const buf = Buffer.alloc(end - start);
          const { bytesRead } = await fh.read(buf, 0, buf.length, start);
          if (bytesRead !== buf.length) throw new EdgeMLError('FILE_UNREADABLE', `${blob.file} is shorter than ${end} bytes`);
          return buf;
        } finally {
          await fh.close();
        }
      };
      if (blob.size > chunkBytes) {
        for (let start = 0; start < blob.size; start += chunkBytes) {
          const end = Math.min(blob.size, start + chunkBytes);
          const response = await request({
            method: 'PATCH',
            url: new URL(location, base).toString(),
            repository,
            push: true,
            headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${end - 1}`, 'content-length': String(end - start) },
            body: () => slice(start, end),
            okStatuses: [202],
            signal,
            what: `${what} (bytes ${start}-${end - 1})`,
          });
          location = response.headers.get('location') ?? location;
          await response.body?.cancel().catch(() => undefined);
        }
        const done = await request({ method: 'PUT', url: withDigest(location, blob.digest), repository, push: true, headers: { 'content-length': '0' }, okStatuses: [201], signal, what });
        await done.body?.cancel().catch(() => undefined);
        return { uploaded: true };
      }
      const done = await request({
        method: 'PUT',
        url: withDigest(location, blob.digest),
        repository,
        push: true,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
        body: () => slice(0, blob.size),
        okStatuses: [201],
        signal,
        what,
      });
      await done.body?.cancel().catch(() => undefined);
      return { uploaded: true };
    },

    async putManifest(repository, reference, bytes, mediaType, signal) {
      const response = await request({
        method: 'PUT',
        url: `/v2/${repository}/manifests/${reference}`,
        repository,
        push: true,
        headers: { 'content-type': mediaType },
        body: () => bytes,
        okStatuses: [201],
        signal,
        what: `manifest ${repository}:${reference}`,
      });
      await response.body?.cancel().catch(() => undefined);
      const ours = sha256Digest(bytes);
      const theirs = response.headers.get('docker-content-digest');
      if (theirs !== null && theirs !== ours) throw fail('DIGEST_MISMATCH', `manifest ${repository}:${reference}: the registry stored ${theirs}, the manifest hashes to ${ours}`);
      return ours;
    },
  };
  return client;
}
