/** Reading an answer's body: into memory under a size cap, hashed, or thrown away. */
import { createHash } from 'node:crypto';
import type { Fail } from './failures.js';

export const sha256Digest = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** The media type of an answer (its Content-Type without parameters; '' when absent). */
export const mediaTypeOf = (response: Response): string => (response.headers.get('content-type') ?? '').split(';')[0]!.trim();

/** Frees an answer whose body is not read. */
export async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

/** Reads a response body into memory, at most `maxBytes` (FILE_TOO_LARGE beyond, from Content-Length when declared). */
export async function readCapped(response: Response, maxBytes: number, what: string, fail: Fail): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await discard(response);
    throw fail('FILE_TOO_LARGE', `${what} is ${declared} bytes; at most ${maxBytes} are accepted`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of (response.body ?? []) as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > maxBytes) throw fail('FILE_TOO_LARGE', `${what} exceeds ${maxBytes} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
