/**
 * WHERE conditions, syntax half: the parser of edgeHub's `Routing.Core/grammar/Condition.g4`, from tokens
 * to a `ConditionNode` tree. Types are checked afterwards by `condition-compiler.ts`.
 *
 * Precedence, tightest first: unary `-` and `NOT`; `* / %`; `+ - ||`; `< <= > >=`; `= != <>`; `AND`; `OR`; `??`.
 * Binary operators are left-associative. Unary operators bind tighter than every binary one, so
 * `NOT $x = 'a'` is `(NOT $x) = 'a'`, a type error, as in edgeHub.
 */

import { ROUTE_DEFAULTS } from './defaults.js';
import { TokenKind, describeToken, type Token } from './lexer.js';
import { F, T, type StaticType, type Value } from './values.js';

/** Parsed condition expression. `token` is where errors about the node are reported. */
export type ConditionNode =
  | { readonly k: 'literal'; readonly token: Token; readonly type: StaticType; readonly value: Value }
  | { readonly k: 'property'; readonly token: Token; readonly name: string }
  | { readonly k: 'system'; readonly token: Token; readonly text: string; readonly escaped: boolean }
  | { readonly k: 'call'; readonly token: Token; readonly name: string; readonly args: readonly ConditionNode[] }
  | { readonly k: 'unary'; readonly token: Token; readonly operand: ConditionNode }
  | { readonly k: 'binary'; readonly token: Token; readonly left: ConditionNode; readonly right: ConditionNode };

/** A syntax error: the first one stops parsing. */
export class ConditionSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'ConditionSyntaxError';
  }
}

const BINARY_PRECEDENCE: Partial<Record<TokenKind, number>> = {
  [TokenKind.MUL]: 7,
  [TokenKind.DIV]: 7,
  [TokenKind.MOD]: 7,
  [TokenKind.PLUS]: 6,
  [TokenKind.MINUS]: 6,
  [TokenKind.CONCAT]: 6,
  [TokenKind.LT]: 5,
  [TokenKind.LE]: 5,
  [TokenKind.GT]: 5,
  [TokenKind.GE]: 5,
  [TokenKind.EQ]: 4,
  [TokenKind.NE1]: 4,
  [TokenKind.NE2]: 4,
  [TokenKind.AND]: 3,
  [TokenKind.OR]: 2,
  [TokenKind.COALESCE]: 1,
};

/** Unescapes a string literal body exactly as edgeHub's `ConditionVisitor.Unescape` (two regex passes). */
export function unescapeLiteral(body: string): string {
  return body
    .replace(/\\[Uu]([0-9A-Fa-f]{4})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .replace(/\\(["'\\])/g, (_m, ch: string) => ch);
}

/** `long.TryParse(hex, NumberStyles.HexNumber)` then `(double)`: 64-bit two's complement, undefined on overflow. */
function parseHexLiteral(text: string): number {
  const value = BigInt(`0x${text.slice(2)}`);
  if (value > 0xffffffffffffffffn) return Number.NaN;
  return Number(BigInt.asIntN(64, value));
}

/** Recursive-descent parser over a token array; stops at the first token that cannot continue the expression. */
export class ConditionParser {
  private index: number;
  private nesting = 0;

  constructor(
    private readonly tokens: readonly Token[],
    start: number,
  ) {
    this.index = start;
  }

  /** Index of the first token after the parsed expression. */
  get position(): number {
    return this.index;
  }

  peek(): Token {
    return this.tokens[Math.min(this.index, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== TokenKind.EOF) this.index++;
    return token;
  }

  /** Parses one full expression (lowest precedence: `??`). */
  parseExpression(): ConditionNode {
    return this.parseBinary(1);
  }

  private enter(token: Token): void {
    this.nesting++;
    if (this.nesting > ROUTE_DEFAULTS.maxConditionDepth) {
      throw new ConditionSyntaxError(
        `condition is nested too deeply (more than ${ROUTE_DEFAULTS.maxConditionDepth} levels)`,
        token.start,
      );
    }
  }

  private parseBinary(minPrecedence: number): ConditionNode {
    this.enter(this.peek());
    let left = this.parseUnary();
    let chain = 0;
    for (;;) {
      const token = this.peek();
      if (token.kind === TokenKind.UNKNOWN) throw new ConditionSyntaxError(`invalid symbol '${token.text}'`, token.start);
      const precedence = BINARY_PRECEDENCE[token.kind];
      if (precedence === undefined || precedence < minPrecedence) break;
      this.next();
      // A left-deep chain (a AND b AND c …) nests one level per operator when evaluated; bound it too.
      this.enter(token);
      chain++;
      const right = this.parseBinary(precedence + 1);
      left = { k: 'binary', token, left, right };
    }
    this.nesting -= chain + 1;
    return left;
  }

  private parseUnary(): ConditionNode {
    const token = this.peek();
    if (token.kind === TokenKind.MINUS || token.kind === TokenKind.NOT) {
      this.next();
      this.enter(token);
      const operand = this.parseUnary();
      this.nesting--;
      return { k: 'unary', token, operand };
    }
    return this.parsePrimary();
  }

  private expectClosingParen(open: Token): void {
    const token = this.peek();
    if (token.kind === TokenKind.RPAREN) {
      this.next();
      return;
    }
    if (token.kind === TokenKind.UNKNOWN) throw new ConditionSyntaxError(`invalid symbol '${token.text}'`, token.start);
    throw new ConditionSyntaxError(`missing closing ')' for the '(' at offset ${open.start}; found ${describeToken(token)}`, token.start);
  }

  private parsePrimary(): ConditionNode {
    const token = this.next();
    switch (token.kind) {
      case TokenKind.LPAREN: {
        const inner = this.parseExpression();
        this.expectClosingParen(token);
        return inner;
      }
      case TokenKind.TRUE:
        return { k: 'literal', token, type: 'bool', value: T };
      case TokenKind.FALSE:
        return { k: 'literal', token, type: 'bool', value: F };
      case TokenKind.NULL:
        return { k: 'literal', token, type: 'null', value: null };
      case TokenKind.UNDEFINED:
        return { k: 'literal', token, type: 'undefined', value: undefined };
      case TokenKind.STRING:
        return { k: 'literal', token, type: 'string', value: unescapeLiteral(token.text.slice(1, -1)) };
      case TokenKind.UNTERMINATED_STRING:
        throw new ConditionSyntaxError(
          `unterminated string ${token.text.slice(0, 40)}${token.text.length > 40 ? '…' : ''} (escapes allowed: \\' \\" \\\\ \\uXXXX)`,
          token.start,
        );
      case TokenKind.INTEGER:
      case TokenKind.REAL: {
        // edgeHub parses with double.TryParse; a failure (e.g. the REAL token "e5") is an undefined constant.
        const value = Number(token.text);
        return Number.isNaN(value)
          ? { k: 'literal', token, type: 'undefined', value: undefined }
          : { k: 'literal', token, type: 'number', value };
      }
      case TokenKind.HEX: {
        const value = parseHexLiteral(token.text);
        return Number.isNaN(value)
          ? { k: 'literal', token, type: 'undefined', value: undefined }
          : { k: 'literal', token, type: 'number', value };
      }
      case TokenKind.SYS_PROP:
        return { k: 'system', token, text: token.text, escaped: false };
      case TokenKind.LBRACE: {
        const prop = this.next();
        if (prop.kind !== TokenKind.SYS_PROP) {
          throw new ConditionSyntaxError(`expected a $property after '{', found ${describeToken(prop)}`, prop.start);
        }
        const close = this.next();
        if (close.kind !== TokenKind.RBRACE) {
          throw new ConditionSyntaxError(`expected '}' after ${prop.text}, found ${describeToken(close)}`, close.start);
        }
        return { k: 'system', token: prop, text: prop.text, escaped: true };
      }
      case TokenKind.ID: {
        if (this.peek().kind !== TokenKind.LPAREN) return { k: 'property', token, name: token.text };
        const open = this.next();
        const args: ConditionNode[] = [];
        if (this.peek().kind !== TokenKind.RPAREN) {
          for (;;) {
            args.push(this.parseExpression());
            if (this.peek().kind !== TokenKind.COMMA) break;
            this.next();
          }
        }
        this.expectClosingParen(open);
        return { k: 'call', token, name: token.text, args };
      }
      case TokenKind.RPAREN:
        throw new ConditionSyntaxError("unmatched closing ')'", token.start);
      case TokenKind.UNKNOWN:
        throw new ConditionSyntaxError(`invalid symbol '${token.text}'`, token.start);
      case TokenKind.QUERY_PATH:
        throw new ConditionSyntaxError(`unexpected ${describeToken(token)}: '[' and ']' are only allowed in $body paths`, token.start);
      case TokenKind.EOF:
        throw new ConditionSyntaxError('expected an expression, found end of input', token.start);
      default:
        throw new ConditionSyntaxError(`expected an expression, found ${describeToken(token)}`, token.start);
    }
  }
}
