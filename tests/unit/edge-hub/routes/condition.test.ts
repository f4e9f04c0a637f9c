import assert from 'node:assert/strict';

import { cond, condError, message } from './helpers.js';

const T = "'x' = 'x'";
const F = "'x' = 'y'";
const U = "missing = 'x'";

describe('routes: condition literals (§2.4)', () => {
  it('reads true and false', () => {
    assert.equal(cond('true'), 'true');
    assert.equal(cond('false'), 'false');
  });

  it('reads null (a condition that is null is false)', () => {
    assert.equal(cond('null'), 'false');
    assert.equal(cond('null = null'), 'true');
  });

  it('reads undefined (never routes)', () => {
    assert.equal(cond('undefined'), 'undefined');
    assert.equal(cond('undefined = undefined'), 'undefined');
  });

  it("reads strings in '…' and \"…\" with \\' \\\" \\\\ and \\uXXXX escapes", () => {
    assert.equal(cond(`'it\\'s' = "it's"`), 'true');
    assert.equal(cond(`"say \\"hi\\"" = 'say "hi"'`), 'true');
    assert.equal(cond(`'a\\\\b' = concat('a', '\\\\', 'b')`), 'true');
    assert.equal(cond(`'\\u0041' = 'A'`), 'true');
  });

  it('reads integers, negative integers, hex and reals with exponents as doubles', () => {
    assert.equal(cond('3 = 3.0'), 'true');
    assert.equal(cond('-5 < 0'), 'true');
    assert.equal(cond('0x1F = 31'), 'true');
    assert.equal(cond('1.5e3 = 1500'), 'true');
    assert.equal(cond('.5 = 0.5'), 'true');
  });

  it('treats an unparseable number token (the REAL token e5) as undefined, like edgeHub', () => {
    assert.equal(cond('is_defined(e5)'), 'false');
  });

  it('a bare string or number condition is undefined, hence false', () => {
    assert.equal(cond("'yes'"), 'undefined');
    assert.equal(cond('1'), 'undefined');
  });
});

describe('routes: operators and precedence (§2.4)', () => {
  it('applies * / % before + - and left-associates', () => {
    assert.equal(cond('1 + 2 * 3 = 7'), 'true');
    assert.equal(cond('(1 + 2) * 3 = 9'), 'true');
    assert.equal(cond('10 - 4 - 3 = 3'), 'true');
    assert.equal(cond('7 % 4 = 3'), 'true');
    assert.equal(cond('1 / 4 = 0.25'), 'true');
  });

  it('binds unary minus tighter than binary operators', () => {
    assert.equal(cond('- 2 * 3 = -6'), 'true');
    assert.equal(cond('- (2 + 3) = -5'), 'true');
  });

  it('divides by zero to infinity, a defined number', () => {
    assert.equal(cond('1 / 0 > 1000000'), 'true');
  });

  it('treats NaN results as undefined', () => {
    assert.equal(cond('0 / 0 = 0 / 0'), 'undefined');
  });

  it('concatenates with ||', () => {
    assert.equal(cond("'a' || 'b' = 'ab'"), 'true');
  });

  it('compares strings ordinally (case-sensitive)', () => {
    assert.equal(cond("'B' < 'a'"), 'true');
    assert.equal(cond("'abc' = 'ABC'"), 'false');
    assert.equal(cond("'b' >= 'a'"), 'true');
    assert.equal(cond("'a' <= 'a'"), 'true');
    assert.equal(cond("'a' > 'b'"), 'false');
  });

  it('supports = != <>', () => {
    assert.equal(cond('1 != 2'), 'true');
    assert.equal(cond('1 <> 1'), 'false');
  });

  it('compares booleans', () => {
    assert.equal(cond('true = true'), 'true');
    assert.equal(cond('true > false'), 'true');
  });

  it('compares null with null only', () => {
    assert.equal(cond('null <= null'), 'true');
    assert.equal(cond('null < null'), 'false');
    assert.match(condError("'a' = null").message, /Invalid operands to binary operator '='/);
  });

  it('puts comparisons above = and AND above OR', () => {
    assert.equal(cond('1 < 2 = true'), 'true');
    assert.equal(cond('true OR false AND false'), 'true');
    assert.equal(cond('(true OR false) AND false'), 'false');
  });

  it('binds NOT tighter than comparison, so NOT $x = ... is a type error (write NOT (...))', () => {
    assert.match(condError("NOT $connectionModuleId = 'filter'").message, /unary operator 'NOT'.*NOT \(a = b\)/);
    assert.equal(cond("NOT ($connectionModuleId = 'filter')"), 'false');
  });

  it('?? returns the left side when defined, else the right, at the lowest precedence', () => {
    assert.equal(cond("(missing ?? 'd') = 'd'", message()), 'true');
    assert.equal(cond("(present ?? 'd') = 'v'", message({ props: { present: 'v' } })), 'true');
    assert.match(condError("missing ?? 'd' = 'd'").message, /operator '\?\?'/);
    assert.equal(cond('(as_number(missing) ?? 5) = 5'), 'true');
  });

  it('rejects operands of the wrong type at compile time', () => {
    assert.match(condError('temp > 30').message, /Invalid operands to binary operator '>': have 'string' and 'number'.*as_number/);
    assert.match(condError("1 + 'a'").message, /binary operator '\+'/);
    assert.match(condError("'a' AND true").message, /binary operator 'AND'/);
    assert.match(condError("- 'a'").message, /unary operator '-'/);
    assert.match(condError('undefined + 1').message, /binary operator '\+'/);
    assert.match(condError("1 || 'a'").message, /binary operator '\|\|'/);
  });

  it('compares an app property to a number via as_number', () => {
    assert.equal(cond('as_number(temp) > 30', message({ props: { temp: '31.5' } })), 'true');
  });
});

describe('routes: three-valued logic (§2.4)', () => {
  const values = { T, F, U } as const;
  const name = { T: 'true', F: 'false', U: 'undefined' } as const;
  const andTable: Record<string, keyof typeof name> = {
    TT: 'T', TF: 'F', TU: 'U', FT: 'F', FF: 'F', FU: 'F', UT: 'U', UF: 'F', UU: 'U',
  };
  const orTable: Record<string, keyof typeof name> = {
    TT: 'T', TF: 'T', TU: 'T', FT: 'T', FF: 'F', FU: 'U', UT: 'T', UF: 'U', UU: 'U',
  };
  for (const [pair, result] of Object.entries(andTable)) {
    it(`${pair[0]} AND ${pair[1]} = ${result}`, () => {
      const [l, r] = [pair[0] as keyof typeof values, pair[1] as keyof typeof values];
      assert.equal(cond(`(${values[l]}) AND (${values[r]})`), name[result]);
    });
  }
  for (const [pair, result] of Object.entries(orTable)) {
    it(`${pair[0]} OR ${pair[1]} = ${result}`, () => {
      const [l, r] = [pair[0] as keyof typeof values, pair[1] as keyof typeof values];
      assert.equal(cond(`(${values[l]}) OR (${values[r]})`), name[result]);
    });
  }
  it('NOT T = F, NOT F = T, NOT U = U', () => {
    assert.equal(cond(`NOT (${T})`), 'false');
    assert.equal(cond(`NOT (${F})`), 'true');
    assert.equal(cond(`NOT (${U})`), 'undefined');
  });

  it('propagates undefined through comparisons with a missing property', () => {
    assert.equal(cond("missing = 'x'"), 'undefined');
    assert.equal(cond("missing != 'x'"), 'undefined');
    assert.equal(cond('as_number(missing) > 1'), 'undefined');
  });

  it('accepts the undefined literal in AND/OR with Kleene logic', () => {
    assert.equal(cond('undefined AND false'), 'false');
    assert.equal(cond('undefined OR true'), 'true');
    assert.equal(cond('undefined AND true'), 'undefined');
  });

  it('treats null in AND as null (false) and in OR as the other side, as edgeHub', () => {
    assert.equal(cond('null AND true'), 'false');
    assert.equal(cond('null OR true'), 'true');
    assert.equal(cond('null OR false'), 'false');
    assert.equal(cond('NOT null'), 'true');
    assert.match(condError('null AND undefined').message, /no such operator/);
  });
});

describe('routes: property references (§2.4)', () => {
  it('reads application properties by bare name, case-insensitively', () => {
    assert.equal(cond("ALERT = 'high'", message({ props: { alert: 'high' } })), 'true');
    assert.equal(cond("alert = 'HIGH'", message({ props: { alert: 'high' } })), 'false');
  });

  it('reads system properties with $name, case-insensitively', () => {
    const msg = message({ sys: { contentType: 'application/json', messageId: 'm-1', cid: 'c-1', userId: 'u' } });
    assert.equal(cond("$contentType = 'application/json'", msg), 'true');
    assert.equal(cond("$CONTENTTYPE = 'application/json'", msg), 'true');
    assert.equal(cond("$messageId = 'm-1'", msg), 'true');
    assert.equal(cond("$connectionDeviceId = 'dev1'", msg), 'true');
    assert.equal(cond("$connectionModuleId = 'filter'", msg), 'true');
    assert.equal(cond("$outputName = 'out1'", msg), 'true');
    assert.equal(cond("$cid = 'c-1'", msg), 'true');
    assert.equal(cond("$userId = 'u'", msg), 'true');
  });

  it('does not see the MQTT correlation id under $correlationId (it is stored as cid)', () => {
    assert.equal(cond('is_defined($correlationId)', message({ sys: { cid: 'c-1' } })), 'false');
  });

  it('allows - in system property names', () => {
    assert.equal(cond("$absolute-expiry-time = 't'", message({ sys: { 'absolute-expiry-time': 't' } })), 'true');
  });

  it('prefers an application property literally named $name over the system property', () => {
    const msg = message({ props: { $messageId: 'app' }, sys: { messageId: 'sys' } });
    assert.equal(cond("$messageId = 'app'", msg), 'true');
  });

  it('{$name} forces the system property', () => {
    const msg = message({ props: { $messageId: 'app' }, sys: { messageId: 'sys' } });
    assert.equal(cond("{$messageId} = 'sys'", msg), 'true');
  });

  it('a $name with brackets that is not a body query is undefined', () => {
    assert.equal(cond('is_defined($name[0])'), 'false');
  });
});
