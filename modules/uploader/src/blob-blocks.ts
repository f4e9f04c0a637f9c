import { createHash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { BlockBlobClient } from '@azure/storage-blob';
import { EdgeMLError } from '@edgeml/shared';
import { checkContent, checkSize, type UploadRequest, type UploadResult } from './sink.js';
import type { RateLimiter } from './throttle.js';

/**
 * Block uploads for files above `singleUploadMaxBytes`: Put Block per `blockSizeBytes` (each with
 * its Content-MD5, `blockConcurrency` at a time), then Put Block List with `If-None-Match: *`.
 * Block ids are `index-md5(block)`, so after a crash the blocks already staged are recognised.
 */

/** Block ids must all have the same length within a blob: 6-digit index + '-' + 32 hex MD5. */
export function blockId(index: number, md5Hex: string): string {
  return Buffer.from(`${String(index).padStart(6, '0')}-${md5Hex}`).toString('base64');
}

export function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

export function serviceCodeOf(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** The blob exists already (create-if-absent refused). */
export const isConflict = (err: unknown): boolean => statusOf(err) === 409 || statusOf(err) === 412;

/** What the block path needs from the sink around it. */
export interface BlockUploadDeps {
  readonly blockSizeBytes: number;
  readonly blockConcurrency: number;
  readonly limiter: RateLimiter;
  /** Wraps a service failure with an operator-facing message (permission problems). */
  readonly asSinkError: (err: unknown, operation: string) => unknown;
  /** Decides what an existing blob under the name means (identical, unverifiable, or a conflict). */
  readonly compareExisting: (blob: BlockBlobClient, request: UploadRequest, md5: string, signal: AbortSignal) => Promise<UploadResult>;
  /** Whether the credentials may read blobs (false for a create-only SAS). */
  readonly canRead: () => boolean;
}

interface BlockPlan {
  readonly ids: string[];
  readonly md5: string;
  readonly size: number;
}

async function readBlock(handle: FileHandle, file: string, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let read = 0;
  while (read < length) {
    const r = await handle.read(buf, read, length - read, offset + read);
    if (r.bytesRead === 0) throw new EdgeMLError('INPUT_MALFORMED', `${file} shrank while being uploaded`);
    read += r.bytesRead;
  }
  return buf;
}

async function sizeOf(file: string, request: UploadRequest): Promise<number> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err: unknown) {
    throw new EdgeMLError('FILE_NOT_FOUND', `cannot stat ${file}: ${(err as Error).message}`, { cause: err });
  }
  checkSize(request, size);
  return size;
}

/** Block ids and the whole MD5 of a file, read locally (checked against the announced SHA-256). */
async function planBlocks(file: string, request: UploadRequest, size: number, blockSize: number, signal: AbortSignal): Promise<BlockPlan> {
  const whole = createHash('md5');
  const sha = createHash('sha256');
  const ids: string[] = [];
  const handle = await open(file, 'r');
  try {
    for (let i = 0; i * blockSize < size || i === 0; i++) {
      if (signal.aborted) throw new EdgeMLError('ABORTED', 'upload aborted', { cause: signal.reason });
      const buf = await readBlock(handle, file, i * blockSize, Math.min(blockSize, size - i * blockSize));
      whole.update(buf);
      sha.update(buf);
      ids.push(blockId(i, createHash('md5').update(buf).digest('hex')));
    }
  } finally {
    await handle.close().catch(() => undefined);
  }
  checkContent(request, size, sha.digest('hex'));
  return { ids, md5: whole.digest('base64'), size };
}

/**
 * Uploads a large file in blocks. With read rights, a committed blob is found first (nothing is
 * sent) and already staged blocks are skipped. Without them (a create-only SAS), the block list is
 * committed first as a probe: `409` means the blob exists (nothing is sent), success means every
 * block was staged by an interrupted attempt, and `InvalidBlockList` means the blocks must be sent.
 */
export async function uploadBlocks(deps: BlockUploadDeps, blob: BlockBlobClient, request: UploadRequest, file: string, signal: AbortSignal): Promise<UploadResult> {
  const size = await sizeOf(file, request);
  const headers = (md5: string) => ({ blobContentType: request.contentType, blobContentMD5: Buffer.from(md5, 'base64') });
  const commit = (ids: string[], md5: string) => blob.commitBlockList(ids, { abortSignal: signal, conditions: { ifNoneMatch: '*' }, blobHTTPHeaders: headers(md5), metadata: { ...request.metadata } });
  const staged = new Set<string>();
  if (deps.canRead()) {
    // Committed already (a crash after commit, before the ack): compare, send nothing.
    const exists = await blob.exists({ abortSignal: signal }).catch((err: unknown) => {
      if (statusOf(err) === 403) return false;
      throw deps.asSinkError(err, 'checking for the blob');
    });
    if (exists) return deps.compareExisting(blob, request, (await planBlocks(file, request, size, deps.blockSizeBytes, signal)).md5, signal);
    try {
      const list = await blob.getBlockList('uncommitted', { abortSignal: signal });
      for (const b of list.uncommittedBlocks ?? []) if (b.name !== undefined) staged.add(b.name);
    } catch (err: unknown) {
      if (statusOf(err) !== 404 && statusOf(err) !== 403) throw deps.asSinkError(err, 'listing staged blocks');
    }
  } else {
    const plan = await planBlocks(file, request, size, deps.blockSizeBytes, signal);
    try {
      await commit(plan.ids, plan.md5);
      return { name: request.name, md5: plan.md5, sizeBytes: size, outcome: 'created', bytesSent: 0, blocksStaged: 0, blocksSkipped: plan.ids.length };
    } catch (err: unknown) {
      if (isConflict(err)) return deps.compareExisting(blob, request, plan.md5, signal);
      if (statusOf(err) !== 400 || serviceCodeOf(err) !== 'InvalidBlockList') throw deps.asSinkError(err, 'committing the block list');
    }
  }
  const sent = await stageAll(deps, blob, request, file, size, staged, signal);
  try {
    await commit(sent.ids, sent.md5);
  } catch (err: unknown) {
    if (isConflict(err)) return deps.compareExisting(blob, request, sent.md5, signal);
    throw deps.asSinkError(err, 'committing the block list');
  }
  return { name: request.name, md5: sent.md5, sizeBytes: size, outcome: 'created', bytesSent: sent.bytesSent, blocksStaged: sent.blocksStaged, blocksSkipped: sent.blocksSkipped };
}

/** Sends every block not in `staged`, `blockConcurrency` at a time; checks the content read. */
async function stageAll(
  deps: BlockUploadDeps,
  blob: BlockBlobClient,
  request: UploadRequest,
  file: string,
  size: number,
  staged: ReadonlySet<string>,
  signal: AbortSignal,
): Promise<{ ids: string[]; md5: string; bytesSent: number; blocksStaged: number; blocksSkipped: number }> {
  const blockSize = deps.blockSizeBytes;
  const count = Math.max(1, Math.ceil(size / blockSize));
  const ids: string[] = [];
  let blocksStaged = 0;
  let blocksSkipped = 0;
  let bytesSent = 0;
  const inner = new AbortController();
  const onAbort = (): void => inner.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const inFlight = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  const wholeMd5 = createHash('md5');
  const sha = createHash('sha256');
  const handle = await open(file, 'r');
  try {
    for (let i = 0; i < count; i++) {
      if (failure !== undefined) break;
      if (signal.aborted) throw new EdgeMLError('ABORTED', 'upload aborted', { cause: signal.reason });
      const length = Math.min(blockSize, size - i * blockSize);
      const buf = await readBlock(handle, file, i * blockSize, length);
      // Hashing stays on the event loop: moving it to a worker thread was measured (256 MiB to
      // Azurite on 2 cores) and did not change throughput; the cores are the limit there.
      wholeMd5.update(buf);
      sha.update(buf);
      const blockMd5 = createHash('md5').update(buf).digest();
      const id = blockId(i, blockMd5.toString('hex'));
      ids.push(id);
      if (staged.has(id)) {
        blocksSkipped++;
        continue;
      }
      while (inFlight.size >= deps.blockConcurrency) await Promise.race(inFlight);
      if (failure !== undefined) break;
      await deps.limiter.take(length, signal);
      const p: Promise<void> = blob
        .stageBlock(id, buf, length, { abortSignal: inner.signal, transactionalContentMD5: blockMd5 })
        .then(
          () => {
            blocksStaged++;
            bytesSent += length;
          },
          (err: unknown) => {
            failure ??= { err };
            inner.abort();
          },
        )
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  } finally {
    signal.removeEventListener('abort', onAbort);
    await handle.close().catch(() => undefined);
  }
  if (failure !== undefined) throw deps.asSinkError(failure.err, 'staging a block');
  // Never commit content other than what was announced.
  checkContent(request, size, sha.digest('hex'));
  return { ids, md5: wholeMd5.digest('base64'), bytesSent, blocksStaged, blocksSkipped };
}
