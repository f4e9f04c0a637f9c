import type { BlockBlobClient, BlockBlobUploadOptions } from '@azure/storage-blob';
import { EdgeMLError, type Logger } from '@edgeml/shared';
import { blockId, isConflict, serviceCodeOf, uploadBlocks, type BlockUploadDeps } from './blob-blocks.js';
import { asSinkError, openBlobContainer, type BlobContainerOptions } from './blob-container.js';
import { ExistingBlobs } from './blob-existing.js';
import { sasProblems, type SasGrant } from './sas.js';
import { md5Base64, readSource, type UploadRequest, type UploadResult, type UploadSink } from './sink.js';
import type { RateLimiter } from './throttle.js';

/**
 * Azure Blob Storage sink: the only place that talks to @azure/storage-blob (with blob-container.ts,
 * blob-existing.ts and blob-blocks.ts).
 *
 * - Credentials: a connection string (account key or SAS) or a container SAS URL, from the
 *   environment or a secret file (credentials.ts); a rotation builds a new sink. The client and
 *   what a refusal means are in blob-container.ts.
 * - Retries: the SDK's own retry policy is configured (`sdkRetry`); this file adds no loop of its
 *   own. What the SDK gives up on is classified by classify.ts and scheduled by the queue.
 * - Create-if-absent (`If-None-Match: *`) everywhere; on conflict the stored Content-MD5 is
 *   compared (blob-existing.ts): identical is success (a replay), different is SINK_CONFLICT.
 *   Without read rights the blob is taken as present, unverified.
 * - Integrity: Content-MD5 on every Put Blob / Put Block (checked by the service in transit) and
 *   the whole-blob MD5 stored as the blob's Content-MD5.
 * - Put Blob for a file up to `singleUploadMaxBytes` (here), blocks above it (blob-blocks.ts).
 */

export interface BlobSinkOptions extends BlobContainerOptions {
  readonly createContainer: boolean;
  readonly singleUploadMaxBytes: number;
  readonly blockSizeBytes: number;
  readonly blockConcurrency: number;
  readonly limiter: RateLimiter;
  readonly deviceId: string;
  readonly logger: Logger;
  readonly now?: () => Date;
}

export { blockId };

/** What a blob sink adds to the generic one: what its credentials grant, known without a request. */
export interface BlobSink extends UploadSink {
  readonly kind: 'blob';
  /** The SAS's expiry and permissions when the credentials are a SAS (not secret). */
  readonly grant: SasGrant | undefined;
}

/** What a Put Blob needs from the sink around it. */
interface SingleUploadDeps {
  readonly limiter: RateLimiter;
  readonly existing: ExistingBlobs;
  readonly target: string;
}

/** One Put Blob, create-if-absent, with the whole file's Content-MD5. */
async function uploadSingle(deps: SingleUploadDeps, blob: BlockBlobClient, request: UploadRequest, signal: AbortSignal): Promise<UploadResult> {
  const data = await readSource(request);
  const md5 = md5Base64(data);
  await deps.limiter.take(data.length, signal);
  // transactionalContentMD5 is honoured by upload() (passed through to Put Blob) but missing from its options type.
  const uploadOptions: BlockBlobUploadOptions & { transactionalContentMD5: Uint8Array } = {
    abortSignal: signal,
    conditions: { ifNoneMatch: '*' },
    blobHTTPHeaders: { blobContentType: request.contentType, blobContentMD5: Buffer.from(md5, 'base64') },
    metadata: { ...request.metadata },
    transactionalContentMD5: Buffer.from(md5, 'base64'),
  };
  try {
    const res = await blob.upload(data, data.length, uploadOptions);
    if (res.contentMD5 !== undefined && Buffer.from(res.contentMD5).toString('base64') !== md5) {
      throw new EdgeMLError('INTERNAL', `service stored MD5 ${Buffer.from(res.contentMD5).toString('base64')} for ${request.name}, expected ${md5}`);
    }
  } catch (err: unknown) {
    if (isConflict(err)) return deps.existing.compare(blob, request, md5, signal);
    throw asSinkError(err, 'upload', deps.target);
  }
  return { name: request.name, md5, sizeBytes: data.length, outcome: 'created', bytesSent: data.length, blocksStaged: 0, blocksSkipped: 0 };
}

export function createBlobSink(options: BlobSinkOptions): BlobSink {
  const { container, target, sas, accountKey } = openBlobContainer(options);
  const now = options.now ?? (() => new Date());
  const limiter = options.limiter;
  const existing = new ExistingBlobs(target, sas, options.logger);
  const single: SingleUploadDeps = { limiter, existing, target };
  const blocks: BlockUploadDeps = {
    blockSizeBytes: options.blockSizeBytes,
    blockConcurrency: options.blockConcurrency,
    limiter,
    asSinkError: (err, operation) => asSinkError(err, operation, target),
    compareExisting: (blob, request, md5, signal) => existing.compare(blob, request, md5, signal),
    canRead: () => existing.canRead,
  };
  const canCreateContainer = options.createContainer && accountKey;

  return {
    kind: 'blob',
    target,
    grant: sas,
    async checkAccess(signal: AbortSignal): Promise<void> {
      if (sas !== undefined) {
        const problems = sasProblems(sas, now());
        if (problems.length > 0) throw new EdgeMLError('SINK_PERMISSION_DENIED', `cannot upload to ${target}: ${problems.join('; ')}`);
      }
      if (canCreateContainer) {
        try {
          await container.createIfNotExists({ abortSignal: signal });
        } catch (err: unknown) {
          throw asSinkError(err, 'creating the container', target);
        }
      }
      // Staging a block proves write rights without creating a visible blob: uncommitted blocks
      // are not listed and the service discards them after a week. A create-only SAS may do it.
      const probe = container.getBlockBlobClient(`.edgeml-probe/${options.deviceId}`);
      try {
        await probe.stageBlock(blockId(0, '0'.repeat(32)), Buffer.from('probe'), 5, { abortSignal: signal });
      } catch (err: unknown) {
        throw asSinkError(err, 'the write probe', target);
      }
      options.logger.info({ target }, 'blob sink accepts writes');
    },
    async upload(request: UploadRequest, signal: AbortSignal): Promise<UploadResult> {
      const blob = container.getBlockBlobClient(request.name);
      const once = (): Promise<UploadResult> =>
        'data' in request.source || request.sizeBytes <= options.singleUploadMaxBytes ? uploadSingle(single, blob, request, signal) : uploadBlocks(blocks, blob, request, request.source.file, signal);
      try {
        return await once();
      } catch (err: unknown) {
        // The container vanished (deleted, or an emulator that lost it): recreate it when allowed,
        // then try once more. A recovery step, not a retry loop.
        const cause = (err as { cause?: unknown }).cause;
        if (!canCreateContainer || (serviceCodeOf(err) !== 'ContainerNotFound' && serviceCodeOf(cause) !== 'ContainerNotFound')) throw err;
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
