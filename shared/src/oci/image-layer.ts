/**
 * Takes model.onnx and manifest.json out of a container image's tar layer (plain or gzip), safely:
 * the layer's blob is already verified by digest; here every member name is checked (an absolute
 * path or a `..` component refuses the whole layer: PATH_OUTSIDE_ROOT), every member's declared
 * size is checked against a cap *before* its body is read (a 10 GB member is refused from its
 * header: FILE_TOO_LARGE), the bytes unpacked in all are capped (a gzip bomb), links are never
 * followed or created, and only the two files of the model folder are written.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tarStream, { type Header } from 'tar-stream';

/** A member as tar-stream's extract yields it (a streamx Readable with its header). */
type TarEntry = AsyncIterable<Uint8Array> & { readonly header: Header; resume(): unknown };
import { EdgeMLError, errorMessage } from '../errors.js';
import { MODEL_PACKAGE_FILES } from './media-types.js';

export interface ExtractLimits {
  /** Largest member accepted (declared size in its header). */
  readonly maxMemberBytes: number;
  /** Largest total of unpacked bytes read from the layer. */
  readonly maxUnpackedBytes: number;
}

/** The files found (absent when the layer does not carry them; `removed` when a whiteout deleted them). */
export interface ExtractedFiles {
  readonly found: ReadonlySet<string>;
  readonly removed: ReadonlySet<string>;
}

/**
 * Normalises a member name (`./models/x` → `models/x`).
 * @throws EdgeMLError PATH_OUTSIDE_ROOT for an absolute name after normalisation or any `..` component
 */
export function safeMemberName(name: string): string {
  const unified = name.replace(/\\/g, '/');
  const parts = unified.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..') || /^[a-zA-Z]:/.test(unified)) throw new EdgeMLError('PATH_OUTSIDE_ROOT', `the layer has a member that escapes its root: ${JSON.stringify(name.slice(0, 200))}`);
  return parts.join('/');
}

/**
 * Extracts `<folder>/model.onnx` and `<folder>/manifest.json` from a layer file into `destDir`
 * (a later member of the same name replaces an earlier one, as layers stack; a whiteout
 * `<folder>/.wh.<file>` removes it).
 * @throws EdgeMLError PATH_OUTSIDE_ROOT, FILE_TOO_LARGE, FILE_NOT_REGULAR (a wanted file that is a link), INPUT_MALFORMED (not a tar, bad gzip)
 */
export async function extractModelFiles(layerFile: string, folder: string, destDir: string, limits: ExtractLimits): Promise<ExtractedFiles> {
  const wanted = new Map([MODEL_PACKAGE_FILES.model, MODEL_PACKAGE_FILES.manifest].map((f) => [folder === '' ? f : `${folder}/${f}`, f]));
  const found = new Set<string>();
  const removed = new Set<string>();
  const head = await readHead(layerFile);
  const gzipped = head[0] === 0x1f && head[1] === 0x8b;
  const extract = tarStream.extract();
  let unpacked = 0;
  const entries = (async () => {
    for await (const entry of extract as unknown as AsyncIterable<TarEntry>) {
      const h = entry.header;
      const name = safeMemberName(h.name);
      const size = h.size ?? 0;
      if (size > limits.maxMemberBytes) throw new EdgeMLError('FILE_TOO_LARGE', `layer member ${JSON.stringify(name.slice(0, 200))} declares ${size} bytes; at most ${limits.maxMemberBytes} are accepted`);
      unpacked += size;
      if (unpacked > limits.maxUnpackedBytes) throw new EdgeMLError('FILE_TOO_LARGE', `the layer unpacks to more than ${limits.maxUnpackedBytes} bytes`);
      const base = path.posix.basename(name);
      const dir = path.posix.dirname(name);
      const whiteout = base.startsWith('.wh.') ? wanted.get(`${dir}/${base.slice(4)}`) ?? (dir === '.' ? wanted.get(base.slice(4)) : undefined) : undefined;
      const target = wanted.get(name);
      if (whiteout !== undefined) {
        await rm(path.join(destDir, whiteout), { force: true });
        found.delete(whiteout);
        removed.add(whiteout);
      }
      if (target === undefined) {
        entry.resume();
        continue;
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file') throw new EdgeMLError('FILE_NOT_REGULAR', `layer member ${name} is a ${h.type ?? 'special entry'}, not a regular file`);
      const file = path.join(destDir, target);
      await rm(file, { force: true });
      await writeEntry(entry, file);
      found.add(target);
      removed.delete(target);
    }
  })();
  const source = createReadStream(layerFile);
  const feed = gzipped ? pipeline(source, createGunzip(), extract) : pipeline(source, extract);
  try {
    await Promise.all([feed, entries]);
  } catch (err: unknown) {
    extract.destroy();
    source.destroy();
    await Promise.allSettled([feed, entries]);
    const code = (err as EdgeMLError).code;
    if (code === 'PATH_OUTSIDE_ROOT' || code === 'FILE_TOO_LARGE' || code === 'FILE_NOT_REGULAR') throw err;
    throw new EdgeMLError('INPUT_MALFORMED', `the layer is not a readable tar${gzipped ? ' (gzip)' : ''}: ${errorMessage(err)}`, { cause: err });
  }
  return { found, removed };
}

/** Writes one member's body (streamx, iterated: not piped through Node's pipeline). */
async function writeEntry(entry: AsyncIterable<Uint8Array>, file: string): Promise<void> {
  const out = createWriteStream(file, { flags: 'wx' });
  const closed = new Promise<void>((resolve, reject) => {
    out.once('close', resolve);
    out.once('error', reject);
  });
  try {
    for await (const chunk of entry) if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    await closed;
  } catch (err: unknown) {
    out.destroy();
    await closed.catch(() => undefined);
    throw err;
  }
}

async function readHead(file: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of Readable.from(createReadStream(file, { start: 0, end: 1 }))) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
