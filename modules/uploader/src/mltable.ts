import { createHash } from 'node:crypto';
import { stringify } from 'yaml';

/**
 * Dataset folders and their `MLTable` files (the file that makes a blob folder an Azure ML
 * `mltable` data asset: `az ml data create --type mltable --path <folder>`; keys as documented in
 * docs/reference/azure-ml-data.md). A dataset folder is the first segment of a blob name whose
 * template starts with `{dataset}/` (artifacts) or with a literal segment (result batches:
 * `results/`); below it the template's placeholders become the MLTable's `paths` glob and its
 * `extract_columns_from_partition_format` (device and date as columns). Everything here is a pure
 * function of the template, the dataset and the columns, so every upload of a dataset renders the
 * same bytes and create-if-absent turns a second write into a no-op.
 */

/** Column types as the transformer reports them (artifact metadata `columns[].type`). */
export type TableColumnType = 'null' | 'bool' | 'int64' | 'float64' | 'timestamp' | 'utf8';
export interface TableColumn {
  readonly name: string;
  readonly type: TableColumnType;
}

const TYPE_LETTERS: Record<TableColumnType, string> = { null: 'n', bool: 'b', int64: 'i', float64: 'f', timestamp: 't', utf8: 's' };
const LETTER_TYPES = Object.fromEntries(Object.entries(TYPE_LETTERS).map(([t, l]) => [l, t])) as Record<string, TableColumnType>;
/** MLTable `convert_column_types` names for our column types (`null` columns get none). */
const MLTABLE_TYPES: Partial<Record<TableColumnType, string>> = { bool: 'boolean', int64: 'int', float64: 'float', timestamp: 'datetime', utf8: 'string' };

/** Blob metadata values are at most 1024 ASCII characters (sink.ts); wider schemas travel without types. */
const MAX_COLUMNS_TOKEN = 1024;

/** The columns as one ASCII metadata value (`name=letter,…`, names percent-encoded), or undefined when too long. */
export function encodeColumns(columns: readonly TableColumn[]): string | undefined {
  const token = columns.map((c) => `${encodeURIComponent(c.name)}=${TYPE_LETTERS[c.type]}`).join(',');
  return token.length <= MAX_COLUMNS_TOKEN ? token : undefined;
}

export function decodeColumns(token: string | undefined): TableColumn[] | undefined {
  if (token === undefined || token === '') return undefined;
  const out: TableColumn[] = [];
  for (const part of token.split(',')) {
    const eq = part.lastIndexOf('=');
    const type = LETTER_TYPES[part.slice(eq + 1)];
    if (eq < 1 || type === undefined) return undefined;
    out.push({ name: decodeURIComponent(part.slice(0, eq)), type });
  }
  return out;
}

function isColumn(v: unknown): v is TableColumn {
  return typeof v === 'object' && v !== null && typeof (v as TableColumn).name === 'string' && typeof (v as TableColumn).type === 'string' && (v as TableColumn).type in TYPE_LETTERS;
}

/**
 * The dataset an artifact belongs to: its kind, except tables: `table-<8 hex>`, one dataset per
 * schema (format, column names and types; for a wide table whose metadata has only a summary, the
 * column count and types by count), so every Parquet file under one MLTable has the same columns.
 */
export function datasetOfArtifact(kind: string, format: string, metadata: Readonly<Record<string, unknown>>): { dataset: string; columns?: TableColumn[] } {
  if (kind !== 'table') return { dataset: kind };
  const raw = metadata['columns'];
  const columns = Array.isArray(raw) && raw.every(isColumn) ? raw.map((c) => ({ name: c.name, type: c.type })) : undefined;
  const shape = columns ?? { count: metadata['columnCount'], byType: metadata['columnsByType'] };
  const key = createHash('sha256').update(JSON.stringify({ format, shape })).digest('hex').slice(0, 8);
  return { dataset: `table-${key}`, ...(columns === undefined ? {} : { columns }) };
}

const PLACEHOLDER = /\{([A-Za-z]+)\}/g;

/** The dataset folder of a blob name under `template`, or undefined when the template has no dataset segment. */
export function datasetFolder(template: string, blobName: string): string | undefined {
  const first = template.split('/')[0] ?? '';
  const literal = !first.includes('{');
  if (first !== '{dataset}' && !literal) return undefined;
  const folder = blobName.split('/')[0];
  return folder === undefined || folder === blobName ? undefined : folder;
}

/** `{yyyy}/{MM}/{dd}[/{HH}]` → one datetime partition key, other placeholders → string keys (ext: the literal). */
function partitionFormat(rest: string, ext: string): string {
  return `/${rest
    .replace('{yyyy}/{MM}/{dd}/{HH}', '{date:yyyy/MM/dd/HH}')
    .replace('{yyyy}/{MM}/{dd}', '{date:yyyy/MM/dd}')
    .replaceAll('{ext}', ext)}`;
}

export interface MLTableInput {
  /** The blob name template below the dataset folder (e.g. `{deviceId}/{yyyy}/{MM}/{dd}/{id}/{part}.{ext}`). */
  readonly layout: string;
  /** Extension of the dataset's files (parquet, jsonl, png, …): picks the read transform. */
  readonly ext: string;
  readonly columns?: readonly TableColumn[];
  /** JSON-lines columns holding file URLs (AutoML's `image_url`): typed `stream_info`. */
  readonly streamColumns?: readonly string[];
}

/** The dataset folder and the layout below it, for a blob named with `template`; undefined without a dataset segment. */
export function datasetOf(template: string, blobName: string): { folder: string; layout: string } | undefined {
  const folder = datasetFolder(template, blobName);
  return folder === undefined ? undefined : { folder, layout: template.split('/').slice(1).join('/') };
}

/** The MLTable document (an object; {@link renderMLTable} makes the YAML). */
export function mltableDocument(input: MLTableInput): Record<string, unknown> {
  // A file dataset (images, raw files) may mix extensions: its `{ext}` stays a wildcard and a column.
  const ext = input.ext === 'parquet' || input.ext === 'jsonl' ? input.ext : '{ext}';
  const pattern = `./${input.layout.replaceAll('{ext}', ext).replace(PLACEHOLDER, '*').replace(/\*+/g, '*')}`;
  const transformations: unknown[] = [];
  if (input.ext === 'parquet') transformations.push({ read_parquet: { include_path_column: false } });
  else if (input.ext === 'jsonl') transformations.push({ read_json_lines: { encoding: 'utf8', invalid_lines: 'error', include_path_column: false } });
  transformations.push({ extract_columns_from_partition_format: { partition_format: partitionFormat(input.layout, ext) } });
  const typed = (input.columns ?? []).filter((c) => MLTABLE_TYPES[c.type] !== undefined);
  const conversions: { columns: string[]; column_type: string }[] = [];
  if (input.ext === 'parquet' && typed.length > 0) {
    const byType = new Map<string, string[]>();
    for (const c of typed) byType.set(MLTABLE_TYPES[c.type]!, [...(byType.get(MLTABLE_TYPES[c.type]!) ?? []), c.name]);
    conversions.push(...[...byType].map(([columnType, columns]) => ({ columns, column_type: columnType })));
  }
  if (input.ext === 'jsonl' && input.streamColumns !== undefined && input.streamColumns.length > 0) conversions.push({ columns: [...input.streamColumns], column_type: 'stream_info' });
  if (conversions.length > 0) transformations.push({ convert_column_types: conversions });
  return { type: 'mltable', paths: [{ pattern }], transformations };
}

/** The MLTable file's bytes (YAML). */
export function renderMLTable(input: MLTableInput): Buffer {
  return Buffer.from(`# Written by the EdgeML uploader: az ml data create --type mltable --path <this folder>\n${stringify(mltableDocument(input), { lineWidth: 0 })}`, 'utf8');
}
