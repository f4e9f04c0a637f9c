import { EdgeMLError, configHash, sha256File } from '@edgeml/shared';
import { timeStage } from '../metrics.js';
import { stagingFile } from '../source.js';
import { artifactOutput } from './artifact.js';
import { writeTableTensors } from './table-tensors.js';
import { convertTable, type TableFormat, type TableResult } from '../table/convert.js';
import type { DuckDbEngine } from '../table/duckdb.js';
import { convertCsvToParquet, type ParquetTableResult } from '../table/parquet.js';
import type { TransformerConfig } from '../config.js';
import type { ItemDeps, ItemHandler } from './types.js';

const JSONL_EXTENSIONS = new Set(['.jsonl', '.ndjson', '.json']);
/** Artifact metadata must stay small (contract: < 16 KiB); column lists beyond this are summarised. */
const MAX_METADATA_BYTES = 12 * 1024;

/** The artifact's metadata: counts, dialect and columns (summarised by type for wide tables). */
export function tableMetadata(r: TableResult | ParquetTableResult): Record<string, unknown> {
  const parquet = 'compression' in r ? { engine: 'duckdb', compression: r.compression, skippedRowsAtLeast: r.skippedRowsAtLeast, widened: r.widened } : { engine: 'edgeml' };
  const base: Record<string, unknown> = {
    ...parquet,
    sourceFormat: r.format,
    rows: r.rows,
    batches: r.batches,
    skippedRows: r.skippedRows,
    skippedExamples: r.skippedExamples,
    ...(r.delimiter === undefined ? {} : { delimiter: r.delimiter }),
    ...(r.header === undefined ? {} : { header: r.header }),
    columnCount: r.columns.length,
    unmatchedOverrides: r.unmatchedOverrides.slice(0, 32),
  };
  const full = { ...base, columns: r.columns };
  if (Buffer.byteLength(JSON.stringify(full)) <= MAX_METADATA_BYTES) return full;
  // Wide tables: the Arrow file carries the schema; the message carries a summary.
  const byType: Record<string, number> = {};
  for (const col of r.columns) byType[col.type] = (byType[col.type] ?? 0) + 1;
  return { ...base, columnsByType: byType, columnsTruncated: true };
}

interface Converted {
  readonly result: TableResult | ParquetTableResult;
  readonly format: 'parquet' | 'arrow';
  readonly contentType: string;
  readonly outputBytes: number;
  readonly path: { abs: string; rel: string };
  readonly settingsHash: string;
}

/** CSV → Parquet through DuckDB (table.format 'parquet'); JSON lines, and CSV under 'arrow', → Arrow IPC. */
async function convert(deps: ItemDeps & { tableEngine: DuckDbEngine }, msg: Parameters<ItemHandler>[0], file: string, c: TransformerConfig): Promise<Converted> {
  const { metrics, paths } = deps;
  const sourceFormat: TableFormat = JSONL_EXTENSIONS.has(msg.source.extension) ? 'jsonl' : 'csv';
  const t = c.table;
  if (sourceFormat === 'csv' && t.format === 'parquet') {
    const settings = { format: 'parquet', delimiter: t.delimiter, header: t.header, raggedRows: t.raggedRows, nullValues: t.nullValues, columnTypes: t.columnTypes, compression: t.parquetCompression, rowGroupRows: t.rowGroupRows };
    const settingsHash = configHash(settings);
    const target = stagingFile(paths, msg.id, `table-${settingsHash}.parquet`);
    const result = await convertCsvToParquet({ sourcePath: file, targetPath: target.abs, expectedSha256: msg.id, options: t, engine: deps.tableEngine, signal: deps.signal });
    metrics.stageSeconds.observe({ stage: 'table_convert' }, result.convertMs / 1000);
    return { result, format: 'parquet', contentType: 'application/vnd.apache.parquet', outputBytes: result.outputBytes, path: target, settingsHash };
  }
  const settings = { format: sourceFormat, delimiter: t.delimiter, header: t.header, raggedRows: t.raggedRows, nullValues: t.nullValues, columnTypes: t.columnTypes, batchRows: t.batchRows };
  const settingsHash = configHash(settings);
  const target = stagingFile(paths, msg.id, `table-${settingsHash}.arrow`);
  const result = await convertTable({ sourcePath: file, targetPath: target.abs, format: sourceFormat, expectedSha256: msg.id, options: t, signal: deps.signal });
  metrics.stageSeconds.observe({ stage: 'table_infer' }, result.inferMs / 1000);
  metrics.stageSeconds.observe({ stage: 'table_convert' }, result.convertMs / 1000);
  return { result, format: 'arrow', contentType: 'application/vnd.apache.arrow.file', outputBytes: result.arrowBytes, path: target, settingsHash };
}

/**
 * Tables (CSV, JSON lines) → one artifact: Parquet (src/table/parquet.ts) or Arrow IPC (src/table/convert.ts),
 * and a feature-matrix tensor per window of each table profile that applies (items/table-tensors.ts).
 */
export function createTableHandler(deps: ItemDeps & { tableEngine: DuckDbEngine }): ItemHandler {
  const { metrics, outputs } = deps;
  return async (msg, file, sizeBytes, c) => {
    if (sizeBytes > c.table.maxFileSizeBytes) throw new EdgeMLError('FILE_TOO_LARGE', `file is ${sizeBytes} bytes; the limit (table.maxFileSizeBytes) is ${c.table.maxFileSizeBytes}`);
    const { result, format, contentType, outputBytes, path: target, settingsHash } = await convert(deps, msg, file, c);
    metrics.outputBytes.inc({ output: 'artifact' }, outputBytes);
    const digest = await timeStage(metrics, 'hash', () => sha256File(target.abs));
    // Feature-matrix tensors of the table profiles: their parts join the artifact's expectedParts.
    const sourceFormat = JSONL_EXTENSIONS.has(msg.source.extension) ? 'jsonl' : 'csv';
    const tensors = await timeStage(metrics, 'table_features', () => writeTableTensors(deps, msg, file, sourceFormat, c));
    const expectedParts = ['artifact', ...tensors.parts];
    const createdAt = deps.now().toISOString();
    const output = artifactOutput(msg, {
      settingsKey: settingsHash,
      expectedParts,
      artifact: { path: target.rel, sha256: digest.sha256, sizeBytes: digest.sizeBytes, kind: 'table', format, contentType, metadata: tableMetadata(result) },
      createdAt,
      extraProperties: { rows: String(result.rows), skippedRows: String(result.skippedRows) },
    });
    const done = new Set(msg.doneParts ?? []);
    const tensorOutputs = tensors.build(expectedParts, createdAt).filter((t) => !done.has(t.properties['part'] ?? ''));
    await timeStage(metrics, 'send', async () => {
      for (const t of tensorOutputs) await outputs.send(t);
      await outputs.send(output);
    });
  };
}
