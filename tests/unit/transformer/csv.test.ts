import assert from 'node:assert/strict';
import { CsvSplitter } from '@edgeml/transformer';

/** Splits `text` fed in pieces of `size` characters. */
function split(text: string, size = text.length, delimiter = ','): string[][] {
  const s = new CsvSplitter(delimiter, 1 << 20);
  const out: string[][] = [];
  for (let i = 0; i < text.length; i += size) out.push(...s.push(text.slice(i, i + size)));
  out.push(...s.end());
  return out;
}

describe('transformer/csv splitter', () => {
  const tricky = 'a,b,c\r\n"x, y","he said ""hi""","line1\nline2"\n,,\n\nlast,"",z';
  const expected = [
    ['a', 'b', 'c'],
    ['x, y', 'he said "hi"', 'line1\nline2'],
    ['', '', ''],
    ['last', '', 'z'],
  ];

  it('handles quotes, escaped quotes, quoted newlines, CRLF, empty fields, blank lines, no final newline', () => {
    assert.deepEqual(split(tricky), expected);
  });

  it('gives the same records whatever the chunk boundaries (every split point)', () => {
    for (let size = 1; size <= tricky.length; size++) assert.deepEqual(split(tricky, size), expected, `chunk size ${size}`);
  });

  it('a trailing delimiter is an empty last field; a quote inside an unquoted field is a character', () => {
    assert.deepEqual(split('a,b,\n1,2,\n'), [['a', 'b', ''], ['1', '2', '']]);
    assert.deepEqual(split('a,b\n5",x\n'), [['a', 'b'], ['5"', 'x']]);
    assert.deepEqual(split('a;b\n1,5;2\n', 3, ';'), [['a', 'b'], ['1,5', '2']]);
  });

  it('refuses an unclosed quote, text after a closing quote, and an over-long record', () => {
    assert.throws(() => split('a,b\n"open,1\n'), /quote not closed in record 2/);
    assert.throws(() => split('a,b\n"x"y,1\n'), /unexpected "y" after a closing quote in record 2/);
    const s = new CsvSplitter(',', 1024);
    assert.throws(() => s.push(`"${'x'.repeat(2000)}`), /record 1 is longer than table.maxRecordBytes \(1024\)/);
  });
});
