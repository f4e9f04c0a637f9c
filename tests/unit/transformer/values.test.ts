import assert from 'node:assert/strict';
import { classifyJson, classifyText, fitsType, isInt64Text, parseJsonExact, parseTimestampText, stringifyJsonExact, widen } from '@edgeml/transformer';

describe('transformer/table values', () => {
  it('classifies text cells', () => {
    const cases: [string, string][] = [
      ['42', 'int64'],
      ['-7', 'int64'],
      ['+3', 'int64'],
      ['9223372036854775807', 'int64'],
      ['9223372036854775808', 'utf8'],
      ['3.14', 'float64'],
      ['1e-3', 'float64'],
      ['.5', 'float64'],
      ['NaN', 'float64'],
      ['-inf', 'float64'],
      ['true', 'bool'],
      ['FALSE', 'bool'],
      ['2024-02-29', 'timestamp'],
      ['2024-01-02T03:04:05.123+02:00', 'timestamp'],
      ['2023-02-29', 'utf8'],
      ['12:30', 'utf8'],
      ['1,5', 'utf8'],
      ['hello', 'utf8'],
      ['0x1F', 'utf8'],
    ];
    for (const [text, type] of cases) assert.equal(classifyText(text), type, text);
  });

  it('parses ISO timestamps as UTC milliseconds, honouring offsets', () => {
    assert.equal(parseTimestampText('2024-01-02T03:04:05Z'), Date.UTC(2024, 0, 2, 3, 4, 5));
    assert.equal(parseTimestampText('2024-01-02 03:04:05.5'), Date.UTC(2024, 0, 2, 3, 4, 5, 500));
    assert.equal(parseTimestampText('2024-01-02T03:04:05+01:30'), Date.UTC(2024, 0, 2, 1, 34, 5));
    assert.equal(parseTimestampText('2024-13-01'), undefined);
    assert.equal(parseTimestampText('2024-04-31'), undefined);
  });

  it('widens int64 + float64 to float64, anything else mixed to utf8, null to the other', () => {
    assert.equal(widen('int64', 'float64'), 'float64');
    assert.equal(widen('null', 'bool'), 'bool');
    assert.equal(widen('timestamp', 'null'), 'timestamp');
    assert.equal(widen('int64', 'bool'), 'utf8');
    assert.equal(widen('timestamp', 'int64'), 'utf8');
  });

  it('classifies JSON values by their JSON type (a string of digits stays a string)', () => {
    assert.equal(classifyJson(3), 'int64');
    assert.equal(classifyJson(3.5), 'float64');
    assert.equal(classifyJson(2 ** 60), 'float64');
    assert.equal(classifyJson('42'), 'utf8');
    assert.equal(classifyJson('2024-01-01T00:00:00Z'), 'timestamp');
    assert.equal(classifyJson(null), 'null');
    assert.equal(classifyJson({ a: 1 }), 'utf8');
    assert.equal(isInt64Text('-9223372036854775808'), true);
  });

  it('fitsType agrees with classifyText on what a type can hold', () => {
    assert.equal(fitsType('12', 'float64'), true, 'an integer fits a float column');
    assert.equal(fitsType('1.5', 'int64'), false);
    assert.equal(fitsType('2024-01-01', 'timestamp'), true);
    assert.equal(fitsType('yes', 'bool'), false);
    assert.equal(fitsType('anything', 'utf8'), true);
    assert.equal(fitsType('x', 'null'), false);
  });

  it('parses JSON with integers beyond 2^53 exactly, and only those, whatever surrounds them', () => {
    assert.deepEqual(parseJsonExact('{"a":9007199254740993,"b":9007199254740991,"c":1.5e300,"d":-12345678901234567890}'), { a: 9007199254740993n, b: 9007199254740991, c: 1.5e300, d: -12345678901234567890n });
    // Digits inside strings (with escaped quotes before them), fractions and exponents are left alone.
    assert.deepEqual(parseJsonExact('{"s":"x\\" 12345678901234567890","f":12345678901234567890.5,"e":12345678901234567e3,"arr":[1,99999999999999999999]}'), { s: 'x" 12345678901234567890', f: Number('12345678901234567890.5'), e: Number('12345678901234567e3'), arr: [1, 99999999999999999999n] });
    assert.equal(parseJsonExact('12345678901234567890'), 12345678901234567890n);
    assert.throws(() => parseJsonExact('{"a":12345678901234567890 x}'), SyntaxError);
    assert.equal(classifyJson(9007199254740993n), 'int64');
    assert.equal(classifyJson(9223372036854775808n), 'utf8');
    assert.equal(stringifyJsonExact({ k: [9007199254740993n, -5n, 'a"b'], n: 1 }), '{"k":[9007199254740993,-5,"a\\"b"],"n":1}');
  });
});
