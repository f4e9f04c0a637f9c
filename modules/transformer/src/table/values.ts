import type { ColumnType } from '../config.js';
import { stringifyJsonExact } from './json-exact.js';

/**
 * Value typing for tables: what type a text cell (CSV) or a JSON value (JSON lines) looks like,
 * how column types widen as values arrive, and how a value is parsed into its column's type.
 * Pure functions; the converters call them once per cell.
 */

const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL_FLOATS: Readonly<Record<string, number>> = {
  nan: Number.NaN,
  '+nan': Number.NaN,
  '-nan': Number.NaN,
  inf: Number.POSITIVE_INFINITY,
  '+inf': Number.POSITIVE_INFINITY,
  '-inf': Number.NEGATIVE_INFINITY,
  infinity: Number.POSITIVE_INFINITY,
  '+infinity': Number.POSITIVE_INFINITY,
  '-infinity': Number.NEGATIVE_INFINITY,
};
/** ISO 8601 date or date-time; a time without zone is taken as UTC. */
const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** True when `text` is an integer within int64 (more digits than int64 holds stay text). */
export function isInt64Text(text: string): boolean {
  if (!INT_RE.test(text)) return false;
  const digits = text.length - (text[0] === '+' || text[0] === '-' ? 1 : 0);
  if (digits < 19) return true;
  const v = BigInt(text);
  return v <= INT64_MAX && v >= INT64_MIN;
}

export function parseFloatText(text: string): number | undefined {
  if (FLOAT_RE.test(text)) return Number(text);
  return SPECIAL_FLOATS[text.toLowerCase()];
}

export function parseBoolText(text: string): boolean | undefined {
  const t = text.length <= 5 ? text.toLowerCase() : '';
  return t === 'true' ? true : t === 'false' ? false : undefined;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Milliseconds since the epoch (UTC) of an ISO 8601 text, or undefined (also for impossible dates). */
export function parseTimestampText(text: string): number | undefined {
  // Cheap reject before the regex: every accepted text starts with `dddd-dd-dd`.
  if (text.length < 10 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return undefined;
  const m = TIMESTAMP_RE.exec(text);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return undefined;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  // 31 February is refused, not rolled over into March as Date.UTC would.
  if (day < 1 || day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return undefined;
  const frac = m[7];
  const ms = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  let t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const sign = zone.charCodeAt(0) === 45 ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0');
    t -= sign * offsetMin * 60_000;
  }
  return t;
}

/** The narrowest type a non-null text cell fits. */
export function classifyText(text: string): Exclude<ColumnType, 'null'> {
  const c = text.charCodeAt(0);
  // Fast path: most text cells do not start like a number, boolean or date.
  const numeric = (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46;
  if (numeric) {
    if (INT_RE.test(text)) return isInt64Text(text) ? 'int64' : 'utf8'; // beyond int64: kept as text, no digit lost
    if (FLOAT_RE.test(text)) return 'float64';
    if (parseTimestampText(text) !== undefined) return 'timestamp';
  }
  if (parseBoolText(text) !== undefined) return 'bool';
  if (SPECIAL_FLOATS[text.toLowerCase()] !== undefined) return 'float64';
  return 'utf8';
}

/**
 * Whether a non-null text cell already fits `type` (the common case once a column's type is
 * known; cheaper than classifying from scratch).
 */
export function fitsType(text: string, type: ColumnType): boolean {
  switch (type) {
    case 'utf8':
      return true;
    case 'int64':
      return isInt64Text(text);
    case 'float64':
      return parseFloatText(text) !== undefined;
    case 'bool':
      return parseBoolText(text) !== undefined;
    case 'timestamp':
      return parseTimestampText(text) !== undefined;
    case 'null':
      return false;
  }
}

/** The narrowest type a JSON value fits (strings stay strings unless they are ISO dates). */
export function classifyJson(value: unknown): ColumnType {
  switch (typeof value) {
    case 'undefined':
      return 'null';
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isSafeInteger(value) ? 'int64' : 'float64';
    case 'bigint':
      // Beyond 2^53 (kept exact by parseJsonExact): int64 while it fits, else text with every digit.
      return value <= INT64_MAX && value >= INT64_MIN ? 'int64' : 'utf8';
    case 'string':
      return parseTimestampText(value) !== undefined ? 'timestamp' : 'utf8';
    default:
      return value === null ? 'null' : 'utf8';
  }
}

/** The type of a column that has held values of type `a` and now one of type `b`. */
export function widen(a: ColumnType, b: ColumnType): ColumnType {
  if (a === b || b === 'null') return a;
  if (a === 'null') return b;
  if ((a === 'int64' && b === 'float64') || (a === 'float64' && b === 'int64')) return 'float64';
  return 'utf8';
}

/** Text form of a JSON value for a utf8 column (objects and arrays as compact JSON). */
export function jsonToText(value: unknown): string {
  return typeof value === 'string' ? value : stringifyJsonExact(value);
}
