import { createHash } from 'node:crypto';
import {
  AnonymousCredential,
  BlobServiceClient,
  ContainerClient,
  type BlockBlobClient,
  type BlockBlobUploadOptions,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import { EdgeMLError, type Logger } from '@edgeml/shared';
import { blockId, isConflict, serviceCodeOf, statusOf, uploadBlocks, type BlockUploadDeps } from './blob-blocks.js';
import { classifyFailure } from './classify.js';
import { parseSas, sasForbidsReads, sasProblems, type SasGrant } from './sas.js';
import { md5Base64, readSource, type UploadRequest, type UploadResult, type UploadSink } from './sink.js';
import type { RateLimiter } from './throttle.js';

/**
 * Azure Blob Storage sink: the only place that talks to @azure/storage-blob (with blob-blocks.ts).
 *
 * - Credentials: a connection string (account key or SAS) or a container SAS URL, from the
 *   environment or a secret file (credentials.ts); a rotation builds a new sink.
 * - Retries: the SDK's own retry policy is configured (`sdkRetry`); this file adds no loop of its
 *   own. What the SDK gives up on is classified by classify.ts and scheduled by the queue.
 * - Create-if-absent (`If-None-Match: *`) everywhere; on conflict the stored Content-MD5 is
 *   compared: identical is success (a replay), different is SINK_CONFLICT. Without read rights
 *   see {@link presentUnverified}.
 * - Integrity: Content-MD5 on every Put Blob / Put Block (checked by the service in transit) and
 *   the whole-blob MD5 stored as the blob's Content-MD5.
 */

export interface BlobSinkOptions {
  /** A storage connection string (preferred when both are given). */
  readonly connectionString?: string;
  /** `https://<account>.blob.core.windows.net/<container>?sv=…&sig=…`. */
  readonly containerSasUrl?: string;
  /** Where the credentials came from (a variable name), for error messages. */
  readonly credentialsFrom?: string;
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

export { blockId };

/** What a blob sink adds to the generic one: what its credentials grant, known without a request. */
export interface BlobSink extends UploadSink {
  readonly kind: 'blob';
  /** The SAS's expiry and permissions when the credentials are a SAS (not secret). */
  readonly grant: SasGrant | undefined;
}

function containerFrom(options: BlobSinkOptions, pipeline: StoragePipelineOptions): { container: ContainerClient; sas: SasGrant | undefined; accountKey: boolean } {
  if (options.connectionString !== undefined && options.connectionString !== '') {
    const from = options.credentialsFrom ?? 'the connection string';
    let container: ContainerClient;
    try {
      container = BlobServiceClient.fromConnectionString(options.connectionString, pipeline).getContainerClient(options.containerName);
    } catch (err: unknown) {
      throw new EdgeMLError('CONFIG_INVALID', `${from} is not a valid storage connection string: ${(err as Error).message}`, { cause: err });
    }
    const sasPart = /SharedAccessSignature=([^;]+)/i.exec(options.connectionString)?.[1];
    const sas = sasPart === undefined ? undefined : parseSas(sasPart);
    return { container, sas, accountKey: sas === undefined };
  }
  if (options.containerSasUrl !== undefined && options.containerSasUrl !== '') {
    const from = options.credentialsFrom ?? 'the container SAS URL';
    let url: URL;
    try {
      url = new URL(options.containerSasUrl);
    } catch (err: unknown) {
      throw new EdgeMLError('CONFIG_INVALID', `${from} is not a URL`, { cause: err });
    }
    return { container: new ContainerClient(options.containerSasUrl, new AnonymousCredential(), pipeline), sas: parseSas(url.search), accountKey: false };
  }
  throw new EdgeMLError('CONFIG_INVALID', 'no storage credentials: set EDGEML_STORAGE_CONNECTION_STRING or EDGEML_STORAGE_CONTAINER_SAS_URL (or their _FILE forms)');
}

export function createBlobSink(options: BlobSinkOptions): BlobSink {
  const pipeline: StoragePipelineOptions = {
    retryOptions: {
      maxTries: options.sdkRetry.maxTries,
      tryTimeoutInMs: options.sdkRetry.tryTimeoutInMs,
      retryDelayInMs: options.sdkRetry.retryDelayInMs,
      maxRetryDelayInMs: options.sdkRetry.maxRetryDelayInMs,
    },
    userAgentOptions: { userAgentPrefix: 'edgeml-uploader' },
  };
  const { container, sas, accountKey } = containerFrom(options, pipeline);
  const target = container.url.split('?')[0] ?? container.url;
  const now = options.now ?? (() => new Date());
  const limiter = options.limiter;
  // A SAS without `r` says so; a stored access policy does not, and we learn it from the first 403.
  let canRead = !sasForbidsReads(sas);

  /** Permission failures get a message an operator can act on; everything else goes to the classifier as is. */
  const asSinkError = (err: unknown, operation: string): unknown => {
    if (classifyFailure(err).kind !== 'permission') return err;
    const status = statusOf(err);
    const code = serviceCodeOf(err);
    if (code === 'ContainerNotFound') {
      return new EdgeMLError('CONFIG_INVALID', `container ${target} does not exist and cannot be created with these credentials`, { cause: err });
    }
    return new EdgeMLError('SINK_PERMISSION_DENIED', `${operation} refused by ${target} (${status ?? '?'} ${code ?? ''}): the credentials need create (c) and write (w) rights on the container, and must not be expired or revoked`, {
      cause: err,
      details: { statusCode: status, serviceCode: code },
    });
  };

  /**
   * A blob exists under our name and we may not read it (a create-only SAS, `sp=cw`): it is taken
   * as ours, with this content, without reading it. Why that is sound: blob names are
   * content-addressed (names.ts: a function of the source's SHA-256, the part, the device and the
   * source's detection date; result batches of the hash of their lines' message ids), every write
   * is a conditional create that never replaces a blob, and only this device's pipeline writes
   * under its device prefix. So the blob under our name was created by an earlier attempt of this
   * same part: a crash between commit and acknowledgement, or a replay the done-ledger no longer
   * remembers. What cannot be told apart without reading is a different rendering of the same part
   * (a transformer setting changed in between); nothing is overwritten then either, and the
   * outcome says "unverified" (`totals.presentUnverified`). Grant `r` to have conflicts detected.
   * This answers with no request at all, so a replay never turns into a 403 loop or extra traffic.
   */
  const presentUnverified = (request: UploadRequest, md5: string): UploadResult => ({
    name: request.name,
    md5,
    sizeBytes: request.sizeBytes,
    outcome: 'presentUnverified',
    bytesSent: 0,
    blocksStaged: 0,
    blocksSkipped: 0,
  });

  /** The blob already exists: identical content (same MD5) is success, anything else a conflict. */
  const compareExisting = async (blob: BlockBlobClient, request: UploadRequest, md5: string, signal: AbortSignal): Promise<UploadResult> => {
    if (!canRead) return presentUnverified(request, md5);
    let props;
    try {
      props = await blob.getProperties({ abortSignal: signal });
    } catch (err: unknown) {
      if (statusOf(err) !== 403) throw asSinkError(err, 'reading the existing blob to compare it');
      // The write was allowed a moment ago, so this 403 is about reading: remember it (no second try).
      canRead = false;
      options.logger.warn({ target }, 'the credentials may create but not read blobs: replays are taken as present without comparing content');
      return presentUnverified(request, md5);
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

  const uploadSingle = async (blob: BlockBlobClient, request: UploadRequest, signal: AbortSignal): Promise<UploadResult> => {
    const data = await readSource(request);
    const md5 = md5Base64(data);
    await limiter.take(data.length, signal);
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
      if (isConflict(err)) return compareExisting(blob, request, md5, signal);
      throw asSinkError(err, 'upload');
    }
    return { name: request.name, md5, sizeBytes: data.length, outcome: 'created', bytesSent: data.length, blocksStaged: 0, blocksSkipped: 0 };
  };

  const blocks: BlockUploadDeps = { blockSizeBytes: options.blockSizeBytes, blockConcurrency: options.blockConcurrency, limiter, asSinkError, compareExisting, canRead: () => canRead };
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
          throw asSinkError(err, 'creating the container');
        }
      }
      // Staging a block proves write rights without creating a visible blob: uncommitted blocks
      // are not listed and the service discards them after a week. A create-only SAS may do it.
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
        'data' in request.source || request.sizeBytes <= options.singleUploadMaxBytes ? uploadSingle(blob, request, signal) : uploadBlocks(blocks, blob, request, request.source.file, signal);
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
