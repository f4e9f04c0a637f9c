import { open } from 'node:fs/promises';
import path from 'node:path';
import { EdgeMLError, toRelative, type DataPaths, type FileMessage, type SourceRef } from '@edgeml/shared';

/**
 * Reads a whole source file, at most `maxBytes` (+1 to notice growth: the stat done earlier may be
 * stale). @throws EdgeMLError FILE_TOO_LARGE naming `setting`; the fs error otherwise
 */
export async function readBounded(file: string, maxBytes: number, setting: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, (await handle.stat()).size + 1));
    let filled = 0;
    while (filled < buf.length) {
      const { bytesRead } = await handle.read(buf, filled, buf.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled > maxBytes) throw new EdgeMLError('FILE_TOO_LARGE', `file is over ${setting} (${maxBytes} bytes)`);
    return buf.subarray(0, filled);
  } finally {
    await handle.close();
  }
}

/** The source as derived messages name it. */
export function sourceRef(msg: FileMessage): SourceRef {
  return { path: msg.source.path, sha256: msg.source.sha256, sizeBytes: msg.source.sizeBytes, detectedAt: msg.source.detectedAt };
}

/** A staging file of source `id`: absolute path, and the path relative to the data root that messages carry. */
export function stagingFile(paths: DataPaths, id: string, name: string): { abs: string; rel: string } {
  const abs = path.join(paths.staging, id, name);
  return { abs, rel: toRelative(paths.root, abs) };
}
