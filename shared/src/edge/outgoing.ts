/**
 * What every transport does to an outgoing message before its own wire format: the body as bytes, the
 * content type and encoding it implies (objects are JSON in UTF-8), and its size as edgeHub counts it,
 * so both targets refuse the same messages.
 */
import { bodyToBuffer } from './memory.js';
import type { OutgoingMessage } from './types.js';

export interface EncodedOutgoing {
  readonly body: Buffer;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly properties: Readonly<Record<string, string>>;
}

export function encodeOutgoing(message: OutgoingMessage): EncodedOutgoing {
  const isObject = !Buffer.isBuffer(message.body) && typeof message.body === 'object';
  return {
    body: bodyToBuffer(message.body),
    contentType: message.contentType ?? (isObject ? 'application/json' : undefined),
    contentEncoding: message.contentEncoding ?? (isObject || typeof message.body === 'string' ? 'utf-8' : undefined),
    properties: message.properties ?? {},
  };
}

/** Size as edgeHub counts it (reference §6): body + every property key and value. */
export function messageSizeBytes(body: Buffer, props: Readonly<Record<string, string | undefined>>): number {
  let size = body.length;
  for (const [k, v] of Object.entries(props)) if (v !== undefined) size += Buffer.byteLength(k) + Buffer.byteLength(v);
  return size;
}
