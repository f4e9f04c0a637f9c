/**
 * The table profiles' own reader and feature matrix on real files: RFC 4180 quoting across chunks and
 * lines, CRLF, the delimiter from the header, ragged rows skipped as the artifact skips them, booleans,
 * the missing-value policies, JSON lines, and bad input with a stated outcome.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeNpy, isEdgeMLError, type TablePreprocessingSpec } from '@edgeml/shared';
import { readRecords, writeFeatureMatrix } from '@edgeml/transformer';

const SPEC: TablePreprocessingSpec = { kind: 'table', columns: ['a', 'b'], mean: [10, 0], std: [2, 1], missing: 'mean', windowRows: 2, dtype: 'float32' };

describe('transformer table profiles: records and feature windows', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-features-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const file = async (name: string, text: string): Promise<string> => {
    const p = path.join(dir, name);
    await writeFile(p, text);
    return p;
  };
  const all = async (p: string, format: 'csv' | 'jsonl', delimiter = 'auto'): Promise<unknown[]> => {
    const out: unknown[] = [];
    for await (const r of readRecords(p, format, { delimiter, maxRecordChars: 1024 })) out.push(r);
    return out;
  };

  it('splits CSV per RFC 4180: quoted delimiters, doubled quotes, line breaks in fields, CRLF, no final newline', async () => {
    const p = await file('q.csv', 'x;y\r\n"a;1";"say ""hi"""\r\n"two\nlines";z');
    assert.deepEqual(await all(p, 'csv'), [['x', 'y'], ['a;1', 'say "hi"'], ['two\nlines', 'z']]);
  });

  it('a record over maxRecordChars is INPUT_MALFORMED; a JSON line that is not an object is a skipped row (null)', async () => {
    await assert.rejects(all(await file('long.csv', `a\n${'x'.repeat(2000)}\n`), 'csv'), (err: unknown) => isEdgeMLError(err) && err.code === 'INPUT_MALFORMED');
    assert.deepEqual(await all(await file('arr.jsonl', '{"a":1}\n[1,2]\nnot json\n'), 'jsonl'), [{ a: 1 }, null, null]);
  });

  it('scales, fills missing values (mean → 0, zero → −mean/std), reads booleans, skips ragged rows, windows of 2', async () => {
    const p = await file('t.csv', 'b,c,a\ntrue,x,12\n,x,NA\n1,2\n3,x,abc\n0,x,14\n');
    const r = await writeFeatureMatrix({ file: p, format: 'csv', spec: SPEC, delimiter: 'auto', nullValues: ['', 'NA'], maxRecordChars: 1024, target: (i) => path.join(dir, `w${i}.npy`) });
    assert.ok('windows' in r);
    assert.equal(r.skippedRows, 1);
    assert.equal(r.missingValues, 3);
    assert.deepEqual(r.windows.map((w) => [w.firstRow, w.rows]), [[0, 2], [2, 2]]);
    const w0 = decodeNpy(await readFile(path.join(dir, 'w0.npy')));
    const w1 = decodeNpy(await readFile(path.join(dir, 'w1.npy')));
    assert.deepEqual([...w0.data, ...w1.data], [1, 1, 0, 0, 0, 3, 2, 0]);
    const zero = await writeFeatureMatrix({ file: p, format: 'csv', spec: { ...SPEC, missing: 'zero', windowRows: 8 }, delimiter: 'auto', nullValues: ['', 'NA'], maxRecordChars: 1024, target: () => path.join(dir, 'z.npy') });
    assert.ok('windows' in zero);
    assert.deepEqual([...decodeNpy(await readFile(path.join(dir, 'z.npy'))).data], [1, 1, -5, 0, -5, 3, 2, 0]);
  });

  it('JSON lines by key; an empty table and a header-only table are not applicable', async () => {
    const p = await file('t.jsonl', '{"a":10,"b":false}\n\n7\n{"a":null,"b":2.5}\n');
    const r = await writeFeatureMatrix({ file: p, format: 'jsonl', spec: SPEC, delimiter: 'auto', nullValues: [], maxRecordChars: 1024, target: () => path.join(dir, 'j.npy') });
    assert.ok('windows' in r);
    assert.equal(r.skippedRows, 1);
    assert.deepEqual([...decodeNpy(await readFile(path.join(dir, 'j.npy'))).data], [0, 0, 0, 2.5]);
    const opts = { format: 'csv' as const, spec: SPEC, delimiter: 'auto', nullValues: [], maxRecordChars: 1024, target: () => path.join(dir, 'n.npy') };
    assert.deepEqual(await writeFeatureMatrix({ ...opts, file: await file('e.csv', '') }), { notApplicable: 'the table is empty' });
    assert.deepEqual(await writeFeatureMatrix({ ...opts, file: await file('h.csv', 'a,b\n') }), { notApplicable: 'the table has no data rows' });
  });
});
