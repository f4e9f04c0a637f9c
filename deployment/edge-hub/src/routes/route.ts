/**
 * Route strings: `[SELECT *] FROM <source> [WHERE <condition>] INTO <sink>`, after edgeHub's
 * `Routing.Core/grammar/Route.g4`, `RouteFactory.cs`, `messageSources/CustomMessageSource.cs` and
 * `Edge.Hub.Core/routing/EndpointFactory.cs`.
 */

import { compileConditionNode } from './condition-compiler.js';
import { ConditionParser, ConditionSyntaxError } from './condition-parser.js';
import { ROUTE_DEFAULTS } from './defaults.js';
import { createEvalContext, type EvalContext } from './eval-context.js';
import { RouteCompileError, type RouteProblem } from './errors.js';
import { TokenKind, describeToken, positionAt, tokenize, type Token } from './lexer.js';
import type {
  CompiledCondition,
  CompiledRoute,
  RouteConditionResult,
  RouteEndpoint,
  RouteMessage,
  RouteMessageSource,
  RouteSource,
  RouteSourceSelector,
  RouteWarning,
} from './types.js';
import { T, U, type Tri } from './values.js';

/** Options of a single route (the object form of schema ≥ 1.1). */
export interface RouteOptions {
  /** 0–9, or 2000000000 (the default) for "no priority". */
  readonly priority?: number;
  /** 0 (the default) means the global TTL. */
  readonly timeToLiveSecs?: number;
}

interface RouteInternals {
  /** Lower-cased prefix with one trailing `/`. */
  readonly prefixLower: string;
  readonly evaluate: (ctx: EvalContext) => Tri;
}

const internals = new WeakMap<CompiledRoute, RouteInternals>();

/** Internal hooks of a compiled route, for the route table (shares one evaluation context per message). */
export function routeInternals(route: CompiledRoute): RouteInternals {
  const found = internals.get(route);
  if (found === undefined) throw new TypeError('not a route compiled by this module');
  return found;
}

/**
 * The routing source path of a message (edgeHub `RoutingMessageConverter.GetMessageSource`):
 * `/twinChangeNotifications`, `/messages/modules/<m>/outputs/<o>`, `/messages/modules/<m>` or `/messages`.
 */
export function messageSourcePath(source: RouteMessageSource): string {
  if (source.kind === 'twinChangeNotification') return '/twinChangeNotifications';
  const moduleId = source.moduleId;
  if (moduleId === undefined || moduleId === '') return '/messages';
  const output = source.outputName;
  return output === undefined || output === '' ? `/messages/modules/${moduleId}` : `/messages/modules/${moduleId}/outputs/${output}`;
}

/** Lower-cased source path with one trailing `/`, the form route prefixes are compared with. */
export function matchableSourcePath(source: RouteMessageSource): string {
  return `${messageSourcePath(source).replace(/\/+$/, '')}/`.toLowerCase();
}

/** edgeHub's CustomMessageSource normalisation: trim, drop trailing `*`, then trailing `/`, then add one `/`. */
export function normaliseSourcePrefix(text: string): string {
  let source = text.trim().replace(/\*+$/, '');
  if (source.length > 1) source = source.replace(/\/+$/, '');
  return `${source.trim().replace(/\/+$/, '')}/`;
}

function classifySource(prefix: string): RouteSourceSelector {
  const body = prefix.slice(1, -1);
  const segments = body === '' ? [] : body.split('/');
  // A '*' left inside the path is literal (only a trailing '*' is a wildcard), so nothing can match it.
  if (segments.some((s) => s.includes('*') || s === '')) return { kind: 'none' };
  const lower = segments.map((s) => s.toLowerCase());
  const moduleId = segments[2];
  const outputName = segments[4];
  if (segments.length === 0) return { kind: 'all' };
  if (lower[0] === 'twinchangenotifications') return segments.length === 1 ? { kind: 'twinChangeNotifications' } : { kind: 'none' };
  if (lower[0] !== 'messages') return { kind: 'none' };
  if (segments.length === 1) return { kind: 'allMessages' };
  if (lower[1] !== 'modules') return { kind: 'none' };
  if (segments.length === 2) return { kind: 'allModuleMessages' };
  if (moduleId === undefined) return { kind: 'none' };
  if (segments.length === 3) return { kind: 'module', moduleId };
  if (lower[3] !== 'outputs') return { kind: 'none' };
  if (segments.length === 4) return { kind: 'moduleOutputs', moduleId };
  if (segments.length === 5 && outputName !== undefined) return { kind: 'output', moduleId, outputName };
  return { kind: 'none' };
}

const TRI_NAMES: Readonly<Record<Tri, RouteConditionResult>> = { 1: 'true', 0: 'undefined', [-1]: 'false' };

function makeCondition(text: string, evaluate: (ctx: EvalContext) => Tri): CompiledCondition {
  return Object.freeze({
    text,
    evaluate: (message: RouteMessage): RouteConditionResult => TRI_NAMES[evaluate(createEvalContext(message))],
  });
}

/** Result of compiling one route: the route when it compiled, plus every problem and warning. */
export interface RouteCompilation {
  readonly route: CompiledRoute | undefined;
  readonly problems: readonly RouteProblem[];
  readonly warnings: readonly RouteWarning[];
}

class RouteSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

function expect(token: Token, kind: TokenKind, what: string): Token {
  if (token.kind !== kind) throw new RouteSyntaxError(`expected ${what}, found ${describeToken(token)}`, token.start);
  return token;
}

/**
 * Compiles one route string, collecting problems instead of throwing. `path` prefixes problem paths
 * (e.g. `routes.toCloud`). Priority and TTL are taken as already validated.
 */
export function compileRouteDetailed(
  name: string,
  routeText: string,
  options: { readonly priority: number; readonly timeToLiveSecs: number; readonly path: string },
): RouteCompilation {
  const problems: RouteProblem[] = [];
  const warnings: RouteWarning[] = [];
  const problem = (message: string, offset?: number): void => {
    problems.push(
      offset === undefined
        ? { path: options.path, routeName: name, message }
        : { path: options.path, routeName: name, message, position: positionAt(routeText, offset) },
    );
  };
  const warn = (message: string, offset?: number): void => {
    warnings.push(
      offset === undefined
        ? { path: options.path, routeName: name, message }
        : { path: options.path, routeName: name, message, position: positionAt(routeText, offset) },
    );
  };
  const done = (route: CompiledRoute | undefined): RouteCompilation =>
    Object.freeze({ route, problems: Object.freeze(problems), warnings: Object.freeze(warnings) });

  if (routeText.length > ROUTE_DEFAULTS.maxRouteLengthChars) {
    problem(`route is ${routeText.length} characters long; the limit is ${ROUTE_DEFAULTS.maxRouteLengthChars}`);
    return done(undefined);
  }
  const tokens = tokenize(routeText);
  let i = 0;
  const peek = (): Token => tokens[Math.min(i, tokens.length - 1)] as Token;
  const next = (): Token => {
    const token = peek();
    if (token.kind !== TokenKind.EOF) i++;
    return token;
  };

  let sourceText = '';
  let sourceOffset: number | undefined;
  let conditionText: string | undefined;
  let evaluate: ((ctx: EvalContext) => Tri) | undefined;
  let sink: RouteEndpoint | undefined;
  try {
    if (peek().kind === TokenKind.EOF) throw new RouteSyntaxError('route is empty; expected FROM <source> INTO <sink>', 0);
    if (peek().kind === TokenKind.SELECT) {
      next();
      expect(next(), TokenKind.MUL, "'*' after SELECT");
    }
    expect(next(), TokenKind.FROM, 'FROM');

    // source := ('/' item)+ ; item := '*' | ID
    sourceOffset = peek().start;
    expect(peek(), TokenKind.DIV, "a source path starting with '/' after FROM (e.g. /messages/modules/<module>/outputs/<output>)");
    while (peek().kind === TokenKind.DIV) {
      sourceText += next().text;
      const item = next();
      if (item.kind !== TokenKind.MUL && item.kind !== TokenKind.ID) {
        throw new RouteSyntaxError(`expected a name or '*' after '/' in the source, found ${describeToken(item)}`, item.start);
      }
      sourceText += item.text;
    }

    if (peek().kind === TokenKind.WHERE) {
      next();
      const first = peek();
      const parser = new ConditionParser(tokens, i);
      const node = parser.parseExpression();
      i = parser.position;
      const last = tokens[i - 1] as Token;
      conditionText = routeText.slice(first.start, last.end);
      const after = peek();
      if (after.kind !== TokenKind.INTO) {
        if (after.kind === TokenKind.RPAREN) throw new RouteSyntaxError("unmatched closing ')'", after.start);
        if (after.kind === TokenKind.UNKNOWN) throw new RouteSyntaxError(`invalid symbol '${after.text}'`, after.start);
        throw new RouteSyntaxError(`expected an operator or INTO after the condition, found ${describeToken(after)}`, after.start);
      }
      const compiled = compileConditionNode(node);
      for (const p of compiled.problems) problem(p.message, p.offset);
      evaluate = compiled.evaluate;
    } else if (peek().kind !== TokenKind.INTO) {
      throw new RouteSyntaxError(`expected WHERE or INTO after the source, found ${describeToken(peek())}`, peek().start);
    }
    next();
    sink = parseSink(next, peek, problem, warn);
    const trailing = peek();
    if (trailing.kind !== TokenKind.EOF) {
      warn(`text after the sink is ignored (edgeHub ignores it too): '${routeText.slice(trailing.start).trim()}'`, trailing.start);
    }
  } catch (error: unknown) {
    if (error instanceof RouteSyntaxError || error instanceof ConditionSyntaxError) {
      problem(`Syntax error: ${error.message}`, error.offset);
      return done(undefined);
    }
    throw error;
  }

  const prefix = normaliseSourcePrefix(sourceText);
  const selector = Object.freeze(classifySource(prefix));
  if (selector.kind === 'none') {
    warn(
      `FROM ${sourceText} selects no message: sources are /messages/modules/<m>[/outputs/<o>], /messages and ` +
        "/twinChangeNotifications, and '*' is a wildcard only at the end",
      sourceOffset,
    );
  }
  if (problems.length > 0 || sink === undefined) return done(undefined);

  const conditionEvaluate = evaluate ?? ((): Tri => T);
  const prefixLower = prefix.toLowerCase();
  const source: RouteSource = Object.freeze({ text: sourceText, prefix, selector });
  const route: CompiledRoute = Object.freeze({
    name,
    route: routeText,
    source,
    condition: makeCondition(conditionText ?? 'true', conditionEvaluate),
    sink,
    priority: options.priority,
    timeToLiveSecs: options.timeToLiveSecs,
    matches: (message: RouteMessage): boolean =>
      matchableSourcePath(message.source).startsWith(prefixLower) && conditionEvaluate(createEvalContext(message)) === T,
  });
  internals.set(route, Object.freeze({ prefixLower, evaluate: conditionEvaluate }));
  return done(route);
}

function parseSink(
  next: () => Token,
  peek: () => Token,
  problem: (message: string, offset?: number) => void,
  warn: (message: string, offset?: number) => void,
): RouteEndpoint | undefined {
  const token = next();
  if (token.kind === TokenKind.SYS_PROP) {
    if (token.text.toLowerCase() === '$upstream') return Object.freeze({ kind: 'upstream', id: '$upstream' });
    problem(`System endpoint type '${token.text}' not supported; the only system endpoint is $upstream`, token.start);
    return undefined;
  }
  if (token.kind !== TokenKind.ID) {
    throw new RouteSyntaxError(
      `expected $upstream or BrokeredEndpoint("/modules/<module>/inputs/<input>") after INTO, found ${describeToken(token)}`,
      token.start,
    );
  }
  expect(next(), TokenKind.LPAREN, `'(' after ${token.text}`);
  const address = peek();
  if (address.kind === TokenKind.UNTERMINATED_STRING) throw new RouteSyntaxError('unterminated string', address.start);
  expect(next(), TokenKind.STRING, `a quoted address in ${token.text}(…)`);
  expect(next(), TokenKind.RPAREN, `')' after the address of ${token.text}`);
  if (token.text.toLowerCase() !== 'brokeredendpoint') {
    problem(`Function endpoint type '${token.text}' not supported; use BrokeredEndpoint("/modules/<module>/inputs/<input>")`, token.start);
    return undefined;
  }
  // edgeHub takes the text between the quotes as is (no unescaping), trims it, drops one leading and one
  // trailing '/', and needs exactly 4 parts; parts 0 and 2 are not checked.
  let value = address.text.slice(1, -1).trim();
  if (value === '') {
    problem('BrokeredEndpoint address is empty; expected /modules/<module>/inputs/<input>', address.start);
    return undefined;
  }
  if (value.startsWith('/')) value = value.slice(1);
  if (value.endsWith('/')) value = value.slice(0, -1);
  const parts = value.split('/');
  const [modules, moduleId, inputs, inputName] = parts;
  if (parts.length !== 4 || moduleId === undefined || inputName === undefined) {
    problem(
      `BrokeredEndpoint address ${address.text} has ${parts.length} part(s); expected /modules/<module>/inputs/<input>`,
      address.start,
    );
    return undefined;
  }
  if (modules !== 'modules' || inputs !== 'inputs') {
    warn(`BrokeredEndpoint address ${address.text} does not read /modules/<module>/inputs/<input> (edgeHub does not check those words)`, address.start);
  }
  if (moduleId === '' || inputName === '') {
    warn(`BrokeredEndpoint address ${address.text} has an empty module or input name; nothing can receive it`, address.start);
  }
  return Object.freeze({ kind: 'module', id: `${moduleId}/${inputName}`, moduleId, inputName });
}

/**
 * Compiles one route string. Throws {@link RouteCompileError} (code `ROUTE_COMPILE_ERROR`) listing every
 * problem with its position. `options.priority` (0–9 or 2000000000) and `options.timeToLiveSecs`
 * (0–4294967295) default to 2000000000 and 0; out-of-range values are compile problems too.
 */
export function compileRoute(name: string, route: string, options: RouteOptions = {}): CompiledRoute {
  const priority = options.priority ?? ROUTE_DEFAULTS.defaultPriority;
  const timeToLiveSecs = options.timeToLiveSecs ?? 0;
  const path = `routes.${name}`;
  const extra: RouteProblem[] = [];
  if (!isValidPriority(priority)) extra.push({ path: `${path}.priority`, routeName: name, message: PRIORITY_MESSAGE });
  if (!isValidRouteTtl(timeToLiveSecs)) extra.push({ path: `${path}.timeToLiveSecs`, routeName: name, message: TTL_MESSAGE });
  const compiled = compileRouteDetailed(name, route, { priority, timeToLiveSecs, path });
  const problems = [...extra, ...compiled.problems];
  if (problems.length > 0 || compiled.route === undefined) throw new RouteCompileError(name, problems);
  return compiled.route;
}

export const PRIORITY_MESSAGE = 'priority must be an integer from 0 to 9 (0 is the most urgent)';
export const TTL_MESSAGE = `timeToLiveSecs must be an integer from 0 to ${ROUTE_DEFAULTS.maxRouteTimeToLiveSecs} (0 = use the global TTL)`;

export function isValidPriority(value: number): boolean {
  return Number.isInteger(value) && ((value >= 0 && value <= ROUTE_DEFAULTS.maxPriority) || value === ROUTE_DEFAULTS.defaultPriority);
}

export function isValidRouteTtl(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= ROUTE_DEFAULTS.maxRouteTimeToLiveSecs;
}

/**
 * Compiles a bare condition (the text after WHERE) into a closure, for tools and tests. As in edgeHub's
 * condition compiler, an empty condition is always undefined; unlike edgeHub, text after a complete
 * expression is an error. Throws {@link RouteCompileError} naming the route `(condition)`.
 */
export function compileCondition(condition: string): CompiledCondition {
  const problems: RouteProblem[] = [];
  const add = (message: string, offset: number): void => {
    problems.push({ path: 'condition', message, position: positionAt(condition, offset) });
  };
  if (condition.length > ROUTE_DEFAULTS.maxRouteLengthChars) {
    throw new RouteCompileError('(condition)', [
      { path: 'condition', message: `condition is ${condition.length} characters long; the limit is ${ROUTE_DEFAULTS.maxRouteLengthChars}` },
    ]);
  }
  const tokens = tokenize(condition);
  // edgeHub's condition grammar accepts an empty condition (only whitespace or comments) as undefined.
  if (tokens[0]?.kind === TokenKind.EOF) return makeCondition(condition, () => U);
  try {
    const parser = new ConditionParser(tokens, 0);
    const node = parser.parseExpression();
    const after = parser.peek();
    if (after.kind !== TokenKind.EOF) {
      const what = after.kind === TokenKind.RPAREN ? "unmatched closing ')'" : `unexpected ${describeToken(after)} after the expression`;
      throw new ConditionSyntaxError(what, after.start);
    }
    const compiled = compileConditionNode(node);
    for (const p of compiled.problems) add(p.message, p.offset);
    if (problems.length === 0) return makeCondition(condition, compiled.evaluate);
  } catch (error: unknown) {
    if (!(error instanceof ConditionSyntaxError)) throw error;
    add(`Syntax error: ${error.message}`, error.offset);
  }
  throw new RouteCompileError('(condition)', problems);
}
