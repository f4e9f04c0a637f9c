import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  ROUTE_DEFAULTS,
  ROUTE_ERROR_CODES,
  RouteCompileError,
  RouteConfigError,
  RouteError,
  compileCondition,
  compileRoute,
  isRouteError,
} from '../../../../deployment/edge-hub/src/routes/index.js';
import { cond, condError, routeProblem, table } from './helpers.js';

const UP = 'INTO $upstream';

describe('routes: compile errors name the route and the position', () => {
  const cases: Array<[string, string, RegExp, number]> = [
    ['missing FROM', `WHERE true ${UP}`, /expected FROM, found 'WHERE'/, 1],
    ['SELECT without *', `SELECT FROM /x ${UP}`, /expected '\*' after SELECT/, 8],
    ['source without /', `FROM messages ${UP}`, /source path starting with '\/'/, 6],
    ['bad source item', `FROM /messages/( ${UP}`, /expected a name or '\*' after '\/'/, 16],
    ['missing INTO', 'FROM /messages/*', /expected WHERE or INTO after the source, found end of input/, 17],
    ['empty condition', `FROM /x WHERE ${UP}`, /expected an expression, found 'INTO'/, 15],
    ['missing sink', 'FROM /x INTO', /expected \$upstream or BrokeredEndpoint/, 13],
    ['unknown system endpoint', 'FROM /x INTO $cloud', /System endpoint type '\$cloud' not supported/, 14],
    ['unknown function endpoint', 'FROM /x INTO Endpoint("/modules/a/inputs/b")', /Function endpoint type 'Endpoint' not supported/, 14],
    ['address with 3 parts', 'FROM /x INTO BrokeredEndpoint("/modules/a/inputs")', /has 3 part\(s\)/, 31],
    ['empty address', 'FROM /x INTO BrokeredEndpoint("  ")', /address is empty/, 31],
    ['unquoted address', 'FROM /x INTO BrokeredEndpoint(/modules/a/inputs/b)', /expected a quoted address/, 31],
    ['unterminated sink string', 'FROM /x INTO BrokeredEndpoint("/modules/a/inputs/b)', /unterminated string/, 31],
    ['unterminated condition string', `FROM /x WHERE a = 'abc ${UP}`, /unterminated string/, 19],
    ['invalid escape ends the string', `FROM /x WHERE a = 'a\\nb' ${UP}`, /unterminated string/, 19],
    ['invalid symbol', `FROM /x WHERE a = 'b' @ true ${UP}`, /invalid symbol '@'/, 23],
    ['semicolon', `FROM /x WHERE true; ${UP}`, /invalid symbol ';'/, 19],
    ['unmatched )', `FROM /x WHERE (true)) ${UP}`, /unmatched closing '\)'/, 21],
    ['missing )', `FROM /x WHERE (true ${UP}`, /missing closing '\)'/, 21],
    ['missing ) in call', `FROM /x WHERE is_defined(a ${UP}`, /missing closing '\)'/, 28],
    ['unknown function', `FROM /x WHERE foo(1) ${UP}`, /Invalid built-in function 'foo'/, 15],
    ['bad arguments', `FROM /x WHERE lower(1) = 'a' ${UP}`, /Invalid arguments to built-in function 'lower': lower\(number\)/, 15],
    ['type error at the operator', `FROM /x WHERE temp > 30 ${UP}`, /Invalid operands to binary operator '>'/, 20],
    ['string in AND', `FROM /x WHERE a AND true ${UP}`, /binary operator 'AND': have 'string' and 'bool'/, 17],
    ['NOT precedence', `FROM /x WHERE NOT $x = 'a' ${UP}`, /unary operator 'NOT'/, 15],
    ['two expressions', `FROM /x WHERE a b ${UP}`, /expected an operator or INTO after the condition, found 'b'/, 17],
    ['brackets outside $body', `FROM /x WHERE a[0] = 'x' ${UP}`, /only allowed in \$body paths/, 15],
    ['twin_change_includes', `FROM /twinChangeNotifications WHERE twin_change_includes('a') ${UP}`, /twin_change_includes/, 37],
    ['bad $body path', `FROM /x WHERE $body.a[b] = 1 ${UP}`, /unsupported \$body path/, 15],
    ['escaped non-property', `FROM /x WHERE {a} = 'x' ${UP}`, /expected a \$property after '\{'/, 16],
    ['empty route', '  ', /.*/, 0],
  ];
  for (const [title, route, pattern, column] of cases) {
    it(title, () => {
      if (column === 0) {
        assert.throws(() => compileRoute('r1', route), (e: unknown) => e instanceof RouteCompileError && /route is empty/.test(e.message));
        return;
      }
      const problem = routeProblem(route, 'myRoute');
      assert.equal(problem.routeName, 'myRoute');
      assert.match(problem.message, pattern);
      assert.equal(problem.column, column, problem.message);
    });
  }

  it('reports line and column in a multi-line route', () => {
    const problem = routeProblem("FROM /x\nWHERE\n  temp > 30\nINTO $upstream");
    assert.deepEqual([problem.line, problem.column], [3, 8]);
  });

  it('reports every type error in one route', () => {
    assert.throws(
      () => compileRoute('r', `FROM /x WHERE temp > 30 AND foo() AND lower(1) = 'a' ${UP}`),
      (e: unknown) => e instanceof RouteCompileError && e.problems.length === 3 && e.routeName === 'r',
    );
  });

  it('compileRoute validates priority and TTL options', () => {
    assert.throws(() => compileRoute('r', `FROM /x ${UP}`, { priority: 10, timeToLiveSecs: -5 }), (e: unknown) => e instanceof RouteCompileError && e.problems.length === 2);
  });

  it('formats the message with route name, path and position', () => {
    assert.throws(
      () => compileRoute('toCloud', `FROM /x WHERE temp > 30 ${UP}`),
      /^RouteCompileError: Error parsing route toCloud: routes\.toCloud: Invalid operands .* \(line 1, column 20, offset 19\)$/,
    );
  });
});

describe('routes: hostile inputs give clear errors, not crashes', () => {
  it('rejects a route longer than the limit', () => {
    const long = `FROM /x WHERE a = '${'x'.repeat(ROUTE_DEFAULTS.maxRouteLengthChars)}' ${UP}`;
    assert.throws(() => compileRoute('r', long), /characters long; the limit is 65536/);
  });

  it('compiles a long but legal condition', () => {
    const long = Array.from({ length: 200 }, (_, k) => `p${k} = 'v'`).join(' OR ');
    assert.equal(compileRoute('r', `FROM /x WHERE ${long} ${UP}`).condition.text, long);
  });

  it('rejects deep parenthesis nesting', () => {
    assert.match(condError(`${'('.repeat(5000)}true${')'.repeat(5000)}`).message, /nested too deeply \(more than 256 levels\)/);
  });

  it('rejects long operator chains and deep unary nesting', () => {
    assert.match(condError(`${'true AND '.repeat(5000)}true`).message, /nested too deeply/);
    assert.match(condError(`${'NOT '.repeat(5000)}true`).message, /nested too deeply/);
    assert.match(condError(`${'- '.repeat(5000)}1 = 1`).message, /nested too deeply/);
  });

  it('accepts nesting just under the limit', () => {
    assert.equal(compileCondition(`${'('.repeat(100)}true${')'.repeat(100)}`).evaluate({ source: { kind: 'telemetry', deviceId: 'd' }, systemProperties: {}, properties: {}, body: new Uint8Array() }), 'true');
  });

  it('stays linear on many unclosed comments and quotes', () => {
    const started = Date.now();
    assert.throws(() => compileRoute('r', `FROM /x WHERE ${'/*'.repeat(20_000)} ${UP}`), RouteCompileError);
    // ' is an identifier character, so a run of quotes is one (odd) property name, as in edgeHub.
    assert.equal(compileRoute('r', `FROM /x WHERE ${"'".repeat(30_001)} ${UP}`).condition.text.length, 30_001);
    assert.throws(() => compileRoute('r', `FROM /x WHERE a = "${'\\'.repeat(30_000)} ${UP}`), RouteCompileError);
    assert.ok(Date.now() - started < 5000);
  });

  it('rejects control characters and binary junk with a syntax error', () => {
    assert.throws(() => compileRoute('r', 'FROM /x WHERE \u0000\u0001@@ INTO $upstream'), RouteCompileError);
    assert.throws(() => compileRoute('r', '\uFFFF\uD800 FROM'), RouteCompileError);
  });

  it('rejects unknown functions, unterminated strings and stray tokens as conditions', () => {
    assert.match(condError('nope()').message, /Invalid built-in function 'nope'/);
    assert.match(condError("'abc").message, /unterminated string/);
    assert.match(condError('true true').message, /unexpected 'true' after the expression/);
  });

  it('treats an empty bare condition as undefined, as edgeHub\'s condition compiler does', () => {
    assert.equal(cond(''), 'undefined');
    assert.equal(cond('  /* nothing */ '), 'undefined');
  });
});

describe('routes: error classes and code catalogue', () => {
  it('every code is listed in the README beside the code', () => {
    const readme = readFileSync(new URL('../../../../deployment/edge-hub/src/routes/README.md', import.meta.url), 'utf8');
    for (const code of ROUTE_ERROR_CODES) assert.ok(readme.includes(`\`${code}\``), `README lacks ${code}`);
    const listed = [...readme.matchAll(/`(ROUTE_[A-Z_]+)`/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(listed)].sort(), [...ROUTE_ERROR_CODES].sort());
  });

  it('errors carry their code, are RouteErrors and pass the cross-copy guard', () => {
    const compile = new RouteCompileError('r', [{ path: 'routes.r', message: 'm' }]);
    const config = new RouteConfigError([{ path: '$', message: 'm' }], { cause: compile });
    assert.equal(compile.code, 'ROUTE_COMPILE_ERROR');
    assert.equal(config.code, 'ROUTE_CONFIG_INVALID');
    assert.ok(compile instanceof RouteError && config instanceof RouteError);
    assert.equal(config.cause, compile);
    assert.ok(isRouteError(compile) && isRouteError(config));
    assert.equal(isRouteError(Object.assign(new Error('x'), { code: 'ROUTE_COMPILE_ERROR' })), false);
    assert.equal(isRouteError('ROUTE_COMPILE_ERROR'), false);
  });

  it('warnings do not block compilation', () => {
    const t = table({ r: 'FROM /messages/modules/*/x INTO $upstream extra' });
    assert.equal(t.routes.length, 1);
    assert.equal(t.warnings.length, 2);
  });
});
