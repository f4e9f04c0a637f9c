/**
 * Streams a model from an http(s) URL (a Blob SAS URL, typically) into a file, hashing it as it is
 * written and cutting it off at the size limit. The URL's query (a SAS) never reaches an error
 * message, a log line or a report.
 */
import { EdgeMLError, errorMessage, redactUrl, writeStreamHashed } from '@edgeml/shared';

export interface DownloadOptions {
  readonly maxModelBytes: number;
  readonly downloadTimeoutMs: number;
  readonly fetch?: typeof fetch;
  readonly signal?: AbortSignal;
}

/** Streams `url` into `file`, hashing as it goes; stops at `maxModelBytes`. */
export async function downloadModel(url: string, file: string, options: DownloadOptions): Promise<{ sha256: string; sizeBytes: number }> {
  const doFetch = options.fetch ?? fetch;
  const timeout = AbortSignal.timeout(options.downloadTimeoutMs);
  const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
  const shown = redactUrl(url);
  let response: Response;
  try {
    response = await doFetch(url, { signal, redirect: 'follow' });
  } catch (err: unknown) {
    throw new EdgeMLError('MODEL_DOWNLOAD_FAILED', `download of ${shown} failed: ${errorMessage(err)}`, { cause: err });
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel().catch(() => undefined);
    throw new EdgeMLError('MODEL_DOWNLOAD_FAILED', `download of ${shown} failed: HTTP ${response.status} ${response.statusText}`);
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > options.maxModelBytes) {
    await response.body.cancel().catch(() => undefined);
    throw new EdgeMLError('FILE_TOO_LARGE', `model at ${shown} is ${declared} bytes; maxModelBytes is ${options.maxModelBytes}`);
  }
  return writeStreamHashed(response.body as unknown as AsyncIterable<Uint8Array>, file, {
    maxBytes: options.maxModelBytes,
    tooLarge: () => new EdgeMLError('FILE_TOO_LARGE', `model at ${shown} exceeds maxModelBytes (${options.maxModelBytes})`),
    failed: (err) => new EdgeMLError('MODEL_DOWNLOAD_FAILED', `download of ${shown} failed: ${errorMessage(err)}`, { cause: err }),
  });
}
