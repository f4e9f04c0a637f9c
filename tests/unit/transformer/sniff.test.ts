import assert from 'node:assert/strict';
import { columnNames, detectDelimiter, detectHeader } from '@edgeml/transformer';

const NULLS = new Set(['', 'NA']);

describe('transformer/table sniffing', () => {
  it('detects , ; tab and |', () => {
    assert.equal(detectDelimiter('a,b,c\n1,2,3\n4,5,6\n', true), ',');
    assert.equal(detectDelimiter('a;b;c\n1,5;2,5;3\n4;5;6\n', true), ';');
    assert.equal(detectDelimiter('a\tb\n1\t2\n', true), '\t');
    assert.equal(detectDelimiter('a|b\n1|2\n', true), '|');
  });

  it('ignores delimiters inside quotes, also across quoted newlines', () => {
    const csv = 'name;note\n"x";"a, b, c\nd, e"\n"y";"f"\n';
    assert.equal(detectDelimiter(csv, true), ';');
  });

  it('ignores a cut-off last record when the sample is not the whole file', () => {
    assert.equal(detectDelimiter('a;b\n1;2\n3,4,5,6,7', false), ';');
  });

  it('falls back to , for a single column', () => {
    assert.equal(detectDelimiter('value\n1\n2\n', true), ',');
  });

  it('a first row of distinct texts is a header; numbers, dates or duplicates are not', () => {
    assert.equal(detectHeader(['id', 'name', 'when'], NULLS), true);
    assert.equal(detectHeader(['1', 'name'], NULLS), false);
    assert.equal(detectHeader(['2024-01-01', 'x'], NULLS), false);
    assert.equal(detectHeader(['a', 'a'], NULLS), false);
    assert.equal(detectHeader(['', ''], NULLS), false);
  });

  it('names columns: empty → column_n, duplicates suffixed', () => {
    assert.deepEqual(columnNames(['a', '', 'a', ' b '], 4), ['a', 'column_2', 'a_2', 'b']);
    assert.deepEqual(columnNames(undefined, 2), ['column_1', 'column_2']);
  });
});
