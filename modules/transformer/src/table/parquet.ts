import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { EdgeMLError, fsyncDir, isEdgeMLError, TEMP_FILE_PREFIX } from '@edgeml/shared';
import type { ColumnType } from '../config.js';
import type { ColumnReport, TableOptions } from './convert.js';
import { sqlIdentifier, sqlString, type DuckDbEngine, type DuckDbSession, type Row } from './duckdb.js';
import { checkFirstRecord, scanText } from './scan.js';
import type { Delimiter } from './sniff.js';

/**
 * CSV → Parquet through DuckDB: its dialect and type sniffer reads the CSV, its Parquet writer
 * writes row groups of `rowGroupRows` rows with zstd or snappy, timestamps as Parquet timestamps.
 * Outcomes for bad input, none of which loses a value silently:
 * - a value later in the file than the sniffer's sample that does not fit the sniffed type: the
 *   column is widened (BIGINT → DOUBLE → VARCHAR) and the file converted again;
 * - ragged rows (too few / too many fields): skipped and counted under raggedRows 'skip' (the first
 *   examples in the result), the file refused under 'fail';
 * - unclosed quotes or any other parse error DuckDB reports: refused (INPUT_MALFORMED, its message);
 * - not UTF-8, NUL bytes, a line over maxRecordBytes, more than maxColumns columns, content changed:
 *   refused by the checks in scan.ts, as the built-in parser refuses them.
 * The output is written to a temp file, fsync'd and renamed into place only when every check passed.
 */

/** Ragged rows kept in DuckDB's reject table (the count beyond this is reported as a lower bound). */
const REJECTS_LIMIT = 10_000;
const MAX_SKIP_EXAMPLES = 5;
/** Conversions again after widening a column (each widens at least one column one step). */
const MAX_WIDENINGS = 16;

export interface ParquetTableResult {
  readonly format: 'csv';
  readonly rows: number;
  /** Parquet row groups. */
  readonly batches: number;
  readonly skippedRows: number;
  /** True when more rows were skipped than DuckDB's reject table keeps: skippedRows is a lower bound. */
  readonly skippedRowsAtLeast: boolean;
  readonly skippedExamples: readonly string[];
  readonly delimiter: Delimiter;
  readonly header: boolean;
  readonly columns: readonly (ColumnReport & { readonly parquetType: string })[];
  readonly unmatchedOverrides: readonly string[];
  /** Columns widened after a value did not fit the sniffed type: name → type it ended as. */
  readonly widened: Readonly<Record<string, string>>;
  readonly compression: 'zstd' | 'snappy';
  readonly sourceBytes: number;
  readonly outputBytes: number;
  readonly convertMs: number;
}

export interface ParquetInput {
  readonly sourcePath: string;
  readonly targetPath: string;
  readonly expectedSha256: string;
  readonly options: TableOptions;
  readonly engine: DuckDbEngine;
  readonly signal?: AbortSignal;
}

const OVERRIDE_SQL_TYPES: Record<ColumnType, string> = { null: 'VARCHAR', bool: 'BOOLEAN', int64: 'BIGINT', float64: 'DOUBLE', timestamp: 'TIMESTAMPTZ', utf8: 'VARCHAR' };

/** Our column type for a DuckDB type, and the SQL that makes the column that type in Parquet. */
function columnTypeOf(duckType: string): { type: ColumnType; cast?: string } {
  if (/^(BIGINT|INTEGER|SMALLINT|TINYINT|UBIGINT|UINTEGER|USMALLINT|UTINYINT)$/.test(duckType)) return { type: 'int64' };
  if (/^(DOUBLE|FLOAT|DECIMAL.*)$/.test(duckType)) return { type: 'float64' };
  if (duckType === 'BOOLEAN') return { type: 'bool' };
  if (duckType.startsWith('TIMESTAMP')) return { type: 'timestamp' };
  if (duckType === 'DATE') return { type: 'timestamp', cast: 'TIMESTAMP' };
  if (duckType === 'VARCHAR') return { type: 'utf8' };
  return { type: 'utf8', cast: 'VARCHAR' };
}

function widerType(duckType: string): string {
  return columnTypeOf(duckType).type === 'int64' ? 'DOUBLE' : 'VARCHAR';
}

interface Dialect {
  readonly delimiter: Delimiter;
  readonly header: boolean;
  readonly columns: { readonly name: string; readonly type: string }[];
}

function readCsvSql(file: string, o: TableOptions, dialect: { delimiter: Delimiter; header?: boolean }, types: Readonly<Record<string, string>>): string {
  const args = [
    sqlString(file),
    `delim=${sqlString(dialect.delimiter)}`,
    `quote='"'`,
    `escape='"'`,
    `encoding='utf-8'`,
    `nullstr=[${o.nullValues.map(sqlString).join(', ')}]`,
    `max_line_size=${Math.max(o.maxRecordBytes + 2, 2 * 1024 * 1024)}`,
    'ignore_errors=true',
    'store_rejects=true',
    `rejects_limit=${REJECTS_LIMIT}`,
  ];
  if (dialect.header !== undefined) args.push(`header=${String(dialect.header)}`);
  const entries = Object.entries(types);
  if (entries.length > 0) args.push(`types={${entries.map(([k, v]) => `${sqlString(k)}: ${sqlString(v)}`).join(', ')}}`);
  return `read_csv(${args.join(', ')})`;
}

async function sniff(session: DuckDbSession, input: ParquetInput, delimiter: Delimiter): Promise<Dialect> {
  const o = input.options;
  const header = o.header === 'auto' ? undefined : o.header === 'present';
  const sql = readCsvSql(input.sourcePath, o, { delimiter, ...(header === undefined ? {} : { header }) }, {}).replace(/^read_csv\(/, 'sniff_csv(').replace(/, store_rejects=true, rejects_limit=\d+/, '');
  const [row] = await session.all(`SELECT HasHeader, Columns FROM ${sql}`);
  const columns = (row?.['Columns'] as { name: string; type: string }[] | undefined) ?? [];
  return { delimiter, header: row?.['HasHeader'] === true, columns };
}

/** The SELECT list: names (column_n without a header), casts for overrides and non-Parquet types. */
function selectList(dialect: Dialect, overrides: Readonly<Record<string, ColumnType>>): string {
  return dialect.columns
    .map((c, j) => {
      const source = sqlIdentifier(c.name);
      const name = sqlIdentifier(dialect.header ? c.name : `column_${j + 1}`);
      const forced = overrides[c.name];
      if (forced !== undefined) return `TRY_CAST(${source} AS ${OVERRIDE_SQL_TYPES[forced]}) AS ${name}`;
      const { cast } = columnTypeOf(c.type);
      return cast === undefined ? `${source} AS ${name}` : `CAST(${source} AS ${cast}) AS ${name}`;
    })
    .join(', ');
}

interface Reject {
  readonly line: number;
  readonly column: string | null;
  readonly errorType: string;
  readonly fields: number;
  readonly message: string;
}

async function rejects(session: DuckDbSession): Promise<Reject[]> {
  const rows = await session.all('SELECT line, column_idx, column_name, error_type, error_message FROM reject_errors ORDER BY line');
  return rows.map((r: Row) => ({ line: Number(r['line']), column: (r['column_name'] as string | null) ?? null, errorType: String(r['error_type']), fields: Number(r['column_idx']), message: String(r['error_message']) }));
}

async function parquetStats(session: DuckDbSession, file: string): Promise<{ rowGroups: number; nulls: Map<string, number>; types: Map<string, string> }> {
  const meta = await session.all(`SELECT path_in_schema AS name, count(DISTINCT row_group_id) AS groups, sum(stats_null_count) AS nulls FROM parquet_metadata(${sqlString(file)}) GROUP BY path_in_schema`);
  const schema = await session.all(`SELECT name, type, logical_type FROM parquet_schema(${sqlString(file)})`);
  const types = new Map(schema.map((r) => [String(r['name']), r['logical_type'] === null ? String(r['type']) : `${String(r['type'])} ${String(r['logical_type'])}`]));
  return { rowGroups: Math.max(0, ...meta.map((r) => Number(r['groups']))), nulls: new Map(meta.map((r) => [String(r['name']), Number(r['nulls'] ?? 0)])), types };
}

async function invalidCounts(session: DuckDbSession, from: string, overrides: Readonly<Record<string, ColumnType>>, names: readonly string[]): Promise<Map<string, number>> {
  const matched = names.filter((n) => overrides[n] !== undefined);
  if (matched.length === 0) return new Map();
  const exprs = matched.map((n, i) => `count(*) FILTER (WHERE ${sqlIdentifier(n)} IS NOT NULL AND TRY_CAST(${sqlIdentifier(n)} AS ${OVERRIDE_SQL_TYPES[overrides[n]!]}) IS NULL) AS c${i}`);
  const [row] = await session.all(`SELECT ${exprs.join(', ')} FROM ${from}`);
  return new Map(matched.map((n, i) => [n, Number(row?.[`c${i}`] ?? 0)]));
}

async function fsyncFile(file: string): Promise<number> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
    return (await handle.stat()).size;
  } finally {
    await handle.close();
  }
}

/** One COPY to `temp`; returns the rows written and the rejects. */
async function copyOnce(session: DuckDbSession, input: ParquetInput, dialect: Dialect, types: Readonly<Record<string, string>>, temp: string): Promise<{ rows: number; rejects: Reject[]; from: string }> {
  const o = input.options;
  const from = readCsvSql(input.sourcePath, o, { delimiter: dialect.delimiter, header: dialect.header }, types);
  const overrides = Object.fromEntries(Object.entries(o.columnTypes).filter(([n]) => dialect.columns.some((c) => c.name === n)));
  // The rejects of the previous try would otherwise be read again.
  await session.all('DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans;');
  const [count] = await session.all(`COPY (SELECT ${selectList({ ...dialect, columns: dialect.columns.map((c) => ({ name: c.name, type: types[c.name] ?? c.type })) }, overrides)} FROM ${from}) TO ${sqlString(temp)} (FORMAT parquet, COMPRESSION ${o.parquetCompression}, ROW_GROUP_SIZE ${o.rowGroupRows})`);
  return { rows: Number(count?.['Count'] ?? 0), rejects: await rejects(session), from };
}

/** The conversion in DuckDB, widening columns until no value is rejected for its type. */
async function convertInEngine(session: DuckDbSession, input: ParquetInput, delimiter: Delimiter, temp: string): Promise<Omit<ParquetTableResult, 'sourceBytes' | 'outputBytes' | 'convertMs'>> {
  const o = input.options;
  const dialect = await sniff(session, input, delimiter);
  const overrides = Object.fromEntries(Object.entries(o.columnTypes).filter(([n]) => dialect.columns.some((c) => c.name === n)));
  // Overridden columns are read as text and cast with TRY_CAST, so a value that does not parse becomes null and is counted.
  const types: Record<string, string> = Object.fromEntries(Object.keys(overrides).map((n) => [n, 'VARCHAR']));
  const widened: Record<string, string> = {};
  let attempt = await copyOnce(session, input, dialect, types, temp);
  for (let i = 0; ; i++) {
    const casts = new Set(attempt.rejects.filter((r) => r.errorType === 'CAST' && r.column !== null).map((r) => r.column!));
    if (casts.size === 0) break;
    if (i >= MAX_WIDENINGS) throw new EdgeMLError('INPUT_TOO_COMPLEX', `column types still do not fit after ${MAX_WIDENINGS} widenings`);
    for (const name of casts) {
      const current = types[name] ?? dialect.columns.find((c) => c.name === name)?.type ?? 'VARCHAR';
      types[name] = widerType(current);
      widened[name] = types[name];
    }
    attempt = await copyOnce(session, input, dialect, types, temp);
  }
  const ragged = attempt.rejects.filter((r) => r.errorType === 'MISSING COLUMNS' || r.errorType === 'TOO MANY COLUMNS');
  const other = attempt.rejects.find((r) => !ragged.includes(r));
  if (other !== undefined) throw new EdgeMLError('INPUT_MALFORMED', `CSV line ${other.line}: ${other.errorType.toLowerCase()} (${other.message})`);
  const describe = (r: Reject): string => `record ${r.line}: ${r.fields} fields where the table has ${dialect.columns.length}`;
  if (ragged.length > 0 && o.raggedRows === 'fail') throw new EdgeMLError('INPUT_MALFORMED', `${describe(ragged[0]!)} (table.raggedRows is 'fail')`);
  const stats = await parquetStats(session, temp);
  const invalid = await invalidCounts(session, attempt.from, overrides, dialect.columns.map((c) => c.name));
  const skippedLines = new Set(ragged.map((r) => r.line));
  return {
    format: 'csv',
    rows: attempt.rows,
    batches: stats.rowGroups,
    skippedRows: skippedLines.size,
    skippedRowsAtLeast: ragged.length >= REJECTS_LIMIT,
    skippedExamples: ragged.slice(0, MAX_SKIP_EXAMPLES).map(describe),
    delimiter,
    header: dialect.header,
    columns: dialect.columns.map((c, j) => {
      const name = dialect.header ? c.name : `column_${j + 1}`;
      const forced = overrides[c.name];
      return {
        name,
        type: forced ?? columnTypeOf(types[c.name] ?? c.type).type,
        overridden: forced !== undefined,
        nullCount: stats.nulls.get(name) ?? 0,
        invalidCount: invalid.get(c.name) ?? 0,
        parquetType: stats.types.get(name) ?? 'unknown',
      };
    }),
    unmatchedOverrides: Object.keys(o.columnTypes).filter((n) => overrides[n] === undefined),
    widened,
    compression: o.parquetCompression,
  };
}

/**
 * Converts a CSV file into a Parquet file at `targetPath` (atomically), checking the bytes beside
 * the conversion.
 * @throws EdgeMLError INPUT_MALFORMED, INPUT_TOO_COMPLEX, CONTENT_CHANGED, ABORTED (see the file comment)
 */
export async function convertCsvToParquet(input: ParquetInput): Promise<ParquetTableResult> {
  const t0 = performance.now();
  const o = input.options;
  const delimiter = await checkFirstRecord(input.sourcePath, o);
  await mkdir(path.dirname(input.targetPath), { recursive: true });
  const temp = path.join(path.dirname(input.targetPath), `${TEMP_FILE_PREFIX}${path.basename(input.targetPath)}-${randomBytes(6).toString('hex')}`);
  const session = await input.engine.session();
  const onAbort = (): void => session.interrupt();
  input.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    // The byte checks run beside the conversion; their verdict comes first (clearer than DuckDB's).
    const [scan, converted] = await Promise.allSettled([scanText(input.sourcePath, input.expectedSha256, o.maxRecordBytes, input.signal), convertInEngine(session, input, delimiter, temp)]);
    if (input.signal?.aborted === true) throw new EdgeMLError('ABORTED', 'table conversion aborted', { cause: input.signal.reason });
    if (scan.status === 'rejected') throw scan.reason;
    if (converted.status === 'rejected') {
      const err: unknown = converted.reason;
      if (isEdgeMLError(err)) throw err;
      throw new EdgeMLError('INPUT_MALFORMED', `CSV: ${(err as Error).message.split('\n')[0]}`, { cause: err });
    }
    const outputBytes = await fsyncFile(temp);
    // The content must be what was hashed: same size as scanned (the hash pass read every byte).
    if ((await stat(input.sourcePath)).size !== scan.value.sizeBytes) throw new EdgeMLError('CONTENT_CHANGED', 'content changed while it was converted');
    await rename(temp, input.targetPath);
    await fsyncDir(path.dirname(input.targetPath));
    return { ...converted.value, sourceBytes: scan.value.sizeBytes, outputBytes, convertMs: performance.now() - t0 };
  } catch (err: unknown) {
    await rm(temp, { force: true });
    throw err;
  } finally {
    input.signal?.removeEventListener('abort', onAbort);
    session.close();
  }
}
