import assert from 'node:assert/strict';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import type { ArtifactMessage, CompletionMessage } from '@edgeml/shared';
import { startAzurite, type AzuriteInstance } from '../../helpers/azurite.js';
import { assertValidMLTable } from '../../helpers/mltable.js';
import { dropFile, makeDataRoot, startApp as startTransformer } from '../transformer/harness.js';
import { startApp, storage, waitFor } from './fixtures.js';

/** A telemetry CSV: the source whose rows, names and types the uploaded Parquet must keep. */
function telemetryCsv(rows: number): string {
  const lines = ['ts,sensor,temp_c,count,ok,note'];
  for (let i = 0; i < rows; i++) {
    const ts = new Date(Date.UTC(2026, 10, 24, 10) + i * 1000).toISOString().replace('.000Z', 'Z');
    lines.push(`${ts},s${i % 3},${(20 + (i % 50) / 10).toFixed(1)},${i},${i % 2 === 0 ? 'true' : 'false'},${i % 7 === 0 ? '' : `"n, ${i}"`}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('tables end to end: CSV → transformer (Parquet) → uploader → Azurite, read back with hyparquet', function () {
  this.timeout(90_000);
  let azurite: AzuriteInstance;
  before(async () => {
    azurite = await startAzurite();
  });
  after(async () => {
    await azurite?.stop();
  });

  it('the blob has the source rows, column names and types; its dataset folder holds a valid MLTable that globs it', async () => {
    const root = await makeDataRoot();
    const transformer = await startTransformer(root.paths);
    const uploader = await startApp(root.paths, { EDGEML_STORAGE_CONNECTION_STRING: azurite.connectionString }, { containerName: 'tables' });
    try {
      const rows = 5000;
      const csv = telemetryCsv(rows);
      await transformer.edge.deliver('files', await dropFile(root.paths, 'telemetry.csv', csv));
      const [sent] = transformer.edge.sentTo('artifacts');
      assert.ok(sent, JSON.stringify(transformer.edge.sent.map((s) => s.json)).slice(0, 500));
      const artifact = sent.json as ArtifactMessage;
      await uploader.edge.deliver('artifacts', artifact);
      await waitFor(() => uploader.completions().length === 1, 30_000, 'the upload');
      const c = uploader.completions()[0] as CompletionMessage;
      assert.equal(c.outcome, 'uploaded', JSON.stringify(c));
      const name = c.blob?.name ?? '';
      assert.match(name, new RegExp(`^table-[0-9a-f]{8}/dev-1/\\d{4}/\\d{2}/\\d{2}/${artifact.id}/artifact\\.parquet$`));
      const container = storage.BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('tables');

      const bytes = await container.getBlobClient(name).downloadToBuffer();
      const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      const metadata = parquetMetadata(file);
      const header = csv.split('\n')[0]!.split(',');
      assert.equal(Number(metadata.num_rows), rows, 'row count = the CSV data lines');
      const fields = parquetSchema(metadata).children.map((ch) => [ch.element.name, ch.element.logical_type?.type ?? ch.element.converted_type ?? ch.element.type]);
      assert.deepEqual(fields, [['ts', 'TIMESTAMP'], ['sensor', 'UTF8'], ['temp_c', 'DOUBLE'], ['count', 'INT_64'], ['ok', 'BOOLEAN'], ['note', 'UTF8']]);
      assert.deepEqual(fields.map((f) => f[0]), header);
      const read = (await parquetReadObjects({ file, compressors })) as Record<string, unknown>[];
      assert.equal(read.length, rows);
      assert.deepEqual(read[7], { ts: new Date(Date.UTC(2026, 10, 24, 10, 0, 7)), sensor: 's1', temp_c: 20.7, count: 7n, ok: false, note: null });
      assert.deepEqual(read[8]!['note'], 'n, 8');

      const folder = name.split('/')[0]!;
      // The MLTable is written right after the commit (its completion may go out first).
      await waitFor(() => container.getBlobClient(`${folder}/MLTable`).exists(), 10_000, 'the MLTable');
      const mltable = (await container.getBlobClient(`${folder}/MLTable`).downloadToBuffer()).toString('utf8');
      const doc = assertValidMLTable(mltable);
      assert.deepEqual(doc['paths'], [{ pattern: './*/*/*/*/*/*.parquet' }]);
      const glob = new RegExp(`^${'[^/]*/'.repeat(5)}[^/]*\\.parquet$`);
      assert.match(name.slice(folder.length + 1), glob, 'the MLTable pattern matches the blob');
      const types = (doc['transformations'] as Record<string, unknown>[]).find((t) => 'convert_column_types' in t);
      assert.deepEqual(types, { convert_column_types: [
        { columns: ['ts'], column_type: 'datetime' }, { columns: ['sensor', 'note'], column_type: 'string' }, { columns: ['temp_c'], column_type: 'float' },
        { columns: ['count'], column_type: 'int' }, { columns: ['ok'], column_type: 'boolean' },
      ] });
    } finally {
      await uploader.stop();
      await transformer.stop();
      await root.cleanup();
    }
  });
});
