import { EdgeMLError, configHash, sha256File } from '@edgeml/shared';
import { timeStage } from '../metrics.js';
import { stagingFile } from '../source.js';
import { artifactOutput } from './artifact.js';
import { convertTable, type TableFormat, type TableResult } from '../table/convert.js';
import type { ItemDeps, ItemHandler } from './types.js';

const JSONL_EXTENSIONS = new Set(['.jsonl', '.ndjson', '.json']);
/** Artifact metadata must stay small (contract: < 16 KiB); column lists beyond this are summarised. */
const MAX_METADATA_BYTES = 12 * 1024;

/** The artifact's metadata: counts, dialect and columns (summarised by type for wide tables). */
export function tableMetadata(r: TableResult): Record<string, unknown> {
  const base: Record<string, unknown> = {
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

/** Tables (CSV, JSON lines) → one Arrow IPC artifact (src/table/). */
export function createTableHandler(deps: ItemDeps): ItemHandler {
  const { paths, metrics, outputs } = deps;
  return async (msg, file, sizeBytes, c) => {
    if (sizeBytes > c.table.maxFileSizeBytes) throw new EdgeMLError('FILE_TOO_LARGE', `file is ${sizeBytes} bytes; the limit (table.maxFileSizeBytes) is ${c.table.maxFileSizeBytes}`);
    const format: TableFormat = JSONL_EXTENSIONS.has(msg.source.extension) ? 'jsonl' : 'csv';
    const t = c.table;
    const settings = { format, delimiter: t.delimiter, header: t.header, raggedRows: t.raggedRows, nullValues: t.nullValues, columnTypes: t.columnTypes, batchRows: t.batchRows };
    const settingsHash = configHash(settings);
    const target = stagingFile(paths, msg.id, `table-${settingsHash}.arrow`);
    const result = await convertTable({ sourcePath: file, targetPath: target.abs, format, expectedSha256: msg.id, options: t, signal: deps.signal });
    metrics.stageSeconds.observe({ stage: 'table_infer' }, result.inferMs / 1000);
    metrics.stageSeconds.observe({ stage: 'table_convert' }, result.convertMs / 1000);
    metrics.outputBytes.inc({ output: 'artifact' }, result.arrowBytes);
    const digest = await timeStage(metrics, 'hash', () => sha256File(target.abs));
    const contentType = 'application/vnd.apache.arrow.file';
    const output = artifactOutput(msg, {
      settingsKey: settingsHash,
      expectedParts: ['artifact'],
      artifact: { path: target.rel, sha256: digest.sha256, sizeBytes: digest.sizeBytes, kind: 'table', format: 'arrow', contentType, metadata: tableMetadata(result) },
      createdAt: deps.now().toISOString(),
      extraProperties: { rows: String(result.rows), skippedRows: String(result.skippedRows) },
    });
    await timeStage(metrics, 'send', () => outputs.send(output));
  };
}
