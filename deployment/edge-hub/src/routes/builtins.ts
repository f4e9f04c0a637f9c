/**
 * Built-in functions of route conditions, transcribed from edgeHub (`Routing.Core/query/builtins/*.cs` and the
 * table in `ConditionVisitor.cs`). Each function has one or more executors; the first whose argument types
 * match is used, exactly as edgeHub's `Builtin.Get`. Names are case-insensitive.
 */

import type { EvalContext } from './eval-context.js';
import {
  F,
  QV_PATH_NOT_FOUND,
  QueryKind,
  T,
  U,
  isDefinedValue,
  parseDotnetNumber,
  toQueryValue,
  tri,
  typeName,
  type QueryValue,
  type StaticType,
  type Value,
} from './values.js';

export type Evaluator = (ctx: EvalContext) => Value;

/** A type-checked expression: its static type and the closure that evaluates it. */
export interface Typed {
  readonly type: StaticType;
  readonly ev: Evaluator;
  /** Set on the placeholder for an expression that already failed to compile, so no follow-on error is reported. */
  readonly failed?: true;
}

type ArgSpec =
  | { readonly match: 'exact'; readonly types: readonly StaticType[] }
  | { readonly match: 'query'; readonly types: readonly StaticType[] }
  | { readonly match: 'any'; readonly arity: number }
  | { readonly match: 'varargs'; readonly types: readonly StaticType[] };

interface Executor {
  readonly args: ArgSpec;
  readonly result: StaticType;
  /** Receives evaluators of the (for 'query'/'varargs' executors: QueryValue-wrapped) arguments. */
  readonly build: (args: readonly Evaluator[]) => Evaluator;
}

/** QueryValue.IsSupportedType: the types a `$body` value may be combined with. */
export function isQuerySupported(type: StaticType): boolean {
  return type === 'null' || type === 'number' || type === 'string' || type === 'bool';
}

/** edgeHub's `Args.Match` with QueryValue matching (also used for operator operands). */
export function matchesWithQuery(expected: readonly StaticType[], given: readonly StaticType[]): boolean {
  return (
    expected.length === given.length &&
    expected.every((t, k) => {
      const g = given[k] as StaticType;
      return t === g || (g === 'query' && isQuerySupported(t)) || (t === 'query' && isQuerySupported(g));
    })
  );
}

function matches(spec: ArgSpec, given: readonly StaticType[]): boolean {
  switch (spec.match) {
    case 'exact':
      return spec.types.length === given.length && spec.types.every((t, k) => t === given[k]);
    case 'query':
      return matchesWithQuery(spec.types, given);
    case 'any':
      return given.length === spec.arity;
    case 'varargs': {
      const n = spec.types.length - 1;
      const last = spec.types[n] as StaticType;
      return (
        given.length >= n &&
        given.every((g, k) => g === (k < n ? spec.types[k] : last) || g === 'query')
      );
    }
  }
}

const constant =
  (value: Value): Executor['build'] =>
  () =>
  () =>
    value;

function q(ev: Evaluator, ctx: EvalContext): QueryValue {
  return ev(ctx) as QueryValue;
}

/** A one-argument number function over a QueryValue; non-numbers give NaN (undefined). */
function math(fn: (x: number) => number): Executor {
  return {
    args: { match: 'query', types: ['number'] },
    result: 'number',
    build: ([a]) => (ctx) => {
      const v = q(a as Evaluator, ctx);
      return v.kind === QueryKind.NUMBER ? fn(v.value) : Number.NaN;
    },
  };
}

function stringOf(v: QueryValue): string | undefined {
  return v.kind === QueryKind.STRING ? v.value : undefined;
}

/** A two-string function; either argument not a string gives the undefined result. */
function twoStrings(result: 'bool' | 'number', fn: (s: string, fragment: string) => Value): Executor {
  const undef: Value = result === 'bool' ? U : Number.NaN;
  return {
    args: { match: 'query', types: ['string', 'string'] },
    result,
    build: ([a, b]) => (ctx) => {
      const s = stringOf(q(a as Evaluator, ctx));
      const f = stringOf(q(b as Evaluator, ctx));
      return s === undefined || f === undefined ? undef : fn(s, f);
    },
  };
}

/** .NET `ToUpperInvariant`/`ToLowerInvariant` map one UTF-16 unit to one; JS may expand (ß → SS), which .NET does not. */
function mapCase(s: string, upper: boolean): string {
  let out = '';
  for (const ch of s) {
    const mapped = upper ? ch.toUpperCase() : ch.toLowerCase();
    out += mapped.length === ch.length ? mapped : ch;
  }
  return out;
}

/** .NET `Math.Pow` follows IEEE 754 (pow(±1, ±∞) = 1) where JavaScript gives NaN. */
function dotnetPow(x: number, y: number): number {
  if (Math.abs(x) === 1 && !Number.isFinite(y) && !Number.isNaN(y)) return 1;
  return Math.pow(x, y);
}

function isDefinedExecutor(type: StaticType): Executor {
  return {
    args: { match: 'exact', types: [type] },
    result: 'bool',
    build: ([a]) => (ctx) => tri(isDefinedValue(type, (a as Evaluator)(ctx))),
  };
}

const BUILTINS: ReadonlyMap<string, readonly Executor[]> = new Map<string, readonly Executor[]>([
  ['abs', [math(Math.abs)]],
  ['exp', [math(Math.exp)]],
  [
    'power',
    [
      {
        args: { match: 'query', types: ['number', 'number'] },
        result: 'number',
        build: ([a, b]) => (ctx) => {
          const x = q(a as Evaluator, ctx);
          const y = q(b as Evaluator, ctx);
          return x.kind === QueryKind.NUMBER && y.kind === QueryKind.NUMBER ? dotnetPow(x.value, y.value) : Number.NaN;
        },
      },
    ],
  ],
  ['square', [math((x) => dotnetPow(x, 2))]],
  ['ceiling', [math(Math.ceil)]],
  ['floor', [math(Math.floor)]],
  // .NET Math.Sign returns an int, so sign(-0) is 0, not -0.
  ['sign', [math((x) => (x > 0 ? 1 : x < 0 ? -1 : 0))]],
  ['sqrt', [math(Math.sqrt)]],
  [
    'as_number',
    [
      {
        args: { match: 'query', types: ['string'] },
        result: 'number',
        build: ([a]) => (ctx) => {
          const v = q(a as Evaluator, ctx);
          if (v.kind === QueryKind.STRING) return parseDotnetNumber(v.value);
          return v.kind === QueryKind.NUMBER ? v.value : Number.NaN;
        },
      },
      { args: { match: 'exact', types: ['number'] }, result: 'number', build: ([a]) => a as Evaluator },
    ],
  ],
  [
    'is_bool',
    [
      {
        args: { match: 'query', types: ['bool'] },
        result: 'bool',
        build: ([a]) => (ctx) => {
          const v = q(a as Evaluator, ctx);
          return v.kind === QueryKind.NONE ? U : tri(v.kind === QueryKind.BOOL);
        },
      },
      { args: { match: 'any', arity: 1 }, result: 'bool', build: constant(F) },
    ],
  ],
  [
    'is_defined',
    [
      isDefinedExecutor('string'),
      isDefinedExecutor('number'),
      isDefinedExecutor('bool'),
      { args: { match: 'exact', types: ['undefined'] }, result: 'bool', build: constant(F) },
      { args: { match: 'exact', types: ['null'] }, result: 'bool', build: constant(T) },
      isDefinedExecutor('query'),
    ],
  ],
  [
    'is_null',
    [
      // A string property is never null here (message properties are always strings).
      { args: { match: 'exact', types: ['string'] }, result: 'bool', build: constant(F) },
      {
        args: { match: 'exact', types: ['query'] },
        result: 'bool',
        // edgeHub compares with `input != QueryValue.Null` by reference (QueryValue has no equality operator):
        // True for any defined value except a path that selected nothing. Reproduced for parity.
        build: ([a]) => (ctx) => {
          const v = q(a as Evaluator, ctx);
          return v.kind === QueryKind.NONE ? U : tri(v !== QV_PATH_NOT_FOUND);
        },
      },
      { args: { match: 'exact', types: ['null'] }, result: 'bool', build: constant(T) },
      { args: { match: 'any', arity: 1 }, result: 'bool', build: constant(F) },
    ],
  ],
  [
    'is_number',
    [
      {
        args: { match: 'query', types: ['number'] },
        result: 'bool',
        build: ([a]) => (ctx) => {
          const v = q(a as Evaluator, ctx);
          return tri(v.kind === QueryKind.NUMBER && Number.isFinite(v.value));
        },
      },
      { args: { match: 'any', arity: 1 }, result: 'bool', build: constant(F) },
    ],
  ],
  [
    'is_string',
    [
      {
        args: { match: 'query', types: ['string'] },
        result: 'bool',
        build: ([a]) => (ctx) => tri(q(a as Evaluator, ctx).kind === QueryKind.STRING),
      },
      { args: { match: 'any', arity: 1 }, result: 'bool', build: constant(F) },
    ],
  ],
  [
    'concat',
    [
      {
        args: { match: 'varargs', types: ['string', 'string', 'string'] },
        result: 'string',
        build: (args) => (ctx) => {
          let out = '';
          for (const a of args) {
            const s = stringOf(q(a, ctx));
            if (s === undefined) return undefined;
            out += s;
          }
          return out;
        },
      },
    ],
  ],
  [
    'length',
    [
      {
        args: { match: 'query', types: ['string'] },
        result: 'number',
        build: ([a]) => (ctx) => stringOf(q(a as Evaluator, ctx))?.length ?? Number.NaN,
      },
    ],
  ],
  [
    'lower',
    [
      {
        args: { match: 'query', types: ['string'] },
        result: 'string',
        build: ([a]) => (ctx) => {
          const s = stringOf(q(a as Evaluator, ctx));
          return s === undefined ? undefined : mapCase(s, false);
        },
      },
    ],
  ],
  [
    'upper',
    [
      {
        args: { match: 'query', types: ['string'] },
        result: 'string',
        build: ([a]) => (ctx) => {
          const s = stringOf(q(a as Evaluator, ctx));
          return s === undefined ? undefined : mapCase(s, true);
        },
      },
    ],
  ],
  [
    'substring',
    [
      {
        args: { match: 'query', types: ['string', 'number'] },
        result: 'string',
        build: ([a, b]) => (ctx) => {
          const s = stringOf(q(a as Evaluator, ctx));
          const start = q(b as Evaluator, ctx);
          if (s === undefined || start.kind !== QueryKind.NUMBER) return undefined;
          const i = start.value;
          return !Number.isNaN(i) && i >= 0 && i <= s.length ? s.substring(Math.trunc(i)) : undefined;
        },
      },
      {
        args: { match: 'query', types: ['string', 'number', 'number'] },
        result: 'string',
        build: ([a, b, c]) => (ctx) => {
          const s = stringOf(q(a as Evaluator, ctx));
          const start = q(b as Evaluator, ctx);
          const length = q(c as Evaluator, ctx);
          if (s === undefined || start.kind !== QueryKind.NUMBER || length.kind !== QueryKind.NUMBER) return undefined;
          const i = start.value;
          const n = length.value;
          const valid = !Number.isNaN(i) && i >= 0 && i < s.length && !Number.isNaN(n) && n >= 0 && n <= s.length - i;
          return valid ? s.substr(Math.trunc(i), Math.trunc(n)) : undefined;
        },
      },
    ],
  ],
  ['index_of', [twoStrings('number', (s, f) => s.indexOf(f))]],
  ['starts_with', [twoStrings('bool', (s, f) => tri(s.startsWith(f)))]],
  ['ends_with', [twoStrings('bool', (s, f) => tri(s.endsWith(f)))]],
  ['contains', [twoStrings('bool', (s, f) => tri(s.includes(f)))]],
]);

/** Names of every built-in function a route condition may call (lower-case). */
export const BUILTIN_FUNCTION_NAMES: readonly string[] = Object.freeze([...BUILTINS.keys()]);

export type BuiltinResult = { readonly ok: true; readonly typed: Typed } | { readonly ok: false; readonly message: string };

/**
 * Resolves a call: finds the first executor matching the argument types and builds its closure.
 * Returns an error message (edgeHub's wording, with a hint) when the function is unknown or no executor fits.
 */
export function callBuiltin(name: string, args: readonly Typed[]): BuiltinResult {
  const lower = name.toLowerCase();
  if (lower === 'twin_change_includes') {
    return {
      ok: false,
      message:
        `Invalid built-in function '${name}': edgeHub only allows it for its built-in twin-change source, ` +
        'which a route\'s FROM cannot select',
    };
  }
  const executors = BUILTINS.get(lower);
  if (executors === undefined) {
    return { ok: false, message: `Invalid built-in function '${name}' (known: ${BUILTIN_FUNCTION_NAMES.join(', ')})` };
  }
  const given = args.map((a) => a.type);
  const executor = executors.find((e) => matches(e.args, given));
  if (executor === undefined) {
    return {
      ok: false,
      message: `Invalid arguments to built-in function '${name}': ${name}(${given.map(typeName).join(', ')})`,
    };
  }
  const wrap = executor.args.match === 'query' || executor.args.match === 'varargs';
  const evs = args.map((a): Evaluator => {
    if (!wrap || a.type === 'query') return a.ev;
    const type = a.type;
    const ev = a.ev;
    return (ctx) => toQueryValue(type, ev(ctx));
  });
  return { ok: true, typed: { type: executor.result, ev: executor.build(evs) } };
}

