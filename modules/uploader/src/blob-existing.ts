import { createHash } from 'node:crypto';
import type { BlockBlobClient } from '@azure/storage-blob';
import { EdgeMLError, type Logger } from '@edgeml/shared';
import { statusOf } from './blob-blocks.js';
import { asSinkError } from './blob-container.js';
import { sasForbidsReads, type SasGrant } from './sas.js';
import type { UploadRequest, UploadResult } from './sink.js';

/**
 * A create-if-absent write refused because a blob is already under the name: identical content
 * (same MD5) is success (a replay), anything else SINK_CONFLICT. Holds whether the credentials may
 * read blobs: a SAS without `r` says so; a stored access policy does not, and it is learnt from the
 * first 403 on a read (see {@link presentUnverified}).
 */
export class ExistingBlobs {
  readonly #target: string;
  readonly #logger: Logger;
  #canRead: boolean;

  constructor(target: string, sas: SasGrant | undefined, logger: Logger) {
    this.#target = target;
    this.#logger = logger;
    this.#canRead = !sasForbidsReads(sas);
  }

  /** Whether the credentials may read blobs (false for a create-only SAS). */
  get canRead(): boolean {
    return this.#canRead;
  }

  /** The blob already exists: identical content (same MD5) is success, anything else a conflict. */
  async compare(blob: BlockBlobClient, request: UploadRequest, md5: string, signal: AbortSignal): Promise<UploadResult> {
    if (!this.#canRead) return presentUnverified(request, md5);
    let props;
    try {
      props = await blob.getProperties({ abortSignal: signal });
    } catch (err: unknown) {
      if (statusOf(err) !== 403) throw asSinkError(err, 'reading the existing blob to compare it', this.#target);
      // The write was allowed a moment ago, so this 403 is about reading: remember it (no second try).
      this.#canRead = false;
      this.#logger.warn({ target: this.#target }, 'the credentials may create but not read blobs: replays are taken as present without comparing content');
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
  }
}

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
function presentUnverified(request: UploadRequest, md5: string): UploadResult {
  return {
    name: request.name,
    md5,
    sizeBytes: request.sizeBytes,
    outcome: 'presentUnverified',
    bytesSent: 0,
    blocksStaged: 0,
    blocksSkipped: 0,
  };
}
