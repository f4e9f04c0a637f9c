/**
 * Manifests: resolving a tag to a digest, fetching one (at most 4 MiB by default) and verifying that
 * its bytes hash to the digest asked for and to the Docker-Content-Digest the registry announces, and
 * putting one (checking the digest the registry stored against ours). A mismatch is DIGEST_MISMATCH.
 */
import { MANIFEST_ACCEPT } from '../media-types.js';
import { discard, mediaTypeOf, readCapped, sha256Digest } from './content.js';
import type { Fail } from './failures.js';
import type { SendRequest } from './transport.js';
import type { RegistryClient } from './types.js';

export type ManifestOperations = Pick<RegistryClient, 'resolve' | 'getManifest' | 'putManifest'>;

export function createManifestOperations(deps: { readonly request: SendRequest; readonly fail: Fail }): ManifestOperations {
  const { request, fail } = deps;

  const getManifest: ManifestOperations['getManifest'] = async (repository, reference, opts = {}) => {
    const what = `manifest ${repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
    const response = await request({ method: 'GET', url: `/v2/${repository}/manifests/${reference}`, repository, headers: { accept: MANIFEST_ACCEPT }, okStatuses: [200], signal: opts.signal, what });
    const bytes = await readCapped(response, opts.maxBytes ?? 4 * 1024 * 1024, what, fail);
    const digest = sha256Digest(bytes);
    if (reference.startsWith('sha256:') && digest !== reference) throw fail('DIGEST_MISMATCH', `${what}: the content hashes to ${digest}`);
    const announced = response.headers.get('docker-content-digest');
    if (announced !== null && announced.startsWith('sha256:') && announced !== digest) throw fail('DIGEST_MISMATCH', `${what}: the registry says ${announced}, the content hashes to ${digest}`);
    return { bytes, digest, mediaType: mediaTypeOf(response) };
  };

  return {
    async resolve(repository, reference, signal) {
      const response = await request({ method: 'HEAD', url: `/v2/${repository}/manifests/${reference}`, repository, headers: { accept: MANIFEST_ACCEPT }, okStatuses: [200], signal, what: `manifest ${repository}:${reference}` });
      const digest = response.headers.get('docker-content-digest');
      const mediaType = mediaTypeOf(response);
      const size = Number(response.headers.get('content-length') ?? Number.NaN);
      if (digest === null || !/^sha256:[0-9a-f]{64}$/.test(digest)) {
        // The spec makes the header optional: fetch the manifest and hash it.
        const m = await getManifest(repository, reference, signal === undefined ? {} : { signal });
        return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
      }
      if (reference.startsWith('sha256:') && digest !== reference) throw fail('DIGEST_MISMATCH', `manifest ${repository}@${reference}: the registry answered for ${digest}`);
      return { digest, mediaType, size };
    },

    getManifest,

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
      await discard(response);
      const ours = sha256Digest(bytes);
      const theirs = response.headers.get('docker-content-digest');
      if (theirs !== null && theirs !== ours) throw fail('DIGEST_MISMATCH', `manifest ${repository}:${reference}: the registry stored ${theirs}, the manifest hashes to ${ours}`);
      return ours;
    },
  };
}
