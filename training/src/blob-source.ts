/**
 * The one adapter around `@azure/storage-blob` in training/: copies a dataset folder from Blob Storage
 * (Azure, or Azurite under `npm start`) to a local folder, keeping the names below the prefix, so the
 * training reads it as Azure ML would mount it. Bounded in bytes.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { EdgeMLError, errorMessage } from '@edgeml/shared';

export interface BlobDataset {
  readonly connectionString: string;
  readonly container: string;
  /** Folder in the container ('' for all of it). */
  readonly prefix: string;
  readonly targetDir: string;
  /** Default 8 GiB. */
  readonly maxBytes?: number;
}

/** `blob:<container>[/<prefix>]` → its parts, or undefined for any other --data. */
export function parseBlobData(data: string): { container: string; prefix: string } | undefined {
  const m = /^blob:([a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])?)(?:\/(.*))?$/.exec(data);
  if (m === null) return undefined;
  return { container: m[1]!, prefix: (m[2] ?? '').replace(/^\/+|\/+$/g, '') };
}

/**
 * @returns the files copied, their bytes and the folder's URL (for the manifest's provenance)
 * @throws EdgeMLError FILE_NOT_FOUND (no blob under the prefix), FILE_TOO_LARGE (over maxBytes), INPUT_MALFORMED (a name leaving the folder), SINK_UNAVAILABLE
 */
export async function downloadBlobDataset(o: BlobDataset): Promise<{ files: number; bytes: number; url: string }> {
  const container = BlobServiceClient.fromConnectionString(o.connectionString).getContainerClient(o.container);
  const prefix = o.prefix === '' ? '' : `${o.prefix}/`;
  const maxBytes = o.maxBytes ?? 8 * 1024 ** 3;
  let files = 0;
  let bytes = 0;
  try {
    for await (const blob of container.listBlobsFlat({ prefix })) {
      const rel = blob.name.slice(prefix.length);
      const target = path.resolve(o.targetDir, rel);
      if (rel === '' || !target.startsWith(path.resolve(o.targetDir) + path.sep)) throw new EdgeMLError('INPUT_MALFORMED', `blob ${blob.name} would land outside the download folder`);
      bytes += blob.properties.contentLength ?? 0;
      if (bytes > maxBytes) throw new EdgeMLError('FILE_TOO_LARGE', `the dataset under ${o.container}/${prefix} is over ${maxBytes} bytes`);
      await mkdir(path.dirname(target), { recursive: true });
      await container.getBlobClient(blob.name).downloadToFile(target);
      files++;
    }
  } catch (err: unknown) {
    if (err instanceof EdgeMLError) throw err;
    throw new EdgeMLError('SINK_UNAVAILABLE', `cannot read ${o.container}/${prefix} from Blob Storage: ${errorMessage(err)}`, { cause: err });
  }
  if (files === 0) throw new EdgeMLError('FILE_NOT_FOUND', `no blob under ${o.container}/${prefix}`);
  return { files, bytes, url: `${container.url}/${prefix}` };
}
