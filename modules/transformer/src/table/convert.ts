import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { EdgeMLError } from '@edgeml/shared';
import type { ColumnType, TransformerConfig } from '../config.js';
import { ArrowFileSink, ColumnBuilder, arrowSchema, makeRecordBatch } from './arrow.js';
import { CsvSplitter } from './csv.js';
import { columnNames, detectDelimiter, detectHeader, type Delimiter } from './sniff.js';
import { parseJsonExact } from './json-exact.js';
import { classifyJson, classifyText, fitsType, widen } from './values.js';
import { contentChanged } from '../errors.js';

/**
 * Tables (CSV, JSON lines) → Arrow IPC file, streamed. Two passes over the file, each reading it
 * in 256 KiB chunks (records are handed on per chunk; larger chunks kept more records alive
 * across young-generation GCs and were slower when measured):
 * 1. infer: hash the bytes (checked against the message id before any output), check they are
 *    UTF-8 text, detect delimiter and header, infer a type per column over *every* row (a type
 *    inferred from a sample could meet a value it cannot hold on row 5 000 000), count ragged rows;
 * 2. convert: parse again into typed columns, cut record batches by rows and bytes, append them
 *    to a temp file; hash again, and rename into place only when the content is still the same.
 * Memory is bounded by one record batch (batchRows rows, at most MAX_BATCH_CELLS cells and
 * MAX_BATCH_TEXT_BYTES of text) plus one chunk, whatever the file size.
 */

export type TableFormat = 'csv' | 'jsonl';
export type TableOptions = TransformerConfig['table'];

/** A record batch is cut once its text reaches this size, whatever batchRows says. */
export const MAX_BATCH_TEXT_BYTES = 16 * 1024 * 1024;
/** A record batch holds at most this many cells (rows × columns). */
export const MAX_BATCH_CELLS = 4 * 1024 * 1024;
const CHUNK_BYTES = 256 * 1024;
const SNIFF_BYTES = 64 * 1024;
/** Skipped-row examples kept for the artifact metadata. */
const MAX_SKIP_EXAMPLES = 5;

export interface ColumnReport {
  readonly name: string;
  readonly type: ColumnType;
  /** True when the type came from `table.columnTypes`. */
  readonly overridden: boolean;
  readonly nullCount: number;
  /** Values that did not parse as the overridden type and became null. */
  readonly invalidCount: number;
}

export interface TableResult {
  readonly format: TableFormat;
  readonly rows: number;
  readonly batches: number;
  /** Rows left out under raggedRows 'skip' (wrong field count; for JSON lines: not an object). */
  readonly skippedRows: number;
  readonly skippedExamples: readonly string[];
  readonly delimiter?: Delimiter;
  readonly header?: boolean;
  readonly columns: readonly ColumnReport[];
  /** Names in `table.columnTypes` that no column has. */
  readonly unmatchedOverrides: readonly string[];
  readonly sourceBytes: number;
  readonly arrowBytes: number;
  readonly inferMs: number;
  readonly convertMs: number;
}

export interface ConvertTableInput {
  readonly sourcePath: string;
  readonly targetPath: string;
  readonly format: TableFormat;
  /** SHA-256 the content must have (the message id). */
  readonly expectedSha256: string;
  readonly options: TableOptions;
  readonly signal?: AbortSignal;
  readonly now?: () => number;
}

/**
 * Reads a file as text chunks: hashes the bytes, refuses content that is not UTF-8 text (NUL
 * bytes, invalid sequences), strips a leading BOM, and never splits a character between chunks.
 */
async function* textChunks(file: string, hash: Hash, counter: { bytes: number }, signal: AbortSignal | undefined): AsyncGenerator<string> {
  let carry = Buffer.alloc(0);
  let first = true;
  const stream = createReadStream(file, { highWaterMark: CHUNK_BYTES, ...(signal === undefined ? {} : { signal }) });
  for await (const raw of stream as AsyncIterable<Buffer>) {
    hash.update(raw);
    const nul = raw.indexOf(0);
    if (nul !== -1) throw new EdgeMLError('INPUT_MALFORMED', `binary content, not a text table (NUL byte at offset ${counter.bytes + nul})`);
    // Validate up to the last complete character; carry an incomplete tail to the next chunk.
    const joined = carry.length === 0 ? raw : Buffer.concat([carry, raw]);
    const cut = completeUtf8Length(joined);
    const whole = joined.subarray(0, cut);
    if (!isUtf8(whole)) {
      throw new EdgeMLError('INPUT_MALFORMED', `not UTF-8 text (invalid byte sequence within bytes ${counter.bytes - carry.length}–${counter.bytes + raw.length})`);
    }
    carry = Buffer.from(joined.subarray(cut));
    counter.bytes += raw.length;
    let text = whole.toString('utf8');
    if (first) {
      text = stripBom(text);
      first = false;
    }
    if (text.length > 0) yield text;
  }
  if (carry.length > 0) throw new EdgeMLError('INPUT_MALFORMED', 'not UTF-8 text (the file ends inside a multi-byte character)');
}

/** Length of the prefix of `b` that ends on a character boundary. */
export function completeUtf8Length(b: Buffer): number {
  for (let back = 1; back <= Math.min(3, b.length); back++) {
    const byte = b[b.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return need > back ? b.length - back : b.length;
  }
  return b.length;
}

/** Splits a chunk stream into its first `bytes` (for sniffing) and the whole stream again. */
async function peek(chunks: AsyncGenerator<string>, chars: number): Promise<{ sample: string; complete: boolean; all: AsyncGenerator<string> }> {
  const head: string[] = [];
  let size = 0;
  let complete = false;
  while (size < chars) {
    const next = await chunks.next();
    if (next.done === true) {
      complete = true;
      break;
    }
    head.push(next.value);
    size += next.value.length;
  }
  async function* all(): AsyncGenerator<string> {
    yield* head;
    yield* chunks;
  }
  return { sample: head.join(''), complete, all: all() };
}

/**
 * CSV records from text chunks, one array of records per chunk: an async generator step costs a
 * promise, so yielding per record was measured to dominate the run time.
 */
async function* csvRecords(chunks: AsyncIterable<string>, delimiter: Delimiter, options: TableOptions): AsyncGenerator<string[][]> {
  const splitter = new CsvSplitter(delimiter, options.maxRecordBytes);
  for await (const chunk of chunks) yield splitter.push(chunk);
  yield splitter.end();
}

/** JSON lines from text chunks (an array per chunk), with 1-based line numbers; blank lines are skipped. */
async function* jsonLines(chunks: AsyncIterable<string>, maxRecordBytes: number): AsyncGenerator<{ line: number; text: string }[]> {
  let pending = '';
  let line = 0;
  for await (const chunk of chunks) {
    const out: { line: number; text: string }[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl === -1) {
        pending += chunk.slice(start);
        if (pending.length > maxRecordBytes) throw new EdgeMLError('INPUT_TOO_COMPLEX', `JSON line ${line + 1} is longer than table.maxRecordBytes (${maxRecordBytes})`);
        break;
      }
      line++;
      const text = pending + chunk.slice(start, nl);
      pending = '';
      if (text.length > maxRecordBytes) throw new EdgeMLError('INPUT_TOO_COMPLEX', `JSON line ${line} is longer than table.maxRecordBytes (${maxRecordBytes})`);
      if (text.trim().length > 0) out.push({ line, text });
      start = nl + 1;
    }
    yield out;
  }
  if (pending.trim().length > 0) yield [{ line: line + 1, text: pending }];
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A JSON line as an object, or the reason it is not one. */
function parseJsonLine(text: string): { obj: Record<string, unknown> } | { problem: string } {
  let value: unknown;
  try {
    value = parseJsonExact(text);
  } catch (err: unknown) {
    return { problem: `not valid JSON (${(err as Error).message})` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { problem: 'not a JSON object' };
  return { obj: value as Record<string, unknown> };
}

interface Inferred {
  readonly names: string[];
  readonly types: ColumnType[];
  readonly overridden: boolean[];
  readonly delimiter?: Delimiter;
  readonly header?: boolean;
  readonly rows: number;
  readonly skippedRows: number;
  readonly skippedExamples: string[];
  readonly unmatchedOverrides: string[];
}

class RowPolicy {
  skipped = 0;
  readonly examples: string[] = [];
  constructor(private readonly policy: 'skip' | 'fail') {}
  /** Skips and counts, or throws INPUT_MALFORMED under 'fail'. */
  bad(where: string, problem: string): void {
    if (this.policy === 'fail') throw new EdgeMLError('INPUT_MALFORMED', `${where}: ${problem} (table.raggedRows is 'fail')`);
    this.skipped++;
    if (this.examples.length < MAX_SKIP_EXAMPLES) this.examples.push(`${where}: ${problem}`);
  }
}

function nullSet(options: TableOptions): ReadonlySet<string> {
  return new Set(options.nullValues);
}

function checkHash(hash: Hash, expected: string, pass: string): void {
  const actual = hash.digest('hex');
  if (actual !== expected) throw contentChanged(`content changed: the file's SHA-256 is ${actual} (${pass}), the message id is ${expected}`);
}

async function inferCsv(input: ConvertTableInput): Promise<Inferred> {
  const { options } = input;
  const nulls = nullSet(options);
  const hash = createHash('sha256');
  const counter = { bytes: 0 };
  const { sample, complete, all } = await peek(textChunks(input.sourcePath, hash, counter, input.signal), SNIFF_BYTES);
  const delimiter = options.delimiter === 'auto' ? detectDelimiter(sample, complete) : options.delimiter;
  const policy = new RowPolicy(options.raggedRows);
  let names: string[] | undefined;
  let types: ColumnType[] = [];
  let active: number[] = [];
  let overridden: boolean[] = [];
  let header = false;
  let rows = 0;
  let recordNumber = 0;
  for await (const records of csvRecords(all, delimiter, options)) for (const record of records) {
    recordNumber++;
    if (names === undefined) {
      if (record.length > options.maxColumns) {
        throw new EdgeMLError('INPUT_TOO_COMPLEX', `the table has ${record.length} columns; the limit (table.maxColumns) is ${options.maxColumns}`);
      }
      header = options.header === 'present' || (options.header === 'auto' && detectHeader(record, nulls));
      names = columnNames(header ? record : undefined, record.length);
      overridden = names.map((n) => options.columnTypes[n] !== undefined);
      types = names.map((n) => options.columnTypes[n] ?? 'null');
      active = names.map((_, j) => j).filter((j) => !overridden[j]);
      if (header) continue;
    }
    if (record.length !== names.length) {
      policy.bad(`record ${recordNumber}`, `${record.length} fields where the table has ${names.length}`);
      continue;
    }
    rows++;
    if (active.length === 0) continue;
    let stillActive = false;
    for (const j of active) {
      const v = record[j]!;
      if (nulls.has(v)) {
        stillActive = true;
        continue;
      }
      const t = types[j]!;
      const next = fitsType(v, t) ? t : widen(t, classifyText(v));
      if (next !== t) types[j] = next;
      if (next !== 'utf8') stillActive = true;
    }
    // Columns already utf8 cannot widen further: stop looking at them.
    if (!stillActive || rows % 1024 === 0) active = active.filter((j) => types[j] !== 'utf8');
  }
  checkHash(hash, input.expectedSha256, 'while inferring types');
  names ??= [];
  return {
    names,
    types,
    overridden,
    delimiter,
    header,
    rows,
    skippedRows: policy.skipped,
    skippedExamples: policy.examples,
    unmatchedOverrides: Object.keys(options.columnTypes).filter((n) => !names.includes(n)),
  };
}

async function inferJsonl(input: ConvertTableInput): Promise<Inferred> {
  const { options } = input;
  const hash = createHash('sha256');
  const counter = { bytes: 0 };
  const policy = new RowPolicy(options.raggedRows);
  const index = new Map<string, number>();
  const names: string[] = [];
  const types: ColumnType[] = [];
  let rows = 0;
  for await (const lines of jsonLines(textChunks(input.sourcePath, hash, counter, input.signal), options.maxRecordBytes)) for (const { line, text } of lines) {
    const parsed = parseJsonLine(text);
    if ('problem' in parsed) {
      policy.bad(`line ${line}`, parsed.problem);
      continue;
    }
    rows++;
    for (const key of Object.keys(parsed.obj)) {
      let j = index.get(key);
      if (j === undefined) {
        if (names.length >= options.maxColumns) {
          throw new EdgeMLError('INPUT_TOO_COMPLEX', `line ${line}: more than ${options.maxColumns} distinct keys (table.maxColumns)`);
        }
        j = names.length;
        index.set(key, j);
        names.push(key);
        types.push(options.columnTypes[key] ?? 'null');
      }
      if (options.columnTypes[key] !== undefined) continue;
      types[j] = widen(types[j]!, classifyJson(parsed.obj[key]));
    }
  }
  checkHash(hash, input.expectedSha256, 'while inferring types');
  return {
    names,
    types,
    overridden: names.map((n) => options.columnTypes[n] !== undefined),
    rows,
    skippedRows: policy.skipped,
    skippedExamples: policy.examples,
    unmatchedOverrides: Object.keys(options.columnTypes).filter((n) => !index.has(n)),
  };
}

/**
 * Converts a CSV or JSON-lines file into an Arrow IPC file at `targetPath` (written atomically).
 * @throws EdgeMLError INPUT_MALFORMED (not UTF-8 text, bad quoting, a bad row under 'fail'),
 *   INPUT_TOO_COMPLEX (columns, record size), ABORTED; EdgeMLError CONTENT_CHANGED when the bytes do not
 *   hash to `expectedSha256`.
 */
export async function convertTable(input: ConvertTableInput): Promise<TableResult> {
  const now = input.now ?? (() => performance.now());
  const t0 = now();
  const inferred = input.format === 'csv' ? await inferCsv(input) : await inferJsonl(input);
  const t1 = now();
  const { options } = input;
  const nulls = nullSet(options);
  const schema = arrowSchema(inferred.names.map((name, j) => ({ name, type: inferred.types[j]! })));
  // Rows per batch: batchRows, but never more than MAX_BATCH_CELLS cells, so a wide table keeps
  // the same memory bound as a narrow one (4 M cells × 8 bytes = 32 MiB of values).
  const cellCap = Math.max(1, Math.floor(MAX_BATCH_CELLS / Math.max(1, inferred.names.length)));
  const capacity = Math.max(1, Math.min(options.batchRows, cellCap, inferred.rows || 1));
  const builders = inferred.types.map((t) => new ColumnBuilder(t, capacity, nulls));
  const totals = builders.map(() => ({ nulls: 0, invalid: 0 }));
  const sink = await ArrowFileSink.open(input.targetPath, schema);
  let rows = 0;
  let batches = 0;
  let pendingRows = 0;
  let pendingText = 0;
  const flush = async (): Promise<void> => {
    if (pendingRows === 0) return;
    const children = builders.map((b, j) => {
      totals[j]!.nulls += b.nullCount;
      return b.flush();
    });
    await sink.write(makeRecordBatch(schema, children, pendingRows));
    batches++;
    pendingRows = 0;
    pendingText = 0;
    if (input.signal?.aborted === true) throw new EdgeMLError('ABORTED', 'table conversion aborted: the module is stopping');
  };
  const hash = createHash('sha256');
  const counter = { bytes: 0 };
  try {
    const chunks = textChunks(input.sourcePath, hash, counter, input.signal);
    if (input.format === 'csv') {
      const width = inferred.names.length;
      let first = true;
      for await (const records of csvRecords(chunks, inferred.delimiter ?? ',', options)) for (const record of records) {
        if (first) {
          first = false;
          if (inferred.header === true) continue;
        }
        if (record.length !== width) continue;
        for (let j = 0; j < width; j++) {
          const v = record[j]!;
          builders[j]!.append(v);
          pendingText += v.length;
        }
        rows++;
        if (++pendingRows >= capacity || pendingText >= MAX_BATCH_TEXT_BYTES) await flush();
      }
    } else {
      for await (const lines of jsonLines(chunks, options.maxRecordBytes)) for (const { text } of lines) {
        const parsed = parseJsonLine(text);
        if ('problem' in parsed) continue;
        for (let j = 0; j < builders.length; j++) builders[j]!.append(parsed.obj[inferred.names[j]!] as never);
        pendingText += text.length;
        rows++;
        if (++pendingRows >= capacity || pendingText >= MAX_BATCH_TEXT_BYTES) await flush();
      }
    }
    await flush();
    checkHash(hash, input.expectedSha256, 'while converting');
    if (rows !== inferred.rows) throw contentChanged(`content changed: ${inferred.rows} rows when inferring, ${rows} when converting`);
  } catch (err: unknown) {
    await sink.abort();
    throw err;
  }
  const written = await sink.commit();
  for (let j = 0; j < builders.length; j++) totals[j]!.invalid = builders[j]!.invalidCount;
  return {
    format: input.format,
    rows,
    batches,
    skippedRows: inferred.skippedRows,
    skippedExamples: inferred.skippedExamples,
    ...(inferred.delimiter === undefined ? {} : { delimiter: inferred.delimiter }),
    ...(inferred.header === undefined ? {} : { header: inferred.header }),
    columns: inferred.names.map((name, j) => ({
      name,
      type: inferred.types[j]!,
      overridden: inferred.overridden[j]!,
      nullCount: totals[j]!.nulls,
      invalidCount: totals[j]!.invalid,
    })),
    unmatchedOverrides: inferred.unmatchedOverrides,
    sourceBytes: counter.bytes,
    arrowBytes: written.sizeBytes,
    inferMs: t1 - t0,
    convertMs: now() - t1,
  };
}
