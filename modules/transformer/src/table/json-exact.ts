/**
 * JSON lines with integers beyond 2^53 kept exactly. `JSON.parse` turns `12345678901234567891` into
 * the nearest double, silently; Node 20 has no access to a number's source text in a reviver. So a
 * line that holds such a literal (16 digits or more, outside strings) is parsed once more with those
 * literals quoted under a per-process marker, and the reviver turns them into `bigint`s. Lines without
 * one (the common case) cost one regex test. Pure.
 */
import { randomBytes } from 'node:crypto';

/** The smallest integer literal that is not a safe double (2^53) has 16 digits. */
const LONG_DIGITS = /\d{16}/;
/** Marks a quoted literal; a JSON text cannot hold it by chance (a NUL and 16 random hex digits). */
const MARKER = `\u0000${randomBytes(8).toString('hex')}:`;
const MARKER_JSON = JSON.stringify(MARKER).slice(1, -1);

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** The line with every integer literal beyond the safe range quoted under MARKER; undefined when there is none. */
function quoteUnsafeIntegers(text: string): string | undefined {
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) {
      inString = true;
      continue;
    }
    if (c !== 45 && !isDigit(c)) continue;
    // A number token: -?digits, then an optional fraction and exponent.
    let end = i + (c === 45 ? 1 : 0);
    while (end < text.length && isDigit(text.charCodeAt(end))) end++;
    let integer = true;
    while (end < text.length && /[.eE+\-\d]/.test(text[end]!)) {
      integer = false;
      end++;
    }
    const token = text.slice(i, end);
    if (integer && !Number.isSafeInteger(Number(token))) {
      out += `${text.slice(from, i)}"${MARKER_JSON}${token}"`;
      from = end;
    }
    i = end - 1;
  }
  return from === 0 ? undefined : out + text.slice(from);
}

/**
 * `JSON.parse(text)`, except that integers beyond ±(2^53 − 1) become `bigint`s with every digit.
 * @throws SyntaxError as JSON.parse does
 */
export function parseJsonExact(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  const quoted = quoteUnsafeIntegers(text);
  if (quoted === undefined) return JSON.parse(text);
  // The original must be valid JSON too: quoting can make an invalid line (`1234567890123456789 x`) parse.
  JSON.parse(text);
  return JSON.parse(quoted, (_key, value: unknown) => (typeof value === 'string' && value.startsWith(MARKER) ? BigInt(value.slice(MARKER.length)) : value));
}

/** Compact JSON text of a value that may hold `bigint`s (written with all their digits, unquoted). */
export function stringifyJsonExact(value: unknown): string {
  let sawBigint = false;
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'bigint') return v;
    sawBigint = true;
    return `${MARKER}${v.toString()}`;
  });
  if (text === undefined) return '';
  return sawBigint ? text.split(`"${MARKER_JSON}`).map((part, i) => (i === 0 ? part : part.replace(/^(-?\d+)"/, '$1'))).join('') : text;
}
