import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tableFromIPC, type Table } from 'apache-arrow';
import { isEdgeMLError, sha256, type ArtifactMessage } from '@edgeml/shared';
import { convertTable, type TableFormat, type TableResult } from '@edgeml/transformer';
import { configFrom, dropFile, makeDataRoot, startApp } from './harness.js';

type Opts = Partial<ReturnType<typeof configFrom>['table']>;

/** Rows as plain objects (int64 as numbers when safe, timestamps as ms). */
function rowsOf(t: Table): Record<string, unknown>[] {
  return t.toArray().map((r) => {
    const o = r.toJSON() as Record<string, unknown>;
    for (const [k, v] of Object.entries(o)) if (typeof v === 'bigint') o[k] = Number(v);
    return o;
  });
}
const typesOf = (t: Table): Record<string, string> => Object.fromEntries(t.schema.fields.map((f) => [f.name, String(f.type)]));

describe('transformer/tables (CSV and JSON lines → Arrow IPC, read back with apache-arrow)', function () {
  this.timeout(60_000);
  let root: Awaited<ReturnType<typeof makeDataRoot>>;
  beforeEach(async () => {
    root = await makeDataRoot();
  });
  afterEach(async () => {
    await root.cleanup();
  });

  async function convert(name: string, content: string | Buffer, opts: Opts = {}, format: TableFormat = name.endsWith('.jsonl') ? 'jsonl' : 'csv'): Promise<{ table: Table; result: TableResult; bytes: Buffer }> {
    const source = path.join(root.paths.inbox, name);
    const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
    await writeFile(source, buf);
    const targetPath = path.join(root.paths.staging, `${name}.arrow`);
    const result = await convertTable({ sourcePath: source, targetPath, format, expectedSha256: sha256(buf), options: { ...configFrom().table, ...opts } });
    const bytes = await readFile(targetPath);
    return { table: tableFromIPC(bytes), result, bytes };
  }

  it('infers int64, float64, bool, timestamp, utf8 and null, with missing values as nulls', async () => {
    const csv = 'id,score,ok,when,name,empty\n1,2.5,true,2024-01-02T03:04:05Z,alice,\n2,,FALSE,2024-01-03,bob,\n3,4,true,,NA,\n';
    const { table, result } = await convert('types.csv', csv);
    assert.deepEqual(typesOf(table), { id: 'Int64', score: 'Float64', ok: 'Bool', when: 'Timestamp<MILLISECOND, UTC>', name: 'Utf8', empty: 'Null' });
    assert.deepEqual(rowsOf(table), [
      { id: 1, score: 2.5, ok: true, when: Date.UTC(2024, 0, 2, 3, 4, 5), name: 'alice', empty: null },
      { id: 2, score: null, ok: false, when: Date.UTC(2024, 0, 3), name: 'bob', empty: null },
      { id: 3, score: 4, ok: true, when: null, name: null, empty: null },
    ]);
    assert.equal(result.header, true);
    assert.equal(result.delimiter, ',');
    assert.equal(result.columns.find((c) => c.name === 'score')!.nullCount, 1);
  });

  it('quoted fields keep commas, quotes and newlines', async () => {
    const csv = 'a,b\n"x, y","line1\nline2"\n"say ""hi""",z\n';
    const { table } = await convert('quoted.csv', csv);
    assert.deepEqual(rowsOf(table), [
      { a: 'x, y', b: 'line1\nline2' },
      { a: 'say "hi"', b: 'z' },
    ]);
  });

  it('; delimiter with decimal commas, CRLF line ends and a UTF-8 BOM', async () => {
    const csv = '\ufeffname;price;qty\r\nä;1,5;3\r\nö;2,0;4\r\n';
    const { table, result } = await convert('semi.csv', csv);
    assert.equal(result.delimiter, ';');
    assert.deepEqual(typesOf(table), { name: 'Utf8', price: 'Utf8', qty: 'Int64' });
    assert.deepEqual(rowsOf(table), [
      { name: 'ä', price: '1,5', qty: 3 },
      { name: 'ö', price: '2,0', qty: 4 },
    ]);
  });

  it('ragged rows: skip counts them and keeps the rest; fail refuses the file', async () => {
    const csv = 'a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n';
    const { table, result } = await convert('ragged.csv', csv);
    assert.equal(result.skippedRows, 2);
    assert.equal(result.rows, 2);
    assert.match(result.skippedExamples[0]!, /record 3: 2 fields where the table has 3/);
    assert.deepEqual(rowsOf(table), [
      { a: 1, b: 2, c: 3 },
      { a: 10, b: 11, c: 12 },
    ]);
    await assert.rejects(convert('ragged2.csv', csv, { raggedRows: 'fail' }), /record 3: 2 fields where the table has 3 \(table.raggedRows is 'fail'\)/);
  });

  it('no header: columns named column_n; twin overrides force types and count unparseable values', async () => {
    const { table, result } = await convert('nohead.csv', '1,x\n2,y\n');
    assert.equal(result.header, false);
    assert.deepEqual(rowsOf(table), [
      { column_1: 1, column_2: 'x' },
      { column_1: 2, column_2: 'y' },
    ]);
    const forced = await convert('forced.csv', 'zip,n\n00123,1\n04567,x\n', { columnTypes: { zip: 'utf8', n: 'int64', missing: 'bool' } });
    assert.deepEqual(typesOf(forced.table), { zip: 'Utf8', n: 'Int64' });
    assert.deepEqual(rowsOf(forced.table), [
      { zip: '00123', n: 1 },
      { zip: '04567', n: null },
    ]);
    const n = forced.result.columns.find((c) => c.name === 'n')!;
    assert.deepEqual([n.overridden, n.invalidCount, n.nullCount], [true, 1, 1]);
    assert.deepEqual(forced.result.unmatchedOverrides, ['missing']);
  });

  it('many record batches give the same table as one, and int64 beyond 2^53 survives', async () => {
    let csv = 'i,big,f,s\n';
    for (let i = 0; i < 1000; i++) csv += `${i},${9007199254740993n + BigInt(i)},${i / 4},s${i}\n`;
    const many = await convert('many.csv', csv, { batchRows: 64 });
    const one = await convert('one.csv', csv);
    assert.equal(many.result.batches, Math.ceil(1000 / 64));
    assert.equal(many.table.batches.length, Math.ceil(1000 / 64));
    assert.equal(one.result.batches, 1);
    assert.deepEqual(many.table.toArray().map((r) => JSON.stringify(r.toJSON(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))), one.table.toArray().map((r) => JSON.stringify(r.toJSON(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))));
    assert.equal(many.table.getChild('big')!.get(999), 9007199254740993n + 999n);
    assert.equal(many.table.getChild('i')!.get(-1 + 1000), 999n);
  });

  it('JSON lines: keys in first-seen order, widening, nested values as JSON text, bad lines skipped', async () => {
    const jsonl = '{"a":1,"b":"x","n":{"k":[1,2]}}\n\n{"a":2.5,"c":true,"t":"2024-05-06T07:08:09Z"}\n[1,2]\n{"a":-3,"b":null}\n';
    const { table, result } = await convert('events.jsonl', jsonl);
    assert.deepEqual(typesOf(table), { a: 'Float64', b: 'Utf8', n: 'Utf8', c: 'Bool', t: 'Timestamp<MILLISECOND, UTC>' });
    assert.deepEqual(rowsOf(table), [
      { a: 1, b: 'x', n: '{"k":[1,2]}', c: null, t: null },
      { a: 2.5, b: null, n: null, c: true, t: Date.UTC(2024, 4, 6, 7, 8, 9) },
      { a: -3, b: null, n: null, c: null, t: null },
    ]);
    assert.equal(result.skippedRows, 1);
    assert.match(result.skippedExamples[0]!, /line 4: not a JSON object/);
  });

  it('JSON lines: integers beyond 2^53 keep every digit (int64 while they fit, text beyond int64, exact inside nested values)', async () => {
    const jsonl = [
      '{"id":9007199254740993,"small":1,"huge":123456789012345678901234567890,"n":{"k":-9223372036854775808,"s":"9007199254740993"}}',
      '{"id":-9223372036854775807,"small":2,"huge":5,"n":null}',
      '{"id":12345678901234567 x}',
    ].join('\n');
    const { table, result } = await convert('big.jsonl', jsonl);
    assert.deepEqual(typesOf(table), { id: 'Int64', small: 'Int64', huge: 'Utf8', n: 'Utf8' });
    assert.deepEqual(table.getChild('id')!.toArray(), BigInt64Array.from([9007199254740993n, -9223372036854775807n]));
    assert.deepEqual([table.getChild('huge')!.get(0), table.getChild('huge')!.get(1)], ['123456789012345678901234567890', '5']);
    assert.equal(table.getChild('n')!.get(0), '{"k":-9223372036854775808,"s":"9007199254740993"}');
    // A line that is not JSON stays a skipped line (quoting its long number must not make it parse).
    assert.equal(result.skippedRows, 1);
    assert.match(result.skippedExamples[0]!, /line 3: not valid JSON/);
  });

  it('refuses binary content, bad quoting, too many columns and a changed file, leaving no output behind', async () => {
    const random = Buffer.alloc(4096);
    for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
    await assert.rejects(convert('random.csv', random), /not a text table|not UTF-8/);
    await assert.rejects(convert('latin1.csv', Buffer.from([0x61, 0x2c, 0x62, 0x0a, 0xe4, 0x2c, 0x31, 0x0a])), /not UTF-8 text/);
    await assert.rejects(convert('quote.csv', 'a,b\n"open,1\n'), /CSV: Quote Not Closed/i);
    const wide = `${Array.from({ length: 100_000 }, (_, i) => `c${i}`).join(',')}\n`;
    await assert.rejects(convert('wide.csv', wide), /100000 columns; the limit \(table.maxColumns\) is 4096/);
    const source = path.join(root.paths.inbox, 'changed.csv');
    await writeFile(source, 'a\n1\n');
    await assert.rejects(
      convertTable({ sourcePath: source, targetPath: path.join(root.paths.staging, 'changed.arrow'), format: 'csv', expectedSha256: sha256('a\n2\n'), options: configFrom().table }),
      (err: unknown) => isEdgeMLError(err) && err.code === 'CONTENT_CHANGED' && /content changed/.test(err.message),
    );
    const { readdir } = await import('node:fs/promises');
    assert.deepEqual((await readdir(root.paths.staging)).filter((f) => !f.endsWith('.arrow') || f.startsWith('.tmp-')), [], 'no temp files left');
  });

  it('a wide table (3000 columns) keeps the artifact metadata small: a summary by type instead of every column', async () => {
    const h = await startApp(root.paths);
    const header = Array.from({ length: 3000 }, (_, i) => `col_${i}`).join(',');
    const row = Array.from({ length: 3000 }, (_, i) => (i % 2 === 0 ? String(i) : `v${i}`)).join(',');
    const msg = await dropFile(root.paths, 'wide.csv', `${header}\n${row}\n${row}\n`);
    await h.edge.deliver('files', msg);
    const [sent] = h.edge.sentTo('artifacts');
    assert.ok(sent, JSON.stringify(h.edge.sent.map((x) => x.json)).slice(0, 500));
    const meta = (sent.json as ArtifactMessage).artifact.metadata;
    assert.equal(meta['columnsTruncated'], true);
    assert.deepEqual(meta['columnsByType'], { int64: 1500, utf8: 1500 });
    assert.ok(Buffer.byteLength(JSON.stringify(meta)) < 16 * 1024);
    await h.stop();
  });

  it('through the app under table.format arrow: one artifact message with the Arrow file, metadata and app properties', async () => {
    const h = await startApp(root.paths, { table: { format: 'arrow' } });
    const msg = await dropFile(root.paths, 'sales.csv', 'region;amount\nnorth;10\nsouth;20\n');
    await h.edge.deliver('files', msg);
    const [sent] = h.edge.sentTo('artifacts');
    assert.ok(sent, JSON.stringify(h.edge.sent.map((s) => s.json)));
    const art = sent.json as ArtifactMessage;
    assert.deepEqual(art.expectedParts, ['artifact']);
    assert.equal(art.artifact.kind, 'table');
    assert.equal(art.artifact.format, 'arrow');
    assert.match(art.artifact.path, new RegExp(`^staging/${msg.id}/table-[0-9a-f]{16}\\.arrow$`));
    assert.deepEqual([sent.properties['kind'], sent.properties['rows'], sent.properties['format']], ['table', '2', 'arrow']);
    const bytes = await readFile(path.join(root.paths.root, art.artifact.path));
    assert.equal(sha256(bytes), art.artifact.sha256);
    assert.deepEqual(rowsOf(tableFromIPC(bytes)), [
      { region: 'north', amount: 10 },
      { region: 'south', amount: 20 },
    ]);
    assert.equal(art.artifact.metadata['delimiter'], ';');
    assert.equal(h.edge.sentTo('completed').length, 0);
    await h.stop();
  });
});
