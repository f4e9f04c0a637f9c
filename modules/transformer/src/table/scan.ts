import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { EdgeMLError } from '@edgeml/shared';
import { contentChanged } from '../errors.js';
import { completeUtf8Length } from './convert.js';
import { detectDelimiter, type Delimiter } from './sniff.js';

/**
 * The checks the CSV → Parquet path makes on the raw bytes, beside DuckDB:
 * - `checkFirstRecord` before DuckDB opens the file: the header line's field count against
 *   maxColumns (DuckDB's sniffer on 100 000 columns runs out of its memory limit instead of
 *   answering) and its length against maxRecordBytes;
 * - `scanText` alongside the conversion: the SHA-256 against the message id, no NUL byte, valid
 *   UTF-8 throughout, and no line longer than maxRecordBytes — each refused with the reason and
 *   where, the same outcomes the built-in parser gives.
 */

const CHUNK_BYTES = 1024 * 1024;
const SNIFF_CHARS = 64 * 1024;
const NEWLINE = 0x0a;

/** Fields of the first record of `text` (delimiter outside quotes + 1), or undefined when it does not end in `text`. */
function firstRecordFields(text: string, delimiter: string): number | undefined {
  let inQuotes = false;
  let fields = 1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inQuotes) {
      if (ch === '"') inQuotes = false;
    } else if (ch === '"') inQuotes = true;
    else if (ch === delimiter) fields++;
    else if (ch === '\n' || ch === '\r') return fields;
  }
  return undefined;
}

/**
 * Reads at most maxRecordBytes + 1 bytes of the head and refuses a first record with more than
 * `maxColumns` fields or longer than `maxRecordBytes`. Returns the delimiter the fields were counted with.
 * @throws EdgeMLError INPUT_TOO_COMPLEX
 */
export async function checkFirstRecord(file: string, o: { delimiter: 'auto' | Delimiter; maxColumns: number; maxRecordBytes: number }): Promise<Delimiter> {
  const handle = await open(file, 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(o.maxRecordBytes + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const complete = head.length <= o.maxRecordBytes;
  const text = head.subarray(0, completeUtf8Length(head)).toString('utf8');
  const delimiter = o.delimiter === 'auto' ? detectDelimiter(text.slice(0, SNIFF_CHARS), complete && text.length <= SNIFF_CHARS) : o.delimiter;
  const fields = firstRecordFields(text, delimiter) ?? (complete ? firstRecordFields(`${text}\n`, delimiter) : undefined);
  if (fields === undefined) throw new EdgeMLError('INPUT_TOO_COMPLEX', `the first record is longer than table.maxRecordBytes (${o.maxRecordBytes})`);
  if (fields > o.maxColumns) throw new EdgeMLError('INPUT_TOO_COMPLEX', `the table has ${fields} columns; the limit (table.maxColumns) is ${o.maxColumns}`);
  return delimiter;
}

export interface ScanResult {
  readonly sizeBytes: number;
  readonly longestLineBytes: number;
}

/**
 * One streaming pass over the bytes (1 MiB reads): hash, NUL bytes, UTF-8 validity (never split
 * across reads), longest line.
 * @throws EdgeMLError INPUT_MALFORMED (binary, not UTF-8), INPUT_TOO_COMPLEX (a line over
 *   maxRecordBytes), CONTENT_CHANGED (hash differs from `expectedSha256`)
 */
export async function scanText(file: string, expectedSha256: string, maxRecordBytes: number, signal?: AbortSignal): Promise<ScanResult> {
  const hash = createHash('sha256');
  let offset = 0;
  let carry = Buffer.alloc(0);
  let lineStart = 0;
  let longest = 0;
  const stream = createReadStream(file, { highWaterMark: CHUNK_BYTES, ...(signal === undefined ? {} : { signal }) });
  for await (const raw of stream as AsyncIterable<Buffer>) {
    hash.update(raw);
    const nul = raw.indexOf(0);
    if (nul !== -1) throw new EdgeMLError('INPUT_MALFORMED', `binary content, not a text table (NUL byte at offset ${offset + nul})`);
    const joined = carry.length === 0 ? raw : Buffer.concat([carry, raw]);
    const cut = completeUtf8Length(joined);
    if (!isUtf8(joined.subarray(0, cut))) {
      throw new EdgeMLError('INPUT_MALFORMED', `not UTF-8 text (invalid byte sequence within bytes ${offset - carry.length}–${offset + raw.length})`);
    }
    carry = Buffer.from(joined.subarray(cut));
    for (let nl = raw.indexOf(NEWLINE); nl !== -1; nl = raw.indexOf(NEWLINE, nl + 1)) {
      longest = Math.max(longest, offset + nl - lineStart);
      lineStart = offset + nl + 1;
    }
    offset += raw.length;
    if (offset - lineStart > maxRecordBytes) throw new EdgeMLError('INPUT_TOO_COMPLEX', `a line starting at byte ${lineStart} is longer than table.maxRecordBytes (${maxRecordBytes})`);
  }
  if (carry.length > 0) throw new EdgeMLError('INPUT_MALFORMED', 'not UTF-8 text (the file ends inside a multi-byte character)');
  longest = Math.max(longest, offset - lineStart);
  if (longest > maxRecordBytes) throw new EdgeMLError('INPUT_TOO_COMPLEX', `a line is longer than table.maxRecordBytes (${maxRecordBytes})`);
  const actual = hash.digest('hex');
  if (actual !== expectedSha256) throw contentChanged(`content changed: the file's SHA-256 is ${actual}, the message id is ${expectedSha256}`);
  return { sizeBytes: offset, longestLineBytes: longest };
}
