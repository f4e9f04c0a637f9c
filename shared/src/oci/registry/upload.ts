/**
 * Uploading a blob the repository does not have yet: an upload session (POST), then the whole blob in
 * one PUT with `?digest=`, or — above `chunkBytes` — PATCH chunks following each answer's Location
 * and a closing PUT. The bytes come from memory or are read from the file per attempt, so a retried
 * request sends them again; the registry checks the digest (its DIGEST_INVALID is DIGEST_MISMATCH).
 */
import { open } from 'node:fs/promises';
import { EdgeMLError } from '../../errors.js';
import { discard } from './content.js';
import type { Fail } from './failures.js';
import type { SendRequest } from './transport.js';
import type { BlobSource, RegistryClient } from './types.js';

export interface BlobUploadDeps {
  /** `http[s]://host[:port]`, against which a relative Location is resolved. */
  readonly base: string;
  /** Largest blob sent in one request. */
  readonly chunkBytes: number;
  readonly request: SendRequest;
  readonly blobExists: RegistryClient['blobExists'];
  readonly fail: Fail;
}

/** Bytes `start`..`end` (exclusive) of the blob. */
async function sliceOf(blob: BlobSource, start: number, end: number): Promise<Uint8Array> {
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
}

export function createBlobUpload(deps: BlobUploadDeps): RegistryClient['uploadBlob'] {
  const { request, base, chunkBytes } = deps;

  /** An upload Location, absolute, with `digest` added to its query. */
  const withDigest = (location: string, digest: string): string => {
    const u = new URL(location, base);
    u.searchParams.set('digest', digest);
    return u.toString();
  };

  /** Sends the blob in PATCH chunks of `chunkBytes`; returns the Location to close the upload at. */
  async function sendChunks(repository: string, blob: BlobSource, started: string, what: string, signal: AbortSignal | undefined): Promise<string> {
    let location = started;
    for (let start = 0; start < blob.size; start += chunkBytes) {
      const end = Math.min(blob.size, start + chunkBytes);
      const response = await request({
        method: 'PATCH',
        url: new URL(location, base).toString(),
        repository,
        push: true,
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${end - 1}`, 'content-length': String(end - start) },
        body: () => sliceOf(blob, start, end),
        okStatuses: [202],
        signal,
        what: `${what} (bytes ${start}-${end - 1})`,
      });
      location = response.headers.get('location') ?? location;
      await discard(response);
    }
    return location;
  }

  return async function uploadBlob(repository, blob, signal) {
    if (await deps.blobExists(repository, blob.digest, signal)) return { uploaded: false };
    const what = `upload of ${blob.digest}`;
    const started = await request({ method: 'POST', url: `/v2/${repository}/blobs/uploads/`, repository, push: true, headers: { 'content-length': '0' }, okStatuses: [202], signal, what });
    const location = started.headers.get('location');
    await discard(started);
    if (location === null) throw deps.fail('ARTIFACT_INVALID', `${what}: the registry gave no upload Location`);
    if (blob.size > chunkBytes) {
      const last = await sendChunks(repository, blob, location, what, signal);
      const done = await request({ method: 'PUT', url: withDigest(last, blob.digest), repository, push: true, headers: { 'content-length': '0' }, okStatuses: [201], signal, what });
      await discard(done);
      return { uploaded: true };
    }
    const done = await request({
      method: 'PUT',
      url: withDigest(location, blob.digest),
      repository,
      push: true,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      body: () => sliceOf(blob, 0, blob.size),
      okStatuses: [201],
      signal,
      what,
    });
    await discard(done);
    return { uploaded: true };
  };
}
