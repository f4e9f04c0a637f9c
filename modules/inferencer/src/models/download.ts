/**
 * Streams a model from an http(s) URL (a Blob SAS URL, typically) into a file, hashing it as it is
 * written and cutting it off at the size limit. The URL's query (a SAS) never reaches an error
 * message, a log line or a report.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { EdgeMLError, errorMessage, redactUrl } from '@edgeml/shared';

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
  const hash = createHash('sha256');
  let sizeBytes = 0;
  const out = createWriteStream(file, { flags: 'wx' });
  const closed = new Promise<void>((resolve, reject) => {
    out.once('close', resolve);
    out.once('error', reject);
  });
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      sizeBytes += chunk.length;
      if (sizeBytes > options.maxModelBytes) {
        throw new EdgeMLError('FILE_TOO_LARGE', `model at ${shown} exceeds maxModelBytes (${options.maxModelBytes})`);
      }
      hash.update(chunk);
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    await closed;
  } catch (err: unknown) {
    out.destroy();
    await closed.catch(() => undefined);
    if ((err as EdgeMLError).code === 'FILE_TOO_LARGE') throw err;
    throw new EdgeMLError('MODEL_DOWNLOAD_FAILED', `download of ${shown} failed: ${errorMessage(err)}`, { cause: err });
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}
