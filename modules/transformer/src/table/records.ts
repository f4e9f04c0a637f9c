/**
 * The records of a CSV or JSON-lines source, streamed, for table profiles: CSV fields split per
 * RFC 4180 (quoted fields may hold delimiters, doubled quotes and line breaks), JSON lines parsed one
 * object per line. Self-contained on purpose: the feature matrix reads the source, not the artifact,
 * so it does not depend on the artifact's format.
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { EdgeMLError } from '@edgeml/shared';

/** A record: field values by position (CSV, header first) or by key (JSON lines); null for a JSON line that is not an object (skipped, as the conversion skips it). */
export type TableRecord = readonly string[] | Readonly<Record<string, unknown>> | null;

const DELIMITERS = [',', '\t', ';', '|'] as const;

/** The delimiter that splits the header line into the most fields (`,` on a tie or for one column). */
export function headerDelimiter(headerLine: string): string {
  let best = ',';
  let bestCount = 0;
  for (const d of DELIMITERS) {
    const count = headerLine.split(d).length - 1;
    if (count > bestCount) {
      best = d;
      bestCount = count;
    }
  }
  return best;
}

/** Splits CSV text into records, keeping the state of a quoted field across chunks. */
class CsvRecords {
  #field = '';
  #fields: string[] = [];
  #inQuotes = false;
  #quotePending = false;
  #hasContent = false;
  readonly #delimiter: string;
  readonly #maxRecordChars: number;

  constructor(delimiter: string, maxRecordChars: number) {
    this.#delimiter = delimiter;
    this.#maxRecordChars = maxRecordChars;
  }

  /** Records completed by this chunk. @throws EdgeMLError INPUT_MALFORMED when a record is over the limit */
  push(text: string): string[][] {
    const out: string[][] = [];
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (this.#quotePending) {
        this.#quotePending = false;
        if (ch === '"') {
          this.#field += '"';
          continue;
        }
        this.#inQuotes = false;
      }
      if (this.#inQuotes) {
        if (ch === '"') this.#quotePending = true;
        else this.#field += ch;
      } else if (ch === '"') {
        this.#inQuotes = true;
        this.#hasContent = true;
      } else if (ch === this.#delimiter) {
        this.#fields.push(this.#field);
        this.#field = '';
        this.#hasContent = true;
      } else if (ch === '\n' || ch === '\r') {
        const record = this.#end();
        if (record !== undefined) out.push(record);
      } else {
        this.#field += ch;
        this.#hasContent = true;
      }
      if (this.#field.length > this.#maxRecordChars) throw new EdgeMLError('INPUT_MALFORMED', `a record is longer than ${this.#maxRecordChars} characters (table.maxRecordBytes)`);
    }
    return out;
  }

  /** The last record when the text does not end in a line break. */
  finish(): string[] | undefined {
    this.#inQuotes = false;
    this.#quotePending = false;
    return this.#end();
  }

  #end(): string[] | undefined {
    if (!this.#hasContent) return undefined;
    const record = [...this.#fields, this.#field];
    this.#fields = [];
    this.#field = '';
    this.#hasContent = false;
    return record;
  }
}

/**
 * Streams the records of a table source. For CSV the first record is the header; with `delimiter`
 * `auto` it is chosen from the first line.
 * @throws EdgeMLError INPUT_MALFORMED (a record over `maxRecordChars`)
 */
export async function* readRecords(file: string, format: 'csv' | 'jsonl', options: { delimiter: string; maxRecordChars: number; signal?: AbortSignal | undefined }): AsyncGenerator<TableRecord> {
  const decoder = new StringDecoder('utf8');
  let csv: CsvRecords | undefined;
  let pending = '';
  const parseLine = (line: string): TableRecord | undefined => {
    const text = line.trim();
    if (text === '') return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      // Not JSON: a skipped row here; the conversion decides the file's fate (it skips or dead-letters it).
      return null;
    }
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  };
  for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024, signal: options.signal })) {
    let text = decoder.write(chunk as Buffer);
    if (format === 'jsonl') {
      text = pending + text;
      const lines = text.split('\n');
      pending = lines.pop() ?? '';
      if (pending.length > options.maxRecordChars) throw new EdgeMLError('INPUT_MALFORMED', `a line is longer than ${options.maxRecordChars} characters (table.maxRecordBytes)`);
      for (const line of lines) {
        const record = parseLine(line);
        if (record !== undefined) yield record;
      }
      continue;
    }
    if (csv === undefined) {
      const firstBreak = text.search(/[\r\n]/);
      const delimiter = options.delimiter === 'auto' ? headerDelimiter(firstBreak < 0 ? text : text.slice(0, firstBreak)) : options.delimiter;
      csv = new CsvRecords(delimiter, options.maxRecordChars);
    }
    yield* csv.push(text);
  }
  const rest = decoder.end();
  if (format === 'jsonl') {
    const record = parseLine(pending + rest);
    if (record !== undefined) yield record;
    return;
  }
  if (csv === undefined) return;
  yield* csv.push(rest);
  const last = csv.finish();
  if (last !== undefined) yield last;
}
