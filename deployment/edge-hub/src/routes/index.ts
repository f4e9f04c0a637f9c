/** Route engine of the local edge hub: route parsing, conditions, `$edgeHub` config, evaluation. Pure logic. */

export { compileRoutes } from './config.js';
export { ROUTE_DEFAULTS } from './defaults.js';
export {
  ROUTE_ERROR_CODES,
  RouteCompileError,
  RouteConfigError,
  RouteError,
  formatProblem,
  isRouteError,
  type RouteErrorCode,
  type RoutePosition,
  type RouteProblem,
} from './errors.js';
export { BUILTIN_FUNCTION_NAMES } from './builtins.js';
export { compileCondition, compileRoute, messageSourcePath, type RouteOptions } from './route.js';
export { routeEndpoints } from './table.js';
export type {
  CompiledCondition,
  CompiledRoute,
  CompiledRouteTable,
  RouteConditionResult,
  RouteEndpoint,
  RouteEndpointSummary,
  RouteMatch,
  RouteMessage,
  RouteMessageKind,
  RouteMessageSource,
  RouteSource,
  RouteSourceSelector,
  RouteWarning,
  StoreAndForwardConfig,
} from './types.js';
