/**
 * Reading blobs: whether one exists (HEAD), a small one into memory, or a large one streamed into a
 * file. Each is refused before any byte is read when its descriptor's size exceeds the caller's
 * limit (FILE_TOO_LARGE), is read no further than that size, and must match the descriptor's size
 * and sha256 digest (DIGEST_MISMATCH).
 */
import { EdgeMLError, errorMessage } from '../../errors.js';
import { writeStreamHashed } from '../../files.js';
import { readCapped, sha256Digest } from './content.js';
import type { Fail } from './failures.js';
import type { SendRequest } from './transport.js';
import type { RegistryClient } from './types.js';

export type BlobReads = Pick<RegistryClient, 'blobExists' | 'readBlob' | 'downloadBlob'>;

export function createBlobReads(deps: { readonly request: SendRequest; readonly fail: Fail }): BlobReads {
  const { request, fail } = deps;
  return {
    async blobExists(repository, digest, signal) {
      const response = await request({ method: 'HEAD', url: `/v2/${repository}/blobs/${digest}`, repository, okStatuses: [200], notFoundOk: true, signal, what: `blob ${digest}` });
      return response.status === 200;
    },

    async readBlob(repository, descriptor, opts = {}) {
      const what = `blob ${descriptor.digest}`;
      const maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
      if (descriptor.size > maxBytes) throw fail('FILE_TOO_LARGE', `${what} is ${descriptor.size} bytes; at most ${maxBytes} are accepted`);
      const response = await request({ method: 'GET', url: `/v2/${repository}/blobs/${descriptor.digest}`, repository, okStatuses: [200], signal: opts.signal, what });
      const bytes = await readCapped(response, Math.min(maxBytes, descriptor.size), what, fail);
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
  };
}
