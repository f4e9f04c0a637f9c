/**
 * Runtime value model of route conditions, mirroring edgeHub's (`Routing.Core/query/Bool.cs`, `Undefined.cs`,
 * `Null.cs`, `types/QueryValue.cs`):
 *
 * - every expression has a static type, checked when the route compiles (see {@link StaticType});
 * - "undefined" is a value of each type: an absent string, NaN for numbers, `U` for booleans;
 * - booleans are three-valued (`T`, `F`, `U`) with Kleene AND/OR/NOT;
 * - `$body` query results are {@link QueryValue}s that carry their JSON type at run time.
 */

/** Static type of a condition expression, as edgeHub's expression compiler sees it. */
export type StaticType = 'string' | 'number' | 'bool' | 'null' | 'undefined' | 'query';

/** Three-valued boolean: 1 = True, 0 = Undefined, -1 = False (edgeHub's `Bool` uses the same numbers). */
export type Tri = 1 | 0 | -1;
export const T: Tri = 1;
export const U: Tri = 0;
export const F: Tri = -1;

export function tri(value: boolean): Tri {
  return value ? T : F;
}

/** Kleene AND. */
export function and3(x: Tri, y: Tri): Tri {
  if (x === F || y === F) return F;
  if (x === U || y === U) return U;
  return T;
}

/** Kleene OR. */
export function or3(x: Tri, y: Tri): Tri {
  if (x === T || y === T) return T;
  if (x === U || y === U) return U;
  return F;
}

/** Kleene NOT. */
export function not3(x: Tri): Tri {
  return x === U ? U : x === T ? F : T;
}

/** QueryValue kinds; the numbers are edgeHub's `QueryValueType` enum, which orders values of different kinds. */
export const QueryKind = { NONE: 0, BOOL: 1, NUMBER: 2, STRING: 3, NULL: 4 } as const;

export type QueryValue =
  | { readonly kind: 0 }
  | { readonly kind: 1; readonly value: Tri }
  | { readonly kind: 2; readonly value: number }
  | { readonly kind: 3; readonly value: string }
  | { readonly kind: 4 };

/** The undefined QueryValue. */
export const QV_UNDEFINED: QueryValue = Object.freeze({ kind: QueryKind.NONE });

/**
 * The null QueryValue a `$body` query returns when its path selects nothing. edgeHub returns one static
 * instance here, and `is_null` compares against that instance by reference (see builtins.ts), so identity
 * matters: a JSON `null` in the body is a different instance.
 */
export const QV_PATH_NOT_FOUND: QueryValue = Object.freeze({ kind: QueryKind.NULL });

export function qvNull(): QueryValue {
  return Object.freeze({ kind: QueryKind.NULL });
}
export function qvString(value: string): QueryValue {
  return Object.freeze({ kind: QueryKind.STRING, value });
}
export function qvNumber(value: number): QueryValue {
  return Object.freeze({ kind: QueryKind.NUMBER, value });
}
export function qvBool(value: Tri): QueryValue {
  return Object.freeze({ kind: QueryKind.BOOL, value });
}

/**
 * A value at run time, interpreted through its static type: `string` → string | undefined,
 * `number` → number (NaN = undefined), `bool` → Tri, `null` → null, `undefined` → undefined,
 * `query` → QueryValue.
 */
export type Value = string | number | null | undefined | QueryValue;

/** edgeHub's implicit conversions to QueryValue (undefined of any type becomes the undefined QueryValue). */
export function toQueryValue(type: StaticType, value: Value): QueryValue {
  switch (type) {
    case 'query':
      return value as QueryValue;
    case 'string':
      return value === undefined ? QV_UNDEFINED : qvString(value as string);
    case 'number':
      return Number.isNaN(value) ? QV_UNDEFINED : qvNumber(value as number);
    case 'bool':
      return value === U ? QV_UNDEFINED : qvBool(value as Tri);
    case 'null':
      return qvNull();
    case 'undefined':
      return QV_UNDEFINED;
  }
}

/** edgeHub's `Undefined.IsDefined` for each static type. */
export function isDefinedValue(type: StaticType, value: Value): boolean {
  switch (type) {
    case 'string':
      return value !== undefined;
    case 'number':
      return !Number.isNaN(value);
    case 'bool':
      return value !== U;
    case 'null':
      return true;
    case 'undefined':
      return false;
    case 'query':
      return (value as QueryValue).kind !== QueryKind.NONE;
  }
}

/** Converts the final value of a condition to a Tri, as edgeHub's `Expression.Convert(…, typeof(Bool))`. */
export function toConditionResult(type: StaticType, value: Value): Tri {
  switch (type) {
    case 'bool':
      return value as Tri;
    case 'null':
      return F;
    case 'query': {
      const q = value as QueryValue;
      return q.kind === QueryKind.BOOL ? q.value : U;
    }
    default:
      return U;
  }
}

/** .NET `double.CompareTo`: NaN sorts below every number and equals NaN. */
export function compareDouble(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : -1;
  if (Number.isNaN(b)) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Ordinal (UTF-16 code unit) string comparison, like .NET `StringComparison.Ordinal`. */
export function compareOrdinal(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * edgeHub's `QueryValue.CompareTo` for two defined values: values of different kinds are ordered by kind
 * (bool < number < string < null), so `$body.n < 'a'` is True for a numeric `n`.
 */
export function compareQueryValues(a: QueryValue, b: QueryValue): number {
  if (a.kind !== b.kind) return a.kind - b.kind;
  switch (a.kind) {
    case QueryKind.BOOL:
      return a.value - (b as { value: Tri }).value;
    case QueryKind.NUMBER:
      return compareDouble(a.value, (b as { value: number }).value);
    case QueryKind.STRING:
      return compareOrdinal(a.value, (b as { value: string }).value);
    default:
      return 0;
  }
}

const WHITESPACE = '[\\t\\n\\v\\f\\r ]*';
const NUMBER_BODY = '(?:\\d[\\d,]*(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?';
const NUMBER_STYLES_ANY = new RegExp(
  `^${WHITESPACE}(?:` +
    `\\((?<pnum>${NUMBER_BODY})\\)` +
    `|¤?(?<lsign>[+-]?)¤?(?<num>${NUMBER_BODY})¤?(?<tsign>[+-]?)¤?` +
    `)${WHITESPACE}$`,
);
const SPECIAL = /^[\t\n\v\f\r ]*(?<sign>[+-]?)(?<word>infinity|∞|nan)[\t\n\v\f\r ]*$/i;

/**
 * `double.TryParse(s, NumberStyles.Any, CultureInfo.InvariantCulture)`, the parser behind `as_number`:
 * surrounding whitespace, a leading or trailing sign, parentheses for negative, `,` group separators, a
 * decimal point, an exponent and the invariant currency sign `¤` are accepted; hex is not.
 * Returns NaN (edgeHub's undefined number) when the text is not a number.
 */
export function parseDotnetNumber(text: string): number {
  const special = SPECIAL.exec(text);
  if (special?.groups !== undefined) {
    const word = (special.groups['word'] ?? '').toLowerCase();
    if (word === 'nan') return Number.NaN;
    return special.groups['sign'] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  const m = NUMBER_STYLES_ANY.exec(text);
  if (m?.groups === undefined) return Number.NaN;
  const { pnum, num, lsign, tsign } = m.groups;
  if (pnum !== undefined) return -Number(pnum.replace(/,/g, ''));
  if (num === undefined) return Number.NaN;
  if (lsign !== '' && tsign !== '' && lsign !== undefined && tsign !== undefined) return Number.NaN;
  const sign = lsign === '-' || tsign === '-' ? -1 : 1;
  return sign * Number(num.replace(/,/g, ''));
}

/** The name edgeHub's error messages use for a static type. */
export function typeName(type: StaticType): string {
  return type === 'query' ? '$body value' : type;
}
