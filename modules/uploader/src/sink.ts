import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { EdgeMLError } from '@edgeml/shared';

/** What a sink uploads: a file on disk, or bytes already in memory (a results batch). */
export interface UploadRequest {
  /** Deterministic name (blob name, or path below the directory sink's root). */
  readonly name: string;
  readonly source: { readonly file: string } | { readonly data: Buffer };
  readonly sizeBytes: number;
  /** SHA-256 (hex) the content must have; checked while reading, before anything is committed. */
  readonly expectedSha256?: string;
  readonly contentType: string;
  /** Blob metadata (keys are C# identifiers, values ASCII). */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface UploadResult {
  readonly name: string;
  /** MD5 of the whole content, base64 (the form Azure's Content-MD5 uses). */
  readonly md5: string;
  readonly sizeBytes: number;
  /**
   * `alreadyPresent`: identical content was there already (a replay), nothing was written.
   * `presentUnverified`: a blob was there already and the credentials may not read it back (a
   * create-only SAS); taken as ours because names are content-addressed (see blob-existing.ts).
   */
  readonly outcome: 'created' | 'alreadyPresent' | 'presentUnverified';
  readonly bytesSent: number;
  readonly blocksStaged: number;
  /** Blocks found already staged from an earlier, interrupted attempt and not sent again. */
  readonly blocksSkipped: number;
}

/** The seam between the app and a storage target. Implementations: blob-sink.ts, dir-sink.ts. */
export interface UploadSink {
  readonly kind: 'blob' | 'directory';
  /** Where uploads go, safe to log (SAS and keys removed). */
  readonly target: string;
  /**
   * Verifies the sink accepts writes. @throws EdgeMLError SINK_PERMISSION_DENIED (fatal: credentials
   * lack rights), SINK_UNAVAILABLE (try again later), CONFIG_INVALID
   */
  checkAccess(signal: AbortSignal): Promise<void>;
  /**
   * Create-if-absent upload. Identical content already present is success (`alreadyPresent`);
   * different content throws SINK_CONFLICT and nothing is overwritten.
   */
  upload(request: UploadRequest, signal: AbortSignal): Promise<UploadResult>;
  close(): Promise<void>;
}

export function md5Base64(data: Buffer | Uint8Array): string {
  return createHash('md5').update(data).digest('base64');
}

/**
 * Reads a whole (small) upload source and checks it against its expected size and SHA-256.
 * @throws EdgeMLError FILE_NOT_FOUND, FILE_UNREADABLE, INPUT_MALFORMED (content changed since it was queued)
 */
export async function readSource(request: UploadRequest): Promise<Buffer> {
  let data: Buffer;
  if ('data' in request.source) data = request.source.data;
  else {
    try {
      data = await readFile(request.source.file);
    } catch (err: unknown) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new EdgeMLError(code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'FILE_UNREADABLE', `cannot read ${request.source.file}: ${(err as Error).message}`, { cause: err });
    }
  }
  checkContent(request, data.length, request.expectedSha256 === undefined ? undefined : createHash('sha256').update(data).digest('hex'));
  return data;
}

/** @throws EdgeMLError INPUT_MALFORMED when the size differs from what was queued */
export function checkSize(request: UploadRequest, sizeBytes: number): void {
  if (sizeBytes !== request.sizeBytes) {
    throw new EdgeMLError('INPUT_MALFORMED', `${request.name}: source is ${sizeBytes} bytes, ${request.sizeBytes} were announced (changed since queued)`);
  }
}

/** @throws EdgeMLError INPUT_MALFORMED when size or SHA-256 differ from what was queued */
export function checkContent(request: UploadRequest, sizeBytes: number, sha256: string | undefined): void {
  if (sizeBytes !== request.sizeBytes) {
    throw new EdgeMLError('INPUT_MALFORMED', `${request.name}: source is ${sizeBytes} bytes, ${request.sizeBytes} were announced (changed since queued)`);
  }
  if (request.expectedSha256 !== undefined && sha256 !== request.expectedSha256) {
    throw new EdgeMLError('INPUT_MALFORMED', `${request.name}: source SHA-256 ${sha256 ?? '?'} differs from the announced ${request.expectedSha256} (changed since queued)`);
  }
}

/**
 * Blob metadata for a request: `deviceid` plus the given fields, empty ones left out. Metadata
 * travels as HTTP headers, so values are made ASCII and cut at 1 KiB.
 */
export function blobMetadata(deviceId: string, fields: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = { deviceid: deviceId };
  for (const [k, v] of Object.entries(fields)) {
    if (v !== undefined && v !== '') out[k] = v.replace(/[^\x20-\x7e]/g, '?').slice(0, 1024);
  }
  return out;
}
