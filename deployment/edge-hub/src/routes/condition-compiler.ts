/**
 * WHERE conditions, type half: compiles a parsed `ConditionNode` (see `condition-parser.ts`) to closures,
 * as edgeHub's `query/ConditionVisitor.cs`. Types are checked once at compile time with edgeHub's rules;
 * evaluation is a tree of closures, so a message never re-parses anything.
 */

import { parseBodyPath, selectBodyValue } from './body.js';
import { callBuiltin, matchesWithQuery, type Evaluator, type Typed } from './builtins.js';
import type { ConditionNode } from './condition-parser.js';
import type { EvalContext } from './eval-context.js';
import { TokenKind, type Token } from './lexer.js';
import {
  F,
  QV_UNDEFINED,
  QueryKind,
  T,
  U,
  and3,
  compareDouble,
  compareOrdinal,
  compareQueryValues,
  isDefinedValue,
  not3,
  or3,
  qvNumber,
  qvString,
  toConditionResult,
  toQueryValue,
  tri,
  typeName,
  type QueryValue,
  type StaticType,
  type Tri,
  type Value,
} from './values.js';

/** One compile problem with its 0-based offset in the lexed text. */
export interface ConditionProblem {
  readonly message: string;
  readonly offset: number;
}

const UNDEFINED_TYPED: Typed = { type: 'undefined', ev: () => undefined };
// edgeHub carries on with an undefined expression after an error, which then trips every enclosing operator
// ("have 'undefined' and 'string'"); this placeholder is accepted silently instead, so each mistake is reported once.
const FAILED: Typed = { type: 'undefined', ev: () => undefined, failed: true };

const COMPARE: Partial<Record<TokenKind, (c: number) => boolean>> = {
  [TokenKind.EQ]: (c) => c === 0,
  [TokenKind.NE1]: (c) => c !== 0,
  [TokenKind.NE2]: (c) => c !== 0,
  [TokenKind.LT]: (c) => c < 0,
  [TokenKind.LE]: (c) => c <= 0,
  [TokenKind.GT]: (c) => c > 0,
  [TokenKind.GE]: (c) => c >= 0,
};

const ARITHMETIC: Partial<Record<TokenKind, (a: number, b: number) => number>> = {
  [TokenKind.MUL]: (a, b) => a * b,
  [TokenKind.DIV]: (a, b) => a / b,
  // .NET `%` on doubles is IEEE remainder with the dividend's sign, as in JavaScript.
  [TokenKind.MOD]: (a, b) => a % b,
  [TokenKind.PLUS]: (a, b) => a + b,
  [TokenKind.MINUS]: (a, b) => a - b,
};

function asQuery(t: Typed): Evaluator {
  if (t.type === 'query') return t.ev;
  const { type, ev } = t;
  return (ctx) => toQueryValue(type, ev(ctx));
}

/** Compiles a parsed condition to a closure, collecting every type error (edgeHub reports them all). */
export class ConditionCompiler {
  readonly problems: ConditionProblem[] = [];

  private error(token: Token, message: string): Typed {
    this.problems.push({ message, offset: token.start });
    return FAILED;
  }

  private operandError(token: Token, types: readonly StaticType[], expected: StaticType, hint = ''): Typed {
    const arity = types.length === 1 ? 'unary' : 'binary';
    const have = types.map((t) => `'${typeName(t)}'`).join(' and ');
    const want = types.map(() => `'${typeName(expected)}'`).join(' and ');
    return this.error(token, `Invalid operands to ${arity} operator '${token.text}': have ${have}, expected ${want}${hint}`);
  }

  compile(node: ConditionNode): Typed {
    switch (node.k) {
      case 'literal': {
        const value = node.value;
        return { type: node.type, ev: () => value };
      }
      case 'property': {
        const key = node.name.toLowerCase();
        return { type: 'string', ev: (ctx) => ctx.appProperty(key) };
      }
      case 'system':
        return this.compileSystem(node.token, node.text, node.escaped);
      case 'call': {
        const args = node.args.map((a) => this.compile(a));
        if (args.some((a) => a.failed === true)) return FAILED;
        const result = callBuiltin(node.name, args);
        return result.ok ? result.typed : this.error(node.token, result.message);
      }
      case 'unary':
        return node.token.kind === TokenKind.MINUS ? this.compileNegate(node) : this.compileNot(node);
      case 'binary': {
        const left = this.compile(node.left);
        const right = this.compile(node.right);
        return left.failed === true || right.failed === true ? FAILED : this.compileBinary(node.token, left, right);
      }
    }
  }

  private bodyQuery(token: Token, path: string): Typed | undefined {
    const parsed = parseBodyPath(path);
    if ('error' in parsed) {
      this.error(token, `Invalid $body query '${token.text}': ${parsed.error}`);
      return undefined;
    }
    const { segments } = parsed;
    return {
      type: 'query',
      ev: (ctx) => {
        const root = ctx.body();
        return root === undefined ? QV_UNDEFINED : selectBodyValue(root, segments);
      },
    };
  }

  /** `$name`, `$body.path` and `{$name}`, with edgeHub's lookup order (see ConditionVisitor.VisitSysProperty). */
  private compileSystem(token: Token, text: string, escaped: boolean): Typed {
    const isBody = text.toLowerCase().startsWith('$body.');
    const body = isBody ? this.bodyQuery(token, text.slice('$body.'.length)) : undefined;
    const hasBrackets = text.includes('[') || text.includes(']');
    if (isBody && body === undefined) return FAILED;
    if (escaped || hasBrackets) {
      if (isBody) return body ?? FAILED;
      if (hasBrackets) return UNDEFINED_TYPED;
      const sysKey = text.slice(1).toLowerCase();
      return { type: 'string', ev: (ctx) => ctx.systemProperty(sysKey) };
    }
    // An application property literally named "$name" (or "$body.path") wins over the system property / body.
    const appKey = text.toLowerCase();
    if (body !== undefined) {
      const bodyEv = body.ev;
      return {
        type: 'query',
        ev: (ctx) => {
          const app = ctx.appProperty(appKey);
          return app === undefined ? bodyEv(ctx) : qvString(app);
        },
      };
    }
    const sysKey = text.slice(1).toLowerCase();
    return { type: 'string', ev: (ctx) => ctx.appProperty(appKey) ?? ctx.systemProperty(sysKey) };
  }

  private compileNegate(node: Extract<ConditionNode, { k: 'unary' }>): Typed {
    const operand = this.compile(node.operand);
    if (operand.failed === true) return FAILED;
    if (operand.type === 'query') {
      return this.error(node.token, "unary '-' cannot be applied to a $body value (edgeHub defines no such operator); write 0 - $body.x");
    }
    if (operand.type !== 'number') return this.operandError(node.token, [operand.type], 'number');
    const ev = operand.ev;
    return { type: 'number', ev: (ctx) => -(ev(ctx) as number) };
  }

  private compileNot(node: Extract<ConditionNode, { k: 'unary' }>): Typed {
    const operand = this.compile(node.operand);
    if (operand.failed === true) return FAILED;
    const ev = operand.ev;
    switch (operand.type) {
      case 'null':
        return { type: 'bool', ev: () => T };
      case 'bool':
        return { type: 'bool', ev: (ctx) => not3(ev(ctx) as Tri) };
      case 'query':
        return {
          type: 'bool',
          ev: (ctx) => {
            const v = ev(ctx) as QueryValue;
            return v.kind === QueryKind.BOOL ? not3(v.value) : U;
          },
        };
      default:
        return this.operandError(
          node.token,
          [operand.type],
          'bool',
          ". NOT binds tighter than comparisons: write NOT (a = b)",
        );
    }
  }

  private compileBinary(token: Token, left: Typed, right: Typed): Typed {
    switch (token.kind) {
      case TokenKind.AND:
      case TokenKind.OR:
        return this.compileLogical(token, left, right);
      case TokenKind.COALESCE:
        return this.compileCoalesce(token, left, right);
      case TokenKind.CONCAT: {
        if (!matchesWithQuery(['string', 'string'], [left.type, right.type])) {
          return this.operandError(token, [left.type, right.type], 'string');
        }
        const result = callBuiltin('concat', [left, right]);
        return result.ok ? result.typed : this.error(token, result.message);
      }
      default:
        break;
    }
    const arithmetic = ARITHMETIC[token.kind];
    if (arithmetic !== undefined) {
      if (!matchesWithQuery(['number', 'number'], [left.type, right.type])) {
        const hint = left.type === 'string' || right.type === 'string' ? ' (properties are strings: use as_number(name))' : '';
        return this.operandError(token, [left.type, right.type], 'number', hint);
      }
      if (left.type === 'query' || right.type === 'query') {
        if (token.kind === TokenKind.MOD) {
          return this.error(token, "operator '%' cannot be applied to a $body value (edgeHub defines no such operator)");
        }
        const l = asQuery(left);
        const r = asQuery(right);
        return {
          type: 'query',
          ev: (ctx) => {
            const a = l(ctx) as QueryValue;
            const b = r(ctx) as QueryValue;
            return a.kind === QueryKind.NUMBER && b.kind === QueryKind.NUMBER ? qvNumber(arithmetic(a.value, b.value)) : QV_UNDEFINED;
          },
        };
      }
      const l = left.ev;
      const r = right.ev;
      return { type: 'number', ev: (ctx) => arithmetic(l(ctx) as number, r(ctx) as number) };
    }
    const compare = COMPARE[token.kind];
    if (compare === undefined) return this.error(token, `unsupported operator '${token.text}'`);
    return this.compileComparison(token, compare, left, right);
  }

  private compileComparison(token: Token, test: (c: number) => boolean, left: Typed, right: Typed): Typed {
    if (!matchesWithQuery([left.type, left.type], [left.type, right.type])) {
      const hint =
        (left.type === 'string' && right.type === 'number') || (left.type === 'number' && right.type === 'string')
          ? ' (properties are strings: compare as_number(name) with a number, or the property with a string)'
          : '';
      return this.operandError(token, [left.type, right.type], left.type, hint);
    }
    if (left.type === 'query' || right.type === 'query') {
      const l = asQuery(left);
      const r = asQuery(right);
      return {
        type: 'bool',
        ev: (ctx) => {
          const a = l(ctx) as QueryValue;
          const b = r(ctx) as QueryValue;
          return a.kind === QueryKind.NONE || b.kind === QueryKind.NONE ? U : tri(test(compareQueryValues(a, b)));
        },
      };
    }
    const l = left.ev;
    const r = right.ev;
    switch (left.type) {
      case 'string':
        return {
          type: 'bool',
          ev: (ctx) => {
            const a = l(ctx) as string | undefined;
            const b = r(ctx) as string | undefined;
            return a === undefined || b === undefined ? U : tri(test(compareOrdinal(a, b)));
          },
        };
      case 'number':
        return {
          type: 'bool',
          ev: (ctx) => {
            const a = l(ctx) as number;
            const b = r(ctx) as number;
            return Number.isNaN(a) || Number.isNaN(b) ? U : tri(test(compareDouble(a, b)));
          },
        };
      case 'bool':
        return {
          type: 'bool',
          ev: (ctx) => {
            const a = l(ctx) as Tri;
            const b = r(ctx) as Tri;
            return a === U || b === U ? U : tri(test(a - b));
          },
        };
      case 'null': {
        const result = tri(test(0));
        return { type: 'bool', ev: () => result };
      }
      default:
        return { type: 'bool', ev: () => U };
    }
  }

  /**
   * AND / OR with edgeHub's operand rules (ConditionVisitor.CheckBooleanOperands): each side must be bool,
   * null, undefined or a $body value, except that a $body value on the right is only accepted when the left
   * side is one too (an edgeHub quirk, reproduced so a route rejected there is rejected here).
   */
  private compileLogical(token: Token, left: Typed, right: Typed): Typed {
    const logical = (t: StaticType): boolean => t === 'null' || t === 'bool' || t === 'undefined' || t === 'query';
    const isAnd = token.kind === TokenKind.AND;
    const leftOk = logical(left.type);
    const rightOk = (logical(right.type) && right.type !== 'query') || left.type === 'query';
    if (!leftOk || !rightOk) {
      const hint =
        right.type === 'query' && left.type !== 'query'
          ? ` (edgeHub only accepts a $body value on the right of ${token.text} when the left side is one too: swap the operands)`
          : left.type === 'string' || right.type === 'string'
            ? ' (a property is a string: compare it, e.g. name = \'value\', or test is_defined(name))'
            : '';
      return this.operandError(token, [left.type, right.type], 'bool', hint);
    }
    const noOperator = (): Typed =>
      this.error(
        token,
        `Invalid operands to binary operator '${token.text}': have '${typeName(left.type)}' and '${typeName(right.type)}' (edgeHub defines no such operator)`,
      );
    const combine = isAnd ? and3 : or3;
    if (left.type === 'query') {
      if (isAnd && right.type === 'null') return noOperator();
      const l = left.ev;
      const r = asQuery(right);
      return {
        type: 'bool',
        ev: (ctx) => {
          const a = l(ctx) as QueryValue;
          const b = r(ctx) as QueryValue;
          return a.kind === QueryKind.BOOL && b.kind === QueryKind.BOOL ? combine(a.value, b.value) : U;
        },
      };
    }
    const hasNull = left.type === 'null' || right.type === 'null';
    if (hasNull && (left.type === 'undefined' || right.type === 'undefined')) return noOperator();
    if (left.type === 'null' && right.type === 'null') return { type: 'null', ev: () => null };
    if (hasNull) {
      // null AND x is null (false when it ends the condition); null OR x is x.
      if (isAnd) return { type: 'null', ev: () => null };
      const other = left.type === 'null' ? right.ev : left.ev;
      return { type: 'bool', ev: other };
    }
    // bool / undefined combinations: Kleene logic, undefined counting as U.
    const l = left.type === 'undefined' ? (): Value => U : left.ev;
    const r = right.type === 'undefined' ? (): Value => U : right.ev;
    if (isAnd) {
      return {
        type: 'bool',
        ev: (ctx) => {
          const a = l(ctx) as Tri;
          // Short-circuit only where the result cannot change; evaluation has no side effects.
          return a === F ? F : and3(a, r(ctx) as Tri);
        },
      };
    }
    return {
      type: 'bool',
      ev: (ctx) => {
        const a = l(ctx) as Tri;
        return a === T ? T : or3(a, r(ctx) as Tri);
      },
    };
  }

  private compileCoalesce(token: Token, left: Typed, right: Typed): Typed {
    if (!matchesWithQuery([left.type, left.type], [left.type, right.type])) {
      return this.operandError(token, [left.type, right.type], left.type);
    }
    if (left.type === 'undefined') return right;
    if (left.type === 'query' || right.type === 'query') {
      const l = asQuery(left);
      const r = asQuery(right);
      return {
        type: 'query',
        ev: (ctx) => {
          const a = l(ctx) as QueryValue;
          return a.kind !== QueryKind.NONE ? a : r(ctx);
        },
      };
    }
    const type = left.type;
    const l = left.ev;
    const r = right.ev;
    return {
      type,
      ev: (ctx) => {
        const a = l(ctx);
        return isDefinedValue(type, a) ? a : r(ctx);
      },
    };
  }
}

/** Compiles a parsed condition into a function returning edgeHub's three-valued result. */
export function compileConditionNode(node: ConditionNode): {
  readonly evaluate: (ctx: EvalContext) => Tri;
  readonly problems: readonly ConditionProblem[];
} {
  const compiler = new ConditionCompiler();
  const typed = compiler.compile(node);
  const { type, ev } = typed;
  return { evaluate: (ctx) => toConditionResult(type, ev(ctx)), problems: compiler.problems };
}
