import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import {
  AnonymousCredential,
  BlobServiceClient,
  ContainerClient,
  type BlockBlobClient,
  type BlockBlobUploadOptions,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import { EdgeMLError, type Logger } from '@edgeml/shared';
import { classifyFailure } from './classify.js';
import { checkContent, checkSize, md5Base64, readSource, type UploadRequest, type UploadResult, type UploadSink } from './sink.js';
import type { RateLimiter } from './throttle.js';

/**
 * Azure Blob Storage sink: the only file that imports @azure/storage-blob.
 *
 * - Credentials: a connection string (account key or SAS) or a container SAS URL, from the
 *   environment only.
 * - Retries: the SDK's own retry policy is configured (`sdkRetry`); this file adds no loop of its
 *   own. What the SDK gives up on is classified by classify.ts and scheduled by the queue.
 * - Create-if-absent (`If-None-Match: *`) everywhere; on conflict the stored Content-MD5 is
 *   compared: identical is success (a replay), different is SINK_CONFLICT.
 * - Integrity: Content-MD5 on every Put Blob / Put Block (checked by the service in transit) and
 *   the whole-blob MD5 stored as the blob's Content-MD5.
 * - Block uploads resume: block ids are `index-md5(block)`, so after a crash the blocks already
 *   staged (uncommitted) are recognised and not sent again; a blob already committed is not
 *   re-sent at all.
 */

export interface BlobSinkOptions {
  /** EDGEML_STORAGE_CONNECTION_STRING (preferred when both are set). */
  readonly connectionString?: string;
  /** EDGEML_STORAGE_CONTAINER_SAS_URL: `https://<account>.blob.core.windows.net/<container>?sv=…&sig=…`. */
  readonly containerSasUrl?: string;
  /** Container used with a connection string. */
  readonly containerName: string;
  readonly createContainer: boolean;
  readonly sdkRetry: { readonly maxTries: number; readonly tryTimeoutInMs: number; readonly retryDelayInMs: number; readonly maxRetryDelayInMs: number };
  readonly singleUploadMaxBytes: number;
  readonly blockSizeBytes: number;
  readonly blockConcurrency: number;
  readonly limiter: RateLimiter;
  readonly deviceId: string;
  readonly logger: Logger;
  readonly now?: () => Date;
}

/** Block ids must all have the same length within a blob: 6-digit index + '-' + 32 hex MD5. */
export function blockId(index: number, md5Hex: string): string {
  return Buffer.from(`${String(index).padStart(6, '0')}-${md5Hex}`).toString('base64');
}

function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

function serviceCodeOf(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** Permissions granted by a SAS query string (`sp`) and its expiry (`se`), when it is one. */
export function parseSas(query: string): { permissions: string; expiresAt: Date | undefined } | undefined {
  const params = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
  if (!params.has('sig')) return undefined;
  const se = params.get('se');
  return { permissions: params.get('sp') ?? '', expiresAt: se === null ? undefined : new Date(se) };
}

/** Problems with a SAS for create-only uploads: it needs create (c) or write (w), and must not be expired. */
export function sasProblems(sas: { permissions: string; expiresAt: Date | undefined }, now: Date): string[] {
  const problems: string[] = [];
  if (!sas.permissions.includes('c') && !sas.permissions.includes('w')) {
    problems.push(`the SAS grants '${sas.permissions}' but uploads need create (c) or write (w)`);
  }
  if (sas.expiresAt !== undefined && !Number.isNaN(sas.expiresAt.getTime()) && sas.expiresAt.getTime() <= now.getTime()) {
    problems.push(`the SAS expired at ${sas.expiresAt.toISOString()}`);
  }
  return problems;
}

export function createBlobSink(options: BlobSinkOptions): UploadSink {
  const pipeline: StoragePipelineOptions = {
    retryOptions: {
      maxTries: options.sdkRetry.maxTries,
      tryTimeoutInMs: options.sdkRetry.tryTimeoutInMs,
      retryDelayInMs: options.sdkRetry.retryDelayInMs,
      maxRetryDelayInMs: options.sdkRetry.maxRetryDelayInMs,
    },
    userAgentOptions: { userAgentPrefix: 'edgeml-uploader' },
  };
  let container: ContainerClient;
  let sas: { permissions: string; expiresAt: Date | undefined } | undefined;
  let canCreateContainer = false;
  if (options.connectionString !== undefined && options.connectionString !== '') {
    try {
      container = BlobServiceClient.fromConnectionString(options.connectionString, pipeline).getContainerClient(options.containerName);
    } catch (err: unknown) {
      throw new EdgeMLError('CONFIG_INVALID', `EDGEML_STORAGE_CONNECTION_STRING is not a valid storage connection string: ${(err as Error).message}`, { cause: err });
    }
    const sasPart = /SharedAccessSignature=([^;]+)/i.exec(options.connectionString)?.[1];
    sas = sasPart === undefined ? undefined : parseSas(sasPart);
    canCreateContainer = sas === undefined;
  } else if (options.containerSasUrl !== undefined && options.containerSasUrl !== '') {
    let url: URL;
    try {
      url = new URL(options.containerSasUrl);
    } catch (err: unknown) {
      throw new EdgeMLError('CONFIG_INVALID', 'EDGEML_STORAGE_CONTAINER_SAS_URL is not a URL', { cause: err });
    }
    sas = parseSas(url.search);
    container = new ContainerClient(options.containerSasUrl, new AnonymousCredential(), pipeline);
  } else {
    throw new EdgeMLError('CONFIG_INVALID', 'no storage credentials: set EDGEML_STORAGE_CONNECTION_STRING or EDGEML_STORAGE_CONTAINER_SAS_URL');
  }
  const target = container.url.split('?')[0] ?? container.url;
  const now = options.now ?? (() => new Date());
  const limiter = options.limiter;

  /** Permission failures get a message an operator can act on; everything else goes to the classifier as is. */
  const asSinkError = (err: unknown, operation: string): unknown => {
    if (classifyFailure(err).kind === 'permission') {
      const status = statusOf(err);
      const code = serviceCodeOf(err);
      if (code === 'ContainerNotFound') {
        return new EdgeMLError('CONFIG_INVALID', `container ${target} does not exist and cannot be created with these credentials`, { cause: err });
      }
      return new EdgeMLError('SINK_PERMISSION_DENIED', `${operation} refused by ${target} (${status ?? '?'} ${code ?? ''}): the credentials need create (c) or write (w) rights on the container`, {
        cause: err,
        details: { statusCode: status, serviceCode: code },
      });
    }
    return err;
  };

  const isConflict = (err: unknown): boolean => statusOf(err) === 409 || statusOf(err) === 412;

  /** The blob already exists: identical content (same MD5) is success, anything else a conflict. */
  const compareExisting = async (blob: BlockBlobClient, request: UploadRequest, md5: string, signal: AbortSignal): Promise<UploadResult> => {
    let props;
    try {
      props = await blob.getProperties({ abortSignal: signal });
    } catch (err: unknown) {
      throw asSinkError(err, 'reading the existing blob to compare it');
    }
    let existingMd5 = props.contentMD5 === undefined ? undefined : Buffer.from(props.contentMD5).toString('base64');
    if (existingMd5 === undefined && props.contentLength === request.sizeBytes) {
      // Written without a Content-MD5 (by someone else): hash what is there.
      const hash = createHash('md5');
      const body = (await blob.download(0, undefined, { abortSignal: signal })).readableStreamBody;
      if (body !== undefined) for await (const chunk of body as AsyncIterable<Buffer>) hash.update(chunk);
      existingMd5 = hash.digest('base64');
    }
    if (existingMd5 === md5) {
      return { name: request.name, md5, sizeBytes: request.sizeBytes, outcome: 'alreadyPresent', bytesSent: 0, blocksStaged: 0, blocksSkipped: 0 };
    }
    throw new EdgeMLError('SINK_CONFLICT', `blob ${request.name} already exists with different content (MD5 ${existingMd5 ?? 'unknown'}, ours ${md5}); not overwritten`, {
      details: { name: request.name, existingMd5: existingMd5 ?? null, md5, existingSizeBytes: props.contentLength ?? null },
    });
  };

  const headers = (request: UploadRequest, md5: string) => ({ blobContentType: request.contentType, blobContentMD5: Buffer.from(md5, 'base64') });

  const uploadSingle = async (blob: BlockBlobClient, request: UploadRequest, signal: AbortSignal): Promise<UploadResult> => {
    const data = await readSource(request);
    const md5 = md5Base64(data);
    await limiter.take(data.length, signal);
    // transactionalContentMD5 is honoured by upload() (passed through to Put Blob) but missing from its options type.
    const uploadOptions: BlockBlobUploadOptions & { transactionalContentMD5: Uint8Array } = {
      abortSignal: signal,
      conditions: { ifNoneMatch: '*' },
      blobHTTPHeaders: headers(request, md5),
      metadata: { ...request.metadata },
      transactionalContentMD5: Buffer.from(md5, 'base64'),
    };
    try {
      const res = await blob.upload(data, data.length, uploadOptions);
      if (res.contentMD5 !== undefined && Buffer.from(res.contentMD5).toString('base64') !== md5) {
        throw new EdgeMLError('INTERNAL', `service stored MD5 ${Buffer.from(res.contentMD5).toString('base64')} for ${request.name}, expected ${md5}`);
      }
    } catch (err: unknown) {
      if (isConflict(err)) return compareExisting(blob, request, md5, signal);
      throw asSinkError(err, 'upload');
    }
    return { name: request.name, md5, sizeBytes: data.length, outcome: 'created', bytesSent: data.length, blocksStaged: 0, blocksSkipped: 0 };
  };

  /** MD5 of a file without uploading it (the blob is already committed). */
  const hashFile = async (file: string, signal: AbortSignal): Promise<{ md5: string; sha256: string; size: number }> => {
    const md5 = createHash('md5');
    const sha = createHash('sha256');
    let size = 0;
    const handle = await open(file, 'r');
    try {
      for await (const chunk of handle.createReadStream({ highWaterMark: 1 << 20, signal }) as AsyncIterable<Buffer>) {
        md5.update(chunk);
        sha.update(chunk);
        size += chunk.length;
      }
    } finally {
      await handle.close().catch(() => undefined);
    }
    return { md5: md5.digest('base64'), sha256: sha.digest('hex'), size };
  };

  const uploadBlocks = async (blob: BlockBlobClient, request: UploadRequest, file: string, signal: AbortSignal): Promise<UploadResult> => {
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch (err: unknown) {
      throw new EdgeMLError('FILE_NOT_FOUND', `cannot stat ${file}: ${(err as Error).message}`, { cause: err });
    }
    checkSize(request, size);

    // Committed already (a crash after commit, before the ack): compare, send nothing.
    // A write-only SAS cannot read: then there is no resume, and create-if-absent still protects.
    const exists = await blob.exists({ abortSignal: signal }).catch((err: unknown) => {
      if (statusOf(err) === 403) return false;
      throw asSinkError(err, 'checking for the blob');
    });
    if (exists) {
      const h = await hashFile(file, signal);
      checkContent(request, h.size, h.sha256);
      return compareExisting(blob, request, h.md5, signal);
    }
    const staged = new Set<string>();
    try {
      const list = await blob.getBlockList('uncommitted', { abortSignal: signal });
      for (const b of list.uncommittedBlocks ?? []) if (b.name !== undefined) staged.add(b.name);
    } catch (err: unknown) {
      if (statusOf(err) !== 404 && statusOf(err) !== 403) throw asSinkError(err, 'listing staged blocks');
    }

    const blockSize = options.blockSizeBytes;
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
        const buf = Buffer.allocUnsafe(length);
        let read = 0;
        while (read < length) {
          const r = await handle.read(buf, read, length - read, i * blockSize + read);
          if (r.bytesRead === 0) throw new EdgeMLError('INPUT_MALFORMED', `${file} shrank while being uploaded`);
          read += r.bytesRead;
        }
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
        while (inFlight.size >= options.blockConcurrency) await Promise.race(inFlight);
        if (failure !== undefined) break;
        await limiter.take(length, signal);
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
    if (failure !== undefined) throw asSinkError(failure.err, 'staging a block');
    const md5 = wholeMd5.digest('base64');
    // Never commit content other than what was announced.
    checkContent(request, size, sha.digest('hex'));
    try {
      await blob.commitBlockList(ids, { abortSignal: signal, conditions: { ifNoneMatch: '*' }, blobHTTPHeaders: headers(request, md5), metadata: { ...request.metadata } });
    } catch (err: unknown) {
      if (isConflict(err)) return compareExisting(blob, request, md5, signal);
      throw asSinkError(err, 'committing the block list');
    }
    return { name: request.name, md5, sizeBytes: size, outcome: 'created', bytesSent, blocksStaged, blocksSkipped };
  };

  return {
    kind: 'blob',
    target,
    async checkAccess(signal: AbortSignal): Promise<void> {
      if (sas !== undefined) {
        const problems = sasProblems(sas, now());
        if (problems.length > 0) throw new EdgeMLError('SINK_PERMISSION_DENIED', `cannot upload to ${target}: ${problems.join('; ')}`);
      }
      if (options.createContainer && canCreateContainer) {
        try {
          await container.createIfNotExists({ abortSignal: signal });
        } catch (err: unknown) {
          throw asSinkError(err, 'creating the container');
        }
      }
      // Staging a block proves write rights without creating a visible blob: uncommitted blocks
      // are not listed and the service discards them after a week.
      const probe = container.getBlockBlobClient(`.edgeml-probe/${options.deviceId}`);
      try {
        await probe.stageBlock(blockId(0, '0'.repeat(32)), Buffer.from('probe'), 5, { abortSignal: signal });
      } catch (err: unknown) {
        throw asSinkError(err, 'the write probe');
      }
      options.logger.info({ target }, 'blob sink accepts writes');
    },
    async upload(request: UploadRequest, signal: AbortSignal): Promise<UploadResult> {
      const blob = container.getBlockBlobClient(request.name);
      const once = (): Promise<UploadResult> =>
        'data' in request.source || request.sizeBytes <= options.singleUploadMaxBytes ? uploadSingle(blob, request, signal) : uploadBlocks(blob, request, request.source.file, signal);
      try {
        return await once();
      } catch (err: unknown) {
        // The container vanished (deleted, or an emulator that lost it): recreate it when allowed,
        // then try once more. A recovery step, not a retry loop.
        const cause = (err as { cause?: unknown }).cause;
        if (!(options.createContainer && canCreateContainer) || (serviceCodeOf(err) !== 'ContainerNotFound' && serviceCodeOf(cause) !== 'ContainerNotFound')) throw err;
        options.logger.warn({ target }, 'container not found; recreating it');
        await container.createIfNotExists({ abortSignal: signal });
        return once();
      }
    },
    close(): Promise<void> {
      return Promise.resolve();
    },
  };
}
