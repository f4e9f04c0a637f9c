/**
 * Tokenizer for route strings and conditions, a transcription of edgeHub's ANTLR lexer
 * (`Routing.Core/grammar/GrammarLexer.g4`). ANTLR picks the longest match and, on a tie, the rule defined
 * first; this file does the same with the rules in the grammar's order, so odd inputs tokenize exactly as in
 * edgeHub. Two consequences worth knowing: `-`, `+`, `*`, `!`, `|`, `'`, `.` and `$` are identifier
 * characters, so `a+b` or `x*2` is ONE identifier (write `a + b`), and `1.` is an identifier, not a number.
 */

import type { RoutePosition } from './errors.js';

/** Token kinds, in the order ANTLR tries them (the order decides ties). */
export const TokenKind = {
  LBRACE: 'LBRACE',
  RBRACE: 'RBRACE',
  SELECT: 'SELECT',
  FROM: 'FROM',
  WHERE: 'WHERE',
  INTO: 'INTO',
  STRING: 'STRING',
  UNTERMINATED_STRING: 'UNTERMINATED_STRING',
  INTEGER: 'INTEGER',
  HEX: 'HEX',
  REAL: 'REAL',
  TRUE: 'TRUE',
  FALSE: 'FALSE',
  NULL: 'NULL',
  UNDEFINED: 'UNDEFINED',
  LPAREN: 'LPAREN',
  RPAREN: 'RPAREN',
  COMMA: 'COMMA',
  PLUS: 'PLUS',
  MINUS: 'MINUS',
  MUL: 'MUL',
  DIV: 'DIV',
  MOD: 'MOD',
  AND: 'AND',
  OR: 'OR',
  NOT: 'NOT',
  EQ: 'EQ',
  NE1: 'NE1',
  NE2: 'NE2',
  LE: 'LE',
  GE: 'GE',
  GT: 'GT',
  LT: 'LT',
  CONCAT: 'CONCAT',
  COALESCE: 'COALESCE',
  SYS_PROP: 'SYS_PROP',
  ID: 'ID',
  QUERY_PATH: 'QUERY_PATH',
  WS: 'WS',
  COMMENT: 'COMMENT',
  UNKNOWN: 'UNKNOWN',
  EOF: 'EOF',
} as const;

export type TokenKind = (typeof TokenKind)[keyof typeof TokenKind];

/** One token; `start` and `end` are 0-based offsets into the lexed text (`end` exclusive). */
export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

type Matcher = (s: string, i: number) => number;

// ID_CHARS: ~[()<>@,;:\\"/[\]?={} \t\n\r]; QUERY_PATH_CHARS additionally allows '[' and ']'.
const NOT_ID = new Set(['(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}', ' ', '\t', '\n', '\r']);
const NOT_QUERY_PATH = new Set([...NOT_ID].filter((c) => c !== '[' && c !== ']'));

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}
function isHex(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c);
}

function literal(text: string): Matcher {
  return (s, i) => (s.startsWith(text, i) ? text.length : 0);
}
function keyword(text: string): Matcher {
  const upper = text.toUpperCase();
  return (s, i) => (s.slice(i, i + text.length).toUpperCase() === upper ? text.length : 0);
}
function run(charOk: (c: string) => boolean): Matcher {
  return (s, i) => {
    let j = i;
    while (j < s.length && charOk(s[j] as string)) j++;
    return j - i;
  };
}

/** Scans a quoted string body; returns the index where scanning stopped and whether the closing quote was found. */
function scanString(s: string, i: number): { stop: number; closed: boolean } {
  const quote = s[i];
  let j = i + 1;
  for (;;) {
    const c = s[j];
    if (c === undefined) return { stop: j, closed: false };
    if (c === quote) return { stop: j, closed: true };
    if (c === '\\') {
      const n = s[j + 1];
      if (n === '"' || n === "'" || n === '\\') {
        j += 2;
        continue;
      }
      if (n === 'u' && isHex(s[j + 2]) && isHex(s[j + 3]) && isHex(s[j + 4]) && isHex(s[j + 5])) {
        j += 6;
        continue;
      }
      return { stop: j, closed: false };
    }
    j++;
  }
}
const matchString: Matcher = (s, i) => {
  if (s[i] !== '"' && s[i] !== "'") return 0;
  const r = scanString(s, i);
  return r.closed ? r.stop + 1 - i : 0;
};
const matchUnterminated: Matcher = (s, i) => {
  if (s[i] !== '"' && s[i] !== "'") return 0;
  return scanString(s, i).stop - i;
};

function digitsAt(s: string, i: number): number {
  let j = i;
  while (isDigit(s[j])) j++;
  return j - i;
}
function expAt(s: string, i: number): number {
  if (s[i] !== 'e' && s[i] !== 'E') return 0;
  let j = i + 1;
  if (s[j] === '+' || s[j] === '-') j++;
  const d = digitsAt(s, j);
  return d === 0 ? 0 : j + d - i;
}
const matchInteger: Matcher = (s, i) => {
  const sign = s[i] === '-' ? 1 : 0;
  const d = digitsAt(s, i + sign);
  return d === 0 ? 0 : sign + d;
};
const matchHex: Matcher = (s, i) => {
  if (s[i] !== '0' || (s[i + 1] !== 'x' && s[i + 1] !== 'X')) return 0;
  let j = i + 2;
  while (isHex(s[j])) j++;
  return j === i + 2 ? 0 : j - i;
};
// REAL_LITERAL: '-'? [0-9]* '.' [0-9]+ EXP?  |  '-'? [0-9]* EXP
const matchReal: Matcher = (s, i) => {
  const sign = s[i] === '-' ? 1 : 0;
  const intEnd = i + sign + digitsAt(s, i + sign);
  let best = 0;
  if (s[intEnd] === '.') {
    const frac = digitsAt(s, intEnd + 1);
    if (frac > 0) {
      const fracEnd = intEnd + 1 + frac;
      best = fracEnd + expAt(s, fracEnd) - i;
    }
  }
  const e = expAt(s, intEnd);
  if (e > 0) best = Math.max(best, intEnd + e - i);
  return best;
};
const matchSysProp: Matcher = (s, i) => {
  if (s[i] !== '$') return 0;
  const n = run((c) => !NOT_QUERY_PATH.has(c))(s, i + 1);
  return n === 0 ? 0 : n + 1;
};
const matchId = run((c) => !NOT_ID.has(c));
const matchQueryPath = run((c) => !NOT_QUERY_PATH.has(c));
const matchWs = run((c) => c === ' ' || c === '\t' || c === '\r' || c === '\n');
const matchUnknown: Matcher = (s, i) => (i < s.length ? 1 : 0);

const RULES: ReadonlyArray<readonly [TokenKind, Matcher]> = [
  [TokenKind.LBRACE, literal('{')],
  [TokenKind.RBRACE, literal('}')],
  [TokenKind.SELECT, keyword('select')],
  [TokenKind.FROM, keyword('from')],
  [TokenKind.WHERE, keyword('where')],
  [TokenKind.INTO, keyword('into')],
  [TokenKind.STRING, matchString],
  [TokenKind.UNTERMINATED_STRING, matchUnterminated],
  [TokenKind.INTEGER, matchInteger],
  [TokenKind.HEX, matchHex],
  [TokenKind.REAL, matchReal],
  [TokenKind.TRUE, literal('true')],
  [TokenKind.FALSE, literal('false')],
  [TokenKind.NULL, literal('null')],
  [TokenKind.UNDEFINED, literal('undefined')],
  [TokenKind.LPAREN, literal('(')],
  [TokenKind.RPAREN, literal(')')],
  [TokenKind.COMMA, literal(',')],
  [TokenKind.PLUS, literal('+')],
  [TokenKind.MINUS, literal('-')],
  [TokenKind.MUL, literal('*')],
  [TokenKind.DIV, literal('/')],
  [TokenKind.MOD, literal('%')],
  [TokenKind.AND, keyword('and')],
  [TokenKind.OR, keyword('or')],
  [TokenKind.NOT, keyword('not')],
  [TokenKind.EQ, literal('=')],
  [TokenKind.NE1, literal('!=')],
  [TokenKind.NE2, literal('<>')],
  [TokenKind.LE, literal('<=')],
  [TokenKind.GE, literal('>=')],
  [TokenKind.GT, literal('>')],
  [TokenKind.LT, literal('<')],
  [TokenKind.CONCAT, literal('||')],
  [TokenKind.COALESCE, literal('??')],
  [TokenKind.SYS_PROP, matchSysProp],
  [TokenKind.ID, matchId],
  [TokenKind.QUERY_PATH, matchQueryPath],
  [TokenKind.WS, matchWs],
  // COMMENT is handled separately (it needs a cached search, see tokenize()).
  [TokenKind.COMMENT, () => 0],
  [TokenKind.UNKNOWN, matchUnknown],
];

/**
 * Splits `text` into tokens, dropping whitespace and comments (edgeHub skips the first and hides the second).
 * Linear in the input length. The last token is always EOF.
 */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  // Index of the next "*/" after the last searched "/*"; cached so that many unclosed "/*" stay linear.
  let searchedComment = false;
  let commentClose = -1;
  let i = 0;
  while (i < text.length) {
    let bestKind: TokenKind = TokenKind.UNKNOWN;
    let bestLength = 0;
    for (const [kind, match] of RULES) {
      let length: number;
      if (kind === TokenKind.COMMENT) {
        length = 0;
        if (text.startsWith('/*', i)) {
          // Offsets only grow, so an earlier search result stays valid unless it lies before this comment's body.
          if (!searchedComment || (commentClose !== -1 && commentClose < i + 2)) {
            searchedComment = true;
            commentClose = text.indexOf('*/', i + 2);
          }
          if (commentClose >= i + 2) length = commentClose + 2 - i;
        }
      } else {
        length = match(text, i);
      }
      if (length > bestLength) {
        bestLength = length;
        bestKind = kind;
      }
    }
    if (bestKind !== TokenKind.WS && bestKind !== TokenKind.COMMENT) {
      tokens.push({ kind: bestKind, text: text.slice(i, i + bestLength), start: i, end: i + bestLength });
    }
    i += bestLength;
  }
  tokens.push({ kind: TokenKind.EOF, text: '', start: text.length, end: text.length });
  return tokens;
}

/** Converts a 0-based offset in `text` to a position with 1-based line and column. */
export function positionAt(text: string, offset: number): RoutePosition {
  let line = 1;
  let lineStart = 0;
  for (let k = 0; k < offset && k < text.length; k++) {
    if (text[k] === '\n') {
      line++;
      lineStart = k + 1;
    }
  }
  return Object.freeze({ offset, line, column: offset - lineStart + 1 });
}

/** Describes a token for error messages: `'text'` or `end of input`. */
export function describeToken(token: Token): string {
  return token.kind === TokenKind.EOF ? 'end of input' : `'${token.text}'`;
}
