/**
 * Errors of the route engine: one base class with a machine `code`, subclasses only for extra fields.
 * The code list is mirrored in `README.md` beside this file; a unit test keeps the two in step.
 */

/** Every machine code a route error can carry. */
export const ROUTE_ERROR_CODES = ['ROUTE_COMPILE_ERROR', 'ROUTE_CONFIG_INVALID'] as const;

/** Machine code of a {@link RouteError}. */
export type RouteErrorCode = (typeof ROUTE_ERROR_CODES)[number];

/** Where in a route string a problem sits. `offset` is 0-based; `line` and `column` are 1-based. */
export interface RoutePosition {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

/** One problem found while compiling a route or validating `$edgeHub` desired properties. */
export interface RouteProblem {
  /** JSON path inside the `$edgeHub` desired properties, e.g. `routes.toCloud` or `schemaVersion`. */
  readonly path: string;
  /** Name of the route concerned, when the problem belongs to one route. */
  readonly routeName?: string;
  /** Position inside the route string, when the problem is a compile error. */
  readonly position?: RoutePosition;
  /** Human-readable description, without the route name or position (those are fields). */
  readonly message: string;
}

const ROUTE_ERROR_BRAND = Symbol.for('@edgeml/edge-hub/RouteError');

/** Base class of every error the route engine throws. */
export class RouteError extends Error {
  readonly code: RouteErrorCode;

  constructor(code: RouteErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RouteError';
    this.code = code;
    Object.defineProperty(this, ROUTE_ERROR_BRAND, { value: true });
  }
}

/** A route string failed to compile. `problems` lists every error found in it (at least one). */
export class RouteCompileError extends RouteError {
  readonly routeName: string;
  readonly problems: readonly RouteProblem[];

  constructor(routeName: string, problems: readonly RouteProblem[], options?: { cause?: unknown }) {
    super('ROUTE_COMPILE_ERROR', `Error parsing route ${routeName}: ${problems.map(formatProblem).join('; ')}`, options);
    this.name = 'RouteCompileError';
    this.routeName = routeName;
    this.problems = Object.freeze([...problems]);
  }
}

/**
 * The `$edgeHub` desired properties were rejected. `problems` lists every problem at once (config shape and
 * route compile errors); `cause` is the first {@link RouteCompileError}, when a route failed to compile.
 */
export class RouteConfigError extends RouteError {
  readonly problems: readonly RouteProblem[];

  constructor(problems: readonly RouteProblem[], options?: { cause?: unknown }) {
    const plural = problems.length === 1 ? 'problem' : 'problems';
    super(
      'ROUTE_CONFIG_INVALID',
      `Invalid $edgeHub desired properties (${problems.length} ${plural}): ${problems.map(formatProblem).join('; ')}`,
      options,
    );
    this.name = 'RouteConfigError';
    this.problems = Object.freeze([...problems]);
  }
}

/**
 * True for any error thrown by the route engine, also when it comes from another copy of this package
 * (the check uses a global symbol and the code list, not `instanceof`).
 */
export function isRouteError(value: unknown): value is RouteError {
  if (!(value instanceof Error)) return false;
  const code = (value as { code?: unknown }).code;
  return (
    (value as unknown as Record<symbol, unknown>)[ROUTE_ERROR_BRAND] === true &&
    typeof code === 'string' &&
    (ROUTE_ERROR_CODES as readonly string[]).includes(code)
  );
}

/** Formats a problem as `path: message (line L, column C)`. */
export function formatProblem(problem: RouteProblem): string {
  const at = problem.position === undefined ? '' : ` (${formatPosition(problem.position)})`;
  return `${problem.path}: ${problem.message}${at}`;
}

/** Formats a position as `line L, column C, offset O`. */
export function formatPosition(position: RoutePosition): string {
  return `line ${position.line}, column ${position.column}, offset ${position.offset}`;
}
