/** Defaults and bounds of the route engine, in one place. */
export const ROUTE_DEFAULTS = {
  /** Priority of a route that names none (edgeHub `RouteFactory.DefaultPriority`): below every explicit 0–9. */
  defaultPriority: 2_000_000_000,
  /** Highest explicit priority number (0 is the most urgent). */
  maxPriority: 9,
  /** Largest route `timeToLiveSecs` (a .NET uint). 0 means "use the global TTL". */
  maxRouteTimeToLiveSecs: 4_294_967_295,
  /**
   * Global TTL edgeHub uses when `storeAndForwardConfiguration` is absent (schema 1.0): its built-in default
   * `storeAndForward.timeToLiveSecs = -1`, i.e. never expire.
   */
  defaultGlobalTimeToLiveSecs: -1,
  /** Longest route string accepted. edgeHub has no limit, but a twin string value cannot exceed 4 KiB. */
  maxRouteLengthChars: 65_536,
  /**
   * Deepest nesting of a condition (parentheses, unary operators, and operators chained in one expression).
   * Bounds recursion so hostile input gets an error instead of a stack overflow.
   */
  maxConditionDepth: 256,
} as const;
