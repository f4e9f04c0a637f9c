/** Message helpers shared by the parts of the hub. Pure functions. */

/** Objects become JSON, strings UTF-8. */
export function bodyToBuffer(body: Buffer | string | object): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(JSON.stringify(body), 'utf8');
}

/** Size as edgeHub counts it (RC/Message.cs Size()): body plus every property key and value. */
export function messageSize(body: Buffer, ...bags: Readonly<Record<string, string>>[]): number {
  let size = body.length;
  for (const bag of bags) for (const k in bag) size += Buffer.byteLength(k) + Buffer.byteLength(bag[k] ?? '');
  return size;
}
