import assert from 'node:assert/strict';
import { UPLOADER_DEFAULTS, datasetOf, datasetOfArtifact, decodeColumns, encodeColumns, renderMLTable } from '@edgeml/uploader';
import { assertValidMLTable } from '../../helpers/mltable.js';

describe('uploader MLTable files (Azure ML data assets beside the uploaded data)', () => {
  const columns = [
    { name: 'ts', type: 'timestamp' },
    { name: 'device', type: 'utf8' },
    { name: 'temp_c', type: 'float64' },
    { name: 'count', type: 'int64' },
    { name: 'ok', type: 'bool' },
    { name: 'empty', type: 'null' },
    { name: 'Größe, "x"=1', type: 'float64' },
  ] as const;

  it('a Parquet table dataset: paths glob, read_parquet, device/date partitions, column types; valid against the schema', () => {
    const d = datasetOf(UPLOADER_DEFAULTS.blobNameTemplate, `table-0123abcd/dev-1/2026/01/02/${'ab'.repeat(32)}/artifact.parquet`);
    assert.deepEqual(d, { folder: 'table-0123abcd', layout: '{deviceId}/{yyyy}/{MM}/{dd}/{id}/{part}.{ext}' });
    const doc = assertValidMLTable(renderMLTable({ layout: d.layout, ext: 'parquet', columns }).toString('utf8'));
    assert.deepEqual(doc, {
      type: 'mltable',
      paths: [{ pattern: './*/*/*/*/*/*.parquet' }],
      transformations: [
        { read_parquet: { include_path_column: false } },
        { extract_columns_from_partition_format: { partition_format: '/{deviceId}/{date:yyyy/MM/dd}/{id}/{part}.parquet' } },
        {
          convert_column_types: [
            { columns: ['ts'], column_type: 'datetime' },
            { columns: ['device'], column_type: 'string' },
            { columns: ['temp_c', 'Größe, "x"=1'], column_type: 'float' },
            { columns: ['count'], column_type: 'int' },
            { columns: ['ok'], column_type: 'boolean' },
          ],
        },
      ],
    });
  });

  it('result batches (read_json_lines, hour partitions), images (a file dataset), AutoML lines (image_url as stream_info): all valid', () => {
    const r = datasetOf(UPLOADER_DEFAULTS.resultsBlobNameTemplate, 'results/dev-1/2026/01/02/10/20260102T100000Z-0123456789abcdef.jsonl');
    assert.equal(r?.folder, 'results');
    const results = assertValidMLTable(renderMLTable({ layout: r.layout, ext: 'jsonl' }).toString('utf8'));
    assert.deepEqual(results['transformations'], [
      { read_json_lines: { encoding: 'utf8', invalid_lines: 'error', include_path_column: false } },
      { extract_columns_from_partition_format: { partition_format: '/{deviceId}/{date:yyyy/MM/dd/HH}/{windowStart}-{batchId}.jsonl' } },
    ]);
    assert.deepEqual(results['paths'], [{ pattern: './*/*/*/*/*/*-*.jsonl' }]);
    const images = assertValidMLTable(renderMLTable({ layout: '{deviceId}/{yyyy}/{MM}/{dd}/{id}/{part}.{ext}', ext: 'png' }).toString('utf8'));
    assert.deepEqual(images, { type: 'mltable', paths: [{ pattern: './*/*/*/*/*/*.*' }], transformations: [{ extract_columns_from_partition_format: { partition_format: '/{deviceId}/{date:yyyy/MM/dd}/{id}/{part}.{ext}' } }] }, 'a file dataset: no read transform, any extension');
    assert.deepEqual(renderMLTable({ layout: '{deviceId}/{yyyy}/{MM}/{dd}/{id}/{part}.{ext}', ext: 'jpeg' }), renderMLTable({ layout: '{deviceId}/{yyyy}/{MM}/{dd}/{id}/{part}.{ext}', ext: 'png' }));
    const automl = assertValidMLTable(renderMLTable({ layout: '{deviceId}/{yyyy}/{MM}/{dd}/{windowStart}-{batchId}.jsonl', ext: 'jsonl', streamColumns: ['image_url'] }).toString('utf8'));
    assert.deepEqual((automl['transformations'] as unknown[])[2], { convert_column_types: [{ columns: ['image_url'], column_type: 'stream_info' }] });
  });

  it('the schema refuses what Azure ML does not document (it can fail)', () => {
    assert.throws(() => assertValidMLTable('type: mltable\npaths:\n  - pattern: ./*.arrow\ntransformations:\n  - read_arrow: {}\n'), /MLTable invalid/);
    assert.throws(() => assertValidMLTable('type: mltable\npaths: []\n'), /MLTable invalid/);
    assert.throws(() => assertValidMLTable('type: mltable\npaths:\n  - {file: ./a, folder: ./b}\n'), /MLTable invalid/);
    assert.throws(() => assertValidMLTable('paths:\n  - file: ./a.csv\ntransformations:\n  - convert_column_types: [{columns: a, column_type: decimal}]\n'), /MLTable invalid/);
  });

  it('one dataset per table schema; columns travel as one ASCII metadata value; no dataset folder for a template without one', () => {
    const a = datasetOfArtifact('table', 'parquet', { columns: columns.map((c) => ({ ...c, nullCount: 0 })) });
    const b = datasetOfArtifact('table', 'parquet', { columns: columns.slice(1).map((c) => ({ ...c, nullCount: 3 })) });
    assert.match(a.dataset, /^table-[0-9a-f]{8}$/);
    assert.notEqual(a.dataset, b.dataset);
    assert.equal(datasetOfArtifact('table', 'parquet', { columns: columns.map((c) => ({ ...c, nullCount: 9 })) }).dataset, a.dataset);
    assert.deepEqual(datasetOfArtifact('image', 'png', {}), { dataset: 'image' });
    const token = encodeColumns(columns);
    assert.ok(token !== undefined && /^[\x20-\x7e]+$/.test(token));
    assert.deepEqual(decodeColumns(token), columns);
    assert.equal(encodeColumns(Array.from({ length: 500 }, (_, i) => ({ name: `column_${i}`, type: 'utf8' as const }))), undefined);
    assert.equal(datasetOf('{deviceId}/{kind}/{id}/{part}.{ext}', 'dev/image/x/artifact.png'), undefined);
  });
});
