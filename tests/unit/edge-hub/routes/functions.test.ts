import assert from 'node:assert/strict';

import { BUILTIN_FUNCTION_NAMES } from '../../../../deployment/edge-hub/src/routes/index.js';
import { cond, condError, jsonMessage, message } from './helpers.js';

const body = jsonMessage({ n: -2.5, s: 'Hello', t: true, z: null, num: '7' });

describe('routes: built-in functions (§2.4)', () => {
  it('lists exactly the functions the reference names (twin_change_includes excluded, see its test)', () => {
    assert.deepEqual([...BUILTIN_FUNCTION_NAMES].sort(), [
      'abs', 'as_number', 'ceiling', 'concat', 'contains', 'ends_with', 'exp', 'floor', 'index_of', 'is_bool', 'is_defined',
      'is_null', 'is_number', 'is_string', 'length', 'lower', 'power', 'sign', 'sqrt', 'square', 'starts_with', 'substring', 'upper',
    ]);
  });

  it('resolves names case-insensitively (IS_DEFINED, Is_Defined)', () => {
    assert.equal(cond('IS_DEFINED($connectionModuleId)'), 'true');
    assert.equal(cond('Is_Defined(missing)'), 'false');
  });

  it('abs', () => {
    assert.equal(cond('abs(-2) = 2'), 'true');
    assert.equal(cond('abs($body.n) = 2.5', body), 'true');
    assert.equal(cond('is_defined(abs($body.s))', body), 'false');
    assert.match(condError("abs('1')").message, /Invalid arguments to built-in function 'abs': abs\(string\)/);
  });

  it('exp', () => {
    assert.equal(cond('exp(0) = 1'), 'true');
  });

  it('power', () => {
    assert.equal(cond('power(2, 10) = 1024'), 'true');
    assert.equal(cond('power(1, 1 / 0) = 1'), 'true');
    assert.match(condError('power(2)').message, /power\(number\)/);
  });

  it('square', () => {
    assert.equal(cond('square(-3) = 9'), 'true');
  });

  it('ceiling', () => {
    assert.equal(cond('ceiling(1.2) = 2'), 'true');
    assert.equal(cond('ceiling($body.n) = -2', body), 'true');
  });

  it('floor', () => {
    assert.equal(cond('floor(-1.2) = -2'), 'true');
  });

  it('sign', () => {
    assert.equal(cond('sign(-5) = -1'), 'true');
    assert.equal(cond('sign(0) = 0'), 'true');
    assert.equal(cond('sign(0.1) = 1'), 'true');
  });

  it('sqrt (NaN is undefined)', () => {
    assert.equal(cond('sqrt(16) = 4'), 'true');
    assert.equal(cond('is_defined(sqrt(-1))'), 'false');
  });

  it('as_number parses like .NET double.TryParse(NumberStyles.Any, invariant)', () => {
    const props = { a: '21.5', b: ' 1,000 ', c: '(5)', d: '5-', e: 'abc', f: '0x10', g: '1e3', h: '+4' };
    const msg = message({ props });
    assert.equal(cond('as_number(a) = 21.5', msg), 'true');
    assert.equal(cond('as_number(b) = 1000', msg), 'true');
    assert.equal(cond('as_number(c) = -5', msg), 'true');
    assert.equal(cond('as_number(d) = -5', msg), 'true');
    assert.equal(cond('is_defined(as_number(e))', msg), 'false');
    assert.equal(cond('is_defined(as_number(f))', msg), 'false');
    assert.equal(cond('as_number(g) = 1000', msg), 'true');
    assert.equal(cond('as_number(h) = 4', msg), 'true');
    assert.equal(cond('as_number(3) = 3'), 'true');
    assert.equal(cond('as_number($body.num) = 7', body), 'true');
    assert.equal(cond('as_number($body.n) = -2.5', body), 'true');
    assert.match(condError('as_number(true)').message, /as_number\(bool\)/);
  });

  it('is_defined', () => {
    assert.equal(cond('is_defined(p)', message({ props: { p: '' } })), 'true');
    assert.equal(cond('is_defined(p)'), 'false');
    assert.equal(cond('is_defined(undefined)'), 'false');
    assert.equal(cond('is_defined(null)'), 'true');
    assert.equal(cond('is_defined(1)'), 'true');
    assert.equal(cond('is_defined(true)'), 'true');
    assert.equal(cond('is_defined($body.s)', body), 'true');
  });

  it('is_null (reproduces edgeHub: on $body values it is true unless the path selected nothing)', () => {
    assert.equal(cond('is_null(null)'), 'true');
    assert.equal(cond('is_null(p)', message({ props: { p: 'x' } })), 'false');
    assert.equal(cond('is_null(1)'), 'false');
    assert.equal(cond('is_null($body.z)', body), 'true');
    assert.equal(cond('is_null($body.s)', body), 'true');
    assert.equal(cond('is_null($body.absent)', body), 'false');
    assert.equal(cond('is_null($body.s)', message()), 'undefined');
  });

  it('is_bool', () => {
    assert.equal(cond('is_bool(true)'), 'true');
    assert.equal(cond("is_bool('true')"), 'false');
    assert.equal(cond('is_bool($body.t)', body), 'true');
    assert.equal(cond('is_bool($body.s)', body), 'false');
    assert.equal(cond("is_bool(missing = 'x')"), 'undefined');
  });

  it('is_number', () => {
    assert.equal(cond('is_number(1)'), 'true');
    assert.equal(cond("is_number('1')"), 'false');
    assert.equal(cond("is_number(as_number('x'))"), 'false');
    assert.equal(cond('is_number(1 / 0)'), 'false');
    assert.equal(cond('is_number($body.n)', body), 'true');
  });

  it('is_string', () => {
    assert.equal(cond("is_string('a')"), 'true');
    assert.equal(cond('is_string(p)', message({ props: { p: 'v' } })), 'true');
    assert.equal(cond('is_string(p)'), 'false');
    assert.equal(cond('is_string(1)'), 'false');
    assert.equal(cond('is_string($body.s)', body), 'true');
    assert.equal(cond('is_string($body.n)', body), 'false');
  });

  it('concat (two or more strings; undefined if any is)', () => {
    assert.equal(cond("concat('a', 'b', 'c') = 'abc'"), 'true');
    assert.equal(cond("concat($body.s, '!') = 'Hello!'", body), 'true');
    assert.equal(cond("is_defined(concat('a', missing))"), 'false');
    assert.match(condError("concat('a')").message, /concat\(string\)/);
    assert.match(condError("concat('a', 1)").message, /concat\(string, number\)/);
  });

  it('length', () => {
    assert.equal(cond("length('abc') = 3"), 'true');
    assert.equal(cond('length($body.s) = 5', body), 'true');
    assert.equal(cond('is_defined(length(missing))'), 'false');
  });

  it('lower', () => {
    assert.equal(cond("lower('ABC') = 'abc'"), 'true');
  });

  it('upper (one character to one, as .NET ToUpperInvariant)', () => {
    assert.equal(cond("upper('abc') = 'ABC'"), 'true');
    assert.equal(cond("upper('ß') = 'ß'"), 'true');
  });

  it('substring(s, start) and substring(s, start, length) with edgeHub bounds', () => {
    assert.equal(cond("substring('hello', 1) = 'ello'"), 'true');
    assert.equal(cond("substring('hello', 5) = ''"), 'true');
    assert.equal(cond("is_defined(substring('hello', 6))"), 'false');
    assert.equal(cond("is_defined(substring('hello', -1))"), 'false');
    assert.equal(cond("substring('hello', 1.9) = 'ello'"), 'true');
    assert.equal(cond("substring('hello', 1, 3) = 'ell'"), 'true');
    assert.equal(cond("is_defined(substring('hello', 5, 0))"), 'false');
    assert.equal(cond("is_defined(substring('hello', 1, 5))"), 'false');
    assert.match(condError("substring('a', 'b')").message, /substring\(string, string\)/);
  });

  it('index_of (ordinal, -1 if absent)', () => {
    assert.equal(cond("index_of('abc', 'c') = 2"), 'true');
    assert.equal(cond("index_of('abc', 'C') = -1"), 'true');
  });

  it('starts_with (ordinal)', () => {
    assert.equal(cond("starts_with('Hello', 'He')"), 'true');
    assert.equal(cond("starts_with('Hello', 'he')"), 'false');
    assert.equal(cond("starts_with(missing, 'he')"), 'undefined');
  });

  it('ends_with (ordinal)', () => {
    assert.equal(cond("ends_with('Hello', 'lo')"), 'true');
    assert.equal(cond("ends_with('Hello', 'LO')"), 'false');
  });

  it('contains (ordinal)', () => {
    assert.equal(cond("contains('Hello', 'ell')"), 'true');
    assert.equal(cond("contains($body.s, 'xyz')", body), 'false');
  });

  it('twin_change_includes does not compile for a route source, as in edgeHub', () => {
    assert.match(condError("twin_change_includes('properties.reported.x')").message, /Invalid built-in function 'twin_change_includes'/);
  });

  it('rejects an unknown function by name', () => {
    assert.match(condError('frobnicate(1)').message, /Invalid built-in function 'frobnicate'/);
  });
});
