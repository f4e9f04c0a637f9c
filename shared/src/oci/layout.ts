/**
 * OCI image layouts (image-spec v1.1 `image-layout.md`) for air-gapped sites: a directory with
 * `oci-layout`, `index.json` and `blobs/sha256/<hex>` (what `oras copy --to-oci-layout` writes), or
 * the same as a tar file (what `edgeml model pull --oci-layout FILE` writes). A layout is read as a
 * {@link ContentSource}: every manifest and blob is verified against its digest, as from a registry.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import tarStream, { type Header } from 'tar-stream';

/** A member as tar-stream's extract yields it (a streamx Readable with its header). */
type TarEntry = AsyncIterable<Uint8Array> & { readonly header: Header; resume(): unknown };
import { EdgeMLError, errorMessage } from '../errors.js';
import type { ContentSource } from './content-source.js';
import type { OciDescriptor, OciIndex } from './media-types.js';
import { OCI_MEDIA_TYPES } from './media-types.js';
import { safeMemberName } from './image-layer.js';
import type { FetchedManifest } from './registry/types.js';

const REF_NAME = 'org.opencontainers.image.ref.name';
const BLOB_RE = /^blobs\/sha256\/([0-9a-f]{64})$/;

const blobPath = (dir: string, digest: string): string => path.join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));

async function hashFile(file: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** The layout's index (manifests and their ref names). @throws EdgeMLError ARTIFACT_INVALID */
export async function readLayoutIndex(dir: string): Promise<OciIndex> {
  let index: OciIndex;
  try {
    index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as OciIndex;
  } catch (err: unknown) {
    throw new EdgeMLError('ARTIFACT_INVALID', `${dir} is not an OCI image layout (index.json: ${errorMessage(err)})`, { cause: err });
  }
  if (index.schemaVersion !== 2 || !Array.isArray(index.manifests)) throw new EdgeMLError('ARTIFACT_INVALID', `${dir}/index.json is not an image index`);
  return index;
}

/** A layout directory as a content source; a tag resolves through the index's `ref.name` annotations. */
export function layoutSource(dir: string): ContentSource {
  const verified = async (descriptor: { digest: string; size?: number }, maxBytes: number): Promise<string> => {
    const file = blobPath(dir, descriptor.digest);
    const st = await stat(file).catch(() => undefined);
    if (st === undefined) throw new EdgeMLError('REGISTRY_NOT_FOUND', `${dir}: no blob ${descriptor.digest}`);
    if (st.size > maxBytes) throw new EdgeMLError('FILE_TOO_LARGE', `${dir}: blob ${descriptor.digest} is ${st.size} bytes; at most ${maxBytes} are accepted`);
    const { digest, size } = await hashFile(file);
    if (digest !== descriptor.digest || (descriptor.size !== undefined && size !== descriptor.size)) throw new EdgeMLError('DIGEST_MISMATCH', `${dir}: blob ${descriptor.digest} holds ${size} bytes hashing to ${digest}`);
    return file;
  };
  return {
    name: dir,
    async getManifest(reference, options = {}): Promise<FetchedManifest> {
      let descriptor: OciDescriptor | undefined;
      const index = await readLayoutIndex(dir);
      if (reference.startsWith('sha256:')) descriptor = index.manifests.find((m) => m.digest === reference) ?? { mediaType: OCI_MEDIA_TYPES.manifest, digest: reference, size: -1 };
      else descriptor = index.manifests.find((m) => m.annotations?.[REF_NAME] === reference || m.annotations?.[REF_NAME]?.endsWith(`:${reference}`) === true);
      if (descriptor === undefined) throw new EdgeMLError('REGISTRY_NOT_FOUND', `${dir}: no manifest tagged ${reference}`);
      const file = await verified({ digest: descriptor.digest, ...(descriptor.size >= 0 ? { size: descriptor.size } : {}) }, options.maxBytes ?? 4 * 1024 * 1024);
      const bytes = await readFile(file);
      let mediaType = descriptor.mediaType;
      try {
        mediaType = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? mediaType;
      } catch {
        // not JSON: locatePackage says so with its own code
      }
      return { bytes, digest: descriptor.digest, mediaType };
    },
    async readBlob(descriptor, options = {}) {
      return readFile(await verified(descriptor, options.maxBytes ?? 4 * 1024 * 1024));
    },
    async downloadBlob(descriptor, file, options) {
      await copyFile(await verified(descriptor, options.maxBytes), file);
    },
  };
}

/**
 * Unpacks a layout tar into `destDir` (only `oci-layout`, `index.json` and `blobs/sha256/<hex>`;
 * every other member is skipped, a `..` member refuses the file, sizes capped).
 * @throws EdgeMLError PATH_OUTSIDE_ROOT, FILE_TOO_LARGE, INPUT_MALFORMED
 */
export async function unpackLayoutTar(tarFile: string, destDir: string, maxBytes: number): Promise<void> {
  await mkdir(path.join(destDir, 'blobs', 'sha256'), { recursive: true });
  const extract = tarStream.extract();
  let total = 0;
  const entries = (async () => {
    for await (const entry of extract as unknown as AsyncIterable<TarEntry>) {
      const name = safeMemberName(entry.header.name);
      const size = entry.header.size ?? 0;
      total += size;
      if (size > maxBytes || total > maxBytes) throw new EdgeMLError('FILE_TOO_LARGE', `${tarFile} holds more than ${maxBytes} bytes`);
      const keep = entry.header.type === 'file' && (name === 'oci-layout' || name === 'index.json' || BLOB_RE.test(name));
      if (!keep) {
        entry.resume();
        continue;
      }
      const out = createWriteStream(path.join(destDir, ...name.split('/')));
      for await (const chunk of entry as AsyncIterable<Uint8Array>) if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    }
  })();
  const source = createReadStream(tarFile);
  source.pipe(extract as unknown as NodeJS.WritableStream);
  try {
    await entries;
  } catch (err: unknown) {
    source.destroy();
    extract.destroy();
    const code = (err as EdgeMLError).code;
    if (code === 'PATH_OUTSIDE_ROOT' || code === 'FILE_TOO_LARGE') throw err;
    throw new EdgeMLError('INPUT_MALFORMED', `${tarFile} is not a readable tar: ${errorMessage(err)}`, { cause: err });
  }
}

/** One blob to put in a layout: from a file or bytes. */
export interface LayoutBlob {
  readonly digest: string;
  readonly file?: string;
  readonly bytes?: Buffer;
}

/**
 * Writes a layout tar holding one manifest (tagged `refName`) and its blobs.
 */
export async function writeLayoutTar(target: string, manifest: { readonly bytes: Buffer; readonly digest: string; readonly mediaType: string; readonly refName?: string }, blobs: readonly LayoutBlob[]): Promise<void> {
  const pack = tarStream.pack();
  const out = createWriteStream(target, { flags: 'w' });
  const done = new Promise<void>((resolve, reject) => {
    out.once('close', resolve);
    out.once('error', reject);
  });
  (pack as unknown as NodeJS.ReadableStream).pipe(out);
  const add = (name: string, data: Buffer): Promise<void> => new Promise((resolve, reject) => pack.entry({ name, size: data.length, mode: 0o644, mtime: new Date(0) }, data, (err) => (err ? reject(err) : resolve())));
  try {
    const index: OciIndex = {
      schemaVersion: 2,
      mediaType: OCI_MEDIA_TYPES.index,
      manifests: [{ mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length, ...(manifest.refName === undefined ? {} : { annotations: { [REF_NAME]: manifest.refName } }) }],
    };
    await add('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    await add('index.json', Buffer.from(JSON.stringify(index)));
    await add(`blobs/sha256/${manifest.digest.slice(7)}`, manifest.bytes);
    const seen = new Set<string>([manifest.digest]);
    for (const blob of blobs) {
      if (seen.has(blob.digest)) continue;
      seen.add(blob.digest);
      await add(`blobs/sha256/${blob.digest.slice(7)}`, blob.bytes ?? (await readFile(blob.file!)));
    }
    pack.finalize();
    await done;
  } catch (err: unknown) {
    pack.destroy();
    out.destroy();
    await rm(target, { force: true });
    throw err;
  }
}
