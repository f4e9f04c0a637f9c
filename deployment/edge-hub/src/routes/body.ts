/**
 * `$body.<path>` queries, after edgeHub's `Routing.Core/Message.cs` (`GetMessageQueryProvider`),
 * `JsonMessageQueryValueProvider.cs`, `query/builtins/BodyQuery.cs` and `query/jsonpath/JsonPath.g4`.
 *
 * A body is queried only if the message's system properties say `contentType` = `application/json` and
 * `contentEncoding` ∈ {utf-8, utf-16, utf-32} (both case-insensitive), and the body is a JSON object;
 * otherwise every `$body` query is undefined. A path that selects nothing gives null (not undefined);
 * an object, an array or several matches give undefined.
 */

import { QV_PATH_NOT_FOUND, QV_UNDEFINED, T, F, qvBool, qvNull, qvNumber, qvString, type QueryValue } from './values.js';

/** One step of a body path: a property name (`*` = any property) with an optional array index. */
export interface BodyPathSegment {
  readonly name: string;
  readonly index?: number;
}

// JsonPath.g4 IDENTIFIER: ~[()<>@,;:\\"/[\]?={}.\t\n\r]+ ; an all-digit segment lexes as INT and is rejected.
const IDENTIFIER = '[^()<>@,;:\\\\"/\\[\\]?={}.\\t\\n\\r]+';
const SEGMENT = new RegExp(`^(?<name>${IDENTIFIER})(?:\\[(?<index>[0-9]+)\\])?$`);

/**
 * Parses and validates the path after `$body.`. Returns the segments, or an error message.
 * edgeHub's path parser ignores trailing text after a valid prefix (its rule has no EOF); this one rejects
 * it, since edgeHub then fails at run time anyway and the route could never match.
 */
export function parseBodyPath(path: string): { segments: readonly BodyPathSegment[] } | { error: string } {
  if (path === '') return { error: '$body query cannot be empty' };
  const segments: BodyPathSegment[] = [];
  for (const part of path.split('.')) {
    const m = SEGMENT.exec(part);
    const name = m?.groups?.['name'];
    if (name === undefined || /^[0-9]+$/.test(name)) {
      return {
        error: `unsupported $body path '${path}': use dot-separated names, each optionally followed by one [index] (segment '${part}' is not valid)`,
      };
    }
    const index = m?.groups?.['index'];
    segments.push(index === undefined ? { name } : { name, index: Number(index) });
  }
  return { segments: Object.freeze(segments) };
}

const ENCODINGS: Readonly<Record<string, 'utf-8' | 'utf-16le' | 'utf-32le'>> = {
  'utf-8': 'utf-8',
  'utf-16': 'utf-16le',
  'utf-32': 'utf-32le',
};

function decodeUtf32le(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out = '';
  const whole = bytes.byteLength - (bytes.byteLength % 4);
  for (let k = 0; k < whole; k += 4) {
    const cp = view.getUint32(k, true);
    out += cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : '\ufffd';
  }
  if (whole !== bytes.byteLength) out += '\ufffd';
  return out;
}

/**
 * Decodes and parses a message body for `$body` queries. `contentType` and `contentEncoding` are the
 * system-property values (undefined when absent). Returns the root JSON object, or undefined when the body
 * cannot be queried. Invalid byte sequences decode to U+FFFD, as .NET's decoders do.
 */
export function parseBody(
  contentType: string | undefined,
  contentEncoding: string | undefined,
  body: Uint8Array,
): Record<string, unknown> | undefined {
  if (contentEncoding === undefined || contentType === undefined) return undefined;
  const encoding = ENCODINGS[contentEncoding.toLowerCase()];
  if (encoding === undefined || contentType.toLowerCase() !== 'application/json') return undefined;
  const text = encoding === 'utf-32le' ? decodeUtf32le(body) : new TextDecoder(encoding).decode(body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: edgeHub's JObject.Parse throws and BodyQuery turns that into undefined.
    return undefined;
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
}

// Newtonsoft.Json (which edgeHub parses bodies with) turns ISO-8601 date-time strings into Date tokens, which
// a body query then reports as undefined. Shape from Newtonsoft's DateTimeUtils.TryParseDateTimeIso.
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$/;
const MS_DATE = /^\/Date\(-?\d+(?:[+-]\d{4})?\)\/$/;

/** True for strings Newtonsoft.Json would read as a date (they are undefined in `$body` queries). */
export function isNewtonsoftDate(s: string): boolean {
  if (s.startsWith('/')) return s.length >= 9 && MS_DATE.test(s);
  if (s.length < 19 || s.length > 40) return false;
  const m = ISO_DATE.exec(s);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour < 24 && minute < 60 && second < 60;
}

function children(node: unknown, name: string): unknown[] {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return [];
  const record = node as Record<string, unknown>;
  if (name === '*') return Object.values(record);
  return Object.prototype.hasOwnProperty.call(record, name) ? [record[name]] : [];
}

/** Evaluates a validated body path against the parsed root object, returning edgeHub's QueryValue. */
export function selectBodyValue(root: Record<string, unknown>, segments: readonly BodyPathSegment[]): QueryValue {
  let current: unknown[] = [root];
  for (const segment of segments) {
    const next: unknown[] = [];
    for (const node of current) {
      for (const child of children(node, segment.name)) {
        if (segment.index === undefined) next.push(child);
        else if (Array.isArray(child) && segment.index < child.length) next.push(child[segment.index]);
      }
    }
    current = next;
  }
  if (current.length === 0) return QV_PATH_NOT_FOUND;
  if (current.length > 1) return QV_UNDEFINED;
  const value = current[0];
  switch (typeof value) {
    case 'boolean':
      return qvBool(value ? T : F);
    case 'number':
      return qvNumber(value);
    case 'string':
      return isNewtonsoftDate(value) ? QV_UNDEFINED : qvString(value);
    default:
      return value === null ? qvNull() : QV_UNDEFINED;
  }
}
