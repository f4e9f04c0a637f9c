/**
 * The feature matrix of a table profile: the profile's columns of every row, scaled, missing values
 * filled, cut into windows of `windowRows` rows, each written as one `.npy` tensor [1, rows, columns]
 * while the source streams (memory holds one window).
 */
import { createHash } from 'node:crypto';
import { encodeNpyHeader, writeFileAtomic, type TablePreprocessingSpec } from '@edgeml/shared';
import { readRecords, type TableRecord } from './records.js';

/** One written window: rows `firstRow … firstRow + rows − 1` of the table (0-based, data rows). */
export interface FeatureWindow {
  readonly index: number;
  readonly firstRow: number;
  readonly rows: number;
  readonly shape: readonly number[];
  readonly sha256: string;
  readonly sizeBytes: number;
}

export interface FeatureMatrixOptions {
  readonly file: string;
  readonly format: 'csv' | 'jsonl';
  readonly spec: TablePreprocessingSpec;
  readonly delimiter: string;
  readonly nullValues: readonly string[];
  readonly maxRecordChars: number;
  /** Where window `index` is written (absolute path). */
  readonly target: (index: number) => string;
  readonly signal?: AbortSignal;
}

/** What a profile found in a table: its windows, or why it does not apply. */
export type FeatureMatrixResult = { readonly windows: readonly FeatureWindow[]; readonly skippedRows: number; readonly missingValues: number } | { readonly notApplicable: string };

const TRUE = new Set(['true', 'yes']);
const FALSE = new Set(['false', 'no']);

/** A cell as a number, or NaN when it is missing or not numeric (booleans read as 1 / 0). */
export function cellNumber(value: unknown, nullValues: ReadonlySet<string>): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value !== 'string') return Number.NaN;
  const text = value.trim();
  if (text === '' || nullValues.has(text)) return Number.NaN;
  const lower = text.toLowerCase();
  if (TRUE.has(lower)) return 1;
  if (FALSE.has(lower)) return 0;
  const n = Number(text);
  return Number.isFinite(n) ? n : Number.NaN;
}

/** Writes one window's `.npy` file. */
async function writeWindow(o: FeatureMatrixOptions, index: number, firstRow: number, values: Float32Array, rows: number): Promise<FeatureWindow> {
  const columns = o.spec.columns.length;
  const shape = [1, rows, columns];
  const header = encodeNpyHeader('float32', shape);
  const data = Buffer.from(values.buffer, values.byteOffset, rows * columns * 4);
  // .npy says '<f4'; on a big-endian host the copy is swapped.
  const body = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? data : Buffer.from(data).swap32();
  const bytes = Buffer.concat([header, body]);
  await writeFileAtomic(o.target(index), bytes);
  return { index, firstRow, rows, shape, sha256: createHash('sha256').update(bytes).digest('hex'), sizeBytes: bytes.length };
}

/**
 * Streams the source and writes its windows. A CSV without a header naming every column of the
 * profile (or JSON lines whose first object lacks one) is not applicable; a CSV row with another
 * number of fields than the header, or a JSON line that is not an object, is skipped, as the artifact's
 * conversion skips it.
 * @throws EdgeMLError INPUT_MALFORMED from the reader
 */
export async function writeFeatureMatrix(o: FeatureMatrixOptions): Promise<FeatureMatrixResult> {
  const { spec } = o;
  const nulls = new Set(o.nullValues);
  const width = spec.columns.length;
  const fill = spec.columns.map((_, i) => (spec.missing === 'mean' ? 0 : (0 - spec.mean[i]!) / spec.std[i]!));
  const windowValues = new Float32Array(spec.windowRows * width);
  const windows: FeatureWindow[] = [];
  let header: readonly string[] | undefined;
  let indices: number[] = [];
  let rowInWindow = 0;
  let row = 0;
  let skippedRows = 0;
  let missingValues = 0;
  const pick = (record: NonNullable<TableRecord>): ((i: number) => unknown) | undefined => {
    if (Array.isArray(record)) {
      const fields = record as readonly string[];
      if (fields.length !== header!.length) return undefined;
      return (i) => fields[indices[i]!];
    }
    const obj = record as Readonly<Record<string, unknown>>;
    return (i) => obj[spec.columns[i]!];
  };
  for await (const record of readRecords(o.file, o.format, { delimiter: o.delimiter, maxRecordChars: o.maxRecordChars, signal: o.signal })) {
    if (record === null) {
      skippedRows++;
      continue;
    }
    if (header === undefined && Array.isArray(record)) {
      header = (record as readonly string[]).map((h) => h.trim());
      indices = spec.columns.map((c) => header!.indexOf(c));
      const absent = spec.columns.filter((_, i) => indices[i]! < 0);
      if (absent.length > 0) return { notApplicable: `the table has no column ${absent.map((c) => JSON.stringify(c)).join(', ')}` };
      continue;
    }
    if (header === undefined) {
      header = spec.columns;
      const absent = spec.columns.filter((c) => !(c in (record as Record<string, unknown>)));
      if (absent.length > 0) return { notApplicable: `the first JSON line has no key ${absent.map((c) => JSON.stringify(c)).join(', ')}` };
    }
    const cell = pick(record);
    if (cell === undefined) {
      skippedRows++;
      continue;
    }
    for (let i = 0; i < width; i++) {
      const v = cellNumber(cell(i), nulls);
      if (Number.isNaN(v)) missingValues++;
      windowValues[rowInWindow * width + i] = Number.isNaN(v) ? fill[i]! : (v - spec.mean[i]!) / spec.std[i]!;
    }
    rowInWindow++;
    row++;
    if (rowInWindow === spec.windowRows) {
      windows.push(await writeWindow(o, windows.length, row - rowInWindow, windowValues, rowInWindow));
      rowInWindow = 0;
    }
  }
  if (header === undefined) return { notApplicable: 'the table is empty' };
  if (rowInWindow > 0) windows.push(await writeWindow(o, windows.length, row - rowInWindow, windowValues, rowInWindow));
  if (windows.length === 0) return { notApplicable: 'the table has no data rows' };
  return { windows, skippedRows, missingValues };
}
