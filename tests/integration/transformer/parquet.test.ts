import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { isEdgeMLError, sha256, type ArtifactMessage } from '@edgeml/shared';
import { convertCsvToParquet, createDuckDbEngine, type DuckDbEngine, type ParquetTableResult } from '@edgeml/transformer';
import { configFrom, dropFile, makeDataRoot, startApp } from './harness.js';

type Opts = Partial<ReturnType<typeof configFrom>['table']>;

/** The Parquet file read with hyparquet (an independent reader): rows, column names and physical/logical types. */
async function readParquet(bytes: Buffer): Promise<{ rows: Record<string, unknown>[]; types: Record<string, string>; rowGroups: number; codecs: string[] }> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const metadata = parquetMetadata(file);
  const rows = (await parquetReadObjects({ file, compressors, rowFormat: 'object' })) as Record<string, unknown>[];
  const types = Object.fromEntries(parquetSchema(metadata).children.map((c) => [c.element.name, c.element.logical_type?.type ?? c.element.converted_type ?? c.element.type ?? '?']));
  const codecs = [...new Set(metadata.row_groups.flatMap((g) => g.columns.map((col) => col.meta_data?.codec ?? '?')))];
  return { rows, types, rowGroups: metadata.row_groups.length, codecs };
}

const plain = (rows: Record<string, unknown>[]): Record<string, unknown>[] =>
  rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.getTime() : v])));

describe('transformer/tables → Parquet (DuckDB writes, hyparquet reads back)', function () {
  this.timeout(60_000);
  let root: Awaited<ReturnType<typeof makeDataRoot>>;
  let engine: DuckDbEngine;
  before(() => {
    engine = createDuckDbEngine(() => ({ memoryLimitBytes: 256 * 1024 * 1024, threads: 1 }));
  });
  after(() => engine.close());
  beforeEach(async () => {
    root = await makeDataRoot();
  });
  afterEach(async () => {
    await root.cleanup();
  });

  async function convert(name: string, content: string | Buffer, opts: Opts = {}): Promise<{ result: ParquetTableResult; read: Awaited<ReturnType<typeof readParquet>> }> {
    const source = path.join(root.paths.inbox, name);
    const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
    await writeFile(source, buf);
    const targetPath = path.join(root.paths.staging, `${name}.parquet`);
    const result = await convertCsvToParquet({ sourcePath: source, targetPath, expectedSha256: sha256(buf), options: { ...configFrom().table, ...opts }, engine });
    return { result, read: await readParquet(await readFile(targetPath)) };
  }

  it('sniffs int64, float64, bool, timestamps (as Parquet timestamps) and text; an all-empty column is text with only nulls', async () => {
    const csv = 'id,score,ok,when,day,name,empty\n1,2.5,true,2024-01-02T03:04:05Z,2024-01-02,alice,\n2,,FALSE,2024-01-03T00:00:00Z,2024-01-03,bob,\n3,4,true,,,NA,\n';
    const { result, read } = await convert('types.csv', csv);
    assert.deepEqual(read.types, { id: 'INT_64', score: 'DOUBLE', ok: 'BOOLEAN', when: 'TIMESTAMP', day: 'TIMESTAMP', name: 'UTF8', empty: 'UTF8' });
    assert.deepEqual(result.columns.map((c) => [c.name, c.type, c.nullCount]), [
      ['id', 'int64', 0], ['score', 'float64', 1], ['ok', 'bool', 0], ['when', 'timestamp', 1], ['day', 'timestamp', 1], ['name', 'utf8', 1], ['empty', 'utf8', 3],
    ]);
    assert.deepEqual(plain(read.rows), [
      { id: 1, score: 2.5, ok: true, when: Date.UTC(2024, 0, 2, 3, 4, 5), day: Date.UTC(2024, 0, 2), name: 'alice', empty: null },
      { id: 2, score: null, ok: false, when: Date.UTC(2024, 0, 3), day: Date.UTC(2024, 0, 3), name: 'bob', empty: null },
      { id: 3, score: 4, ok: true, when: null, day: null, name: null, empty: null },
    ]);
    assert.deepEqual([result.rows, result.header, result.delimiter, result.compression], [3, true, ',', 'zstd']);
    assert.deepEqual(read.codecs, ['ZSTD']);
  });

  it('quoted fields, ; with decimal commas, CRLF and a BOM; no header gives column_n', async () => {
    assert.deepEqual((await convert('quoted.csv', 'a,b\n"x, y","line1\nline2"\n"say ""hi""",z\n')).read.rows, [
      { a: 'x, y', b: 'line1\nline2' },
      { a: 'say "hi"', b: 'z' },
    ]);
    const semi = await convert('semi.csv', '\ufeffname;price;qty\r\nä;1,5;3\r\nö;2,0;4\r\n');
    assert.equal(semi.result.delimiter, ';');
    assert.deepEqual(plain(semi.read.rows), [
      { name: 'ä', price: '1,5', qty: 3 },
      { name: 'ö', price: '2,0', qty: 4 },
    ]);
    const nohead = await convert('nohead.csv', '1,x\n2,y\n', { header: 'absent' });
    assert.deepEqual(plain(nohead.read.rows), [
      { column_1: 1, column_2: 'x' },
      { column_1: 2, column_2: 'y' },
    ]);
  });

  it('a value past the sniffer sample that does not fit its type widens the column (nothing is dropped); int64 beyond 2^53 survives', async () => {
    let csv = 'n,big\n';
    for (let i = 0; i < 30_000; i++) csv += `${i},${9007199254740993n + BigInt(i)}\n`;
    csv += '2.5,1\noops,2\n';
    const { result, read } = await convert('mixed.csv', csv, { rowGroupRows: 8192 });
    assert.equal(result.rows, 30_002);
    assert.deepEqual(result.widened, { n: 'VARCHAR' });
    assert.equal(result.columns[0]!.type, 'utf8');
    assert.deepEqual(read.rows.slice(-2).map((r) => r['n']), ['2.5', 'oops']);
    assert.equal(read.rows[29_999]!['big'], 9007199254740993n + 29_999n);
    assert.equal(read.rowGroups, result.batches);
    assert.ok(result.batches >= 3, `row groups of at most 8192 rows: ${result.batches}`);
  });

  it('ragged rows: skip counts them with examples and keeps the rest; fail refuses the file', async () => {
    const csv = 'a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n';
    const { result, read } = await convert('ragged.csv', csv);
    assert.deepEqual([result.rows, result.skippedRows], [2, 2]);
    assert.deepEqual(result.skippedExamples, ['record 3: 2 fields where the table has 3', 'record 4: 4 fields where the table has 3']);
    assert.deepEqual(plain(read.rows), [
      { a: 1, b: 2, c: 3 },
      { a: 10, b: 11, c: 12 },
    ]);
    await assert.rejects(convert('ragged2.csv', csv, { raggedRows: 'fail' }), /record 3: 2 fields where the table has 3 \(table.raggedRows is 'fail'\)/);
  });

  it('twin overrides force types; values that do not parse become null and are counted', async () => {
    const forced = await convert('forced.csv', 'zip,n\n00123,1\n04567,x\n', { columnTypes: { zip: 'utf8', n: 'int64', missing: 'bool' } });
    assert.deepEqual(plain(forced.read.rows), [
      { zip: '00123', n: 1 },
      { zip: '04567', n: null },
    ]);
    const n = forced.result.columns.find((c) => c.name === 'n')!;
    assert.deepEqual([n.overridden, n.invalidCount, n.nullCount], [true, 1, 1]);
    assert.deepEqual(forced.result.unmatchedOverrides, ['missing']);
  });

  it('refuses binary content, invalid UTF-8, an unclosed quote, a huge line, too many columns and a changed file, leaving nothing behind', async () => {
    const random = Buffer.alloc(4096);
    for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
    const code = (c: string, re: RegExp) => (err: unknown) => isEdgeMLError(err) && err.code === c && re.test(err.message);
    await assert.rejects(convert('random.csv', random), code('INPUT_MALFORMED', /not a text table|not UTF-8/));
    await assert.rejects(convert('latin1.csv', Buffer.from([0x61, 0x2c, 0x62, 0x0a, 0xe4, 0x2c, 0x31, 0x0a])), code('INPUT_MALFORMED', /not UTF-8 text/));
    await assert.rejects(convert('quote.csv', 'a,b\n"open,1\n'), code('INPUT_MALFORMED', /^CSV: /));
    await assert.rejects(convert('long.csv', `a,b\n1,${'x'.repeat(3 * 1024 * 1024)}\n2,y\n`), code('INPUT_TOO_COMPLEX', /longer than table.maxRecordBytes \(1048576\)/));
    const wide = `${Array.from({ length: 100_000 }, (_, i) => `c${i}`).join(',')}\n`;
    await assert.rejects(convert('wide.csv', wide, { maxRecordBytes: 4 * 1024 * 1024 }), code('INPUT_TOO_COMPLEX', /100000 columns; the limit \(table.maxColumns\) is 4096/));
    const source = path.join(root.paths.inbox, 'changed.csv');
    await writeFile(source, 'a\n1\n');
    await assert.rejects(
      convertCsvToParquet({ sourcePath: source, targetPath: path.join(root.paths.staging, 'changed.parquet'), expectedSha256: sha256('a\n2\n'), options: configFrom().table, engine }),
      code('CONTENT_CHANGED', /content changed/),
    );
    assert.deepEqual(await readdir(root.paths.staging), [], 'no output or temp file left');
  });

  it('through the app: a CSV becomes one Parquet artifact with its columns in the metadata', async () => {
    const h = await startApp(root.paths);
    const msg = await dropFile(root.paths, 'sales.csv', 'region;amount;at\nnorth;10;2024-01-01 10:00:00\nsouth;20;2024-01-02 11:30:00\n');
    await h.edge.deliver('files', msg);
    const [sent] = h.edge.sentTo('artifacts');
    assert.ok(sent, JSON.stringify(h.edge.sent.map((s) => s.json)));
    const art = sent.json as ArtifactMessage;
    assert.deepEqual([art.artifact.kind, art.artifact.format, art.artifact.contentType], ['table', 'parquet', 'application/vnd.apache.parquet']);
    assert.match(art.artifact.path, new RegExp(`^staging/${msg.id}/table-[0-9a-f]{16}\\.parquet$`));
    assert.deepEqual([sent.properties['rows'], sent.properties['format']], ['2', 'parquet']);
    const bytes = await readFile(path.join(root.paths.root, art.artifact.path));
    assert.equal(sha256(bytes), art.artifact.sha256);
    assert.deepEqual(plain((await readParquet(bytes)).rows), [
      { region: 'north', amount: 10, at: Date.UTC(2024, 0, 1, 10) },
      { region: 'south', amount: 20, at: Date.UTC(2024, 0, 2, 11, 30) },
    ]);
    const meta = art.artifact.metadata;
    assert.deepEqual([meta['engine'], meta['delimiter'], meta['rows']], ['duckdb', ';', 2]);
    assert.deepEqual((meta['columns'] as { name: string; type: string }[]).map((c) => `${c.name}:${c.type}`), ['region:utf8', 'amount:int64', 'at:timestamp']);
    await h.stop();
  });
});
