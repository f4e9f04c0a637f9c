/** The compiled route table: evaluation per edgeHub's `Routing.Core/Evaluator.cs`. */

import { createEvalContext } from './eval-context.js';
import { matchableSourcePath, routeInternals } from './route.js';
import type {
  CompiledRoute,
  CompiledRouteTable,
  RouteEndpointSummary,
  RouteMatch,
  RouteMessage,
  RouteWarning,
  StoreAndForwardConfig,
} from './types.js';
import { T } from './values.js';

/** Global TTL in seconds from the store-and-forward settings; negative (never expire) becomes Infinity. */
export function effectiveGlobalTtlSecs(timeToLiveSecs: number): number {
  return timeToLiveSecs < 0 ? Number.POSITIVE_INFINITY : timeToLiveSecs;
}

/** Builds a frozen route table from compiled routes. */
export function createRouteTable(parts: {
  readonly schemaVersion: string;
  readonly routes: readonly CompiledRoute[];
  readonly storeAndForward: StoreAndForwardConfig | undefined;
  readonly globalTimeToLiveSecs: number;
  readonly warnings: readonly RouteWarning[];
}): CompiledRouteTable {
  const routes = Object.freeze([...parts.routes]);
  const prepared = routes.map((route) => ({ route, ...routeInternals(route) }));
  const globalTtl = parts.globalTimeToLiveSecs;
  const match = (message: RouteMessage): readonly RouteMatch[] => {
    const ctx = createEvalContext(message);
    const path = matchableSourcePath(message.source);
    // Map keeps the position of the first route that reached an endpoint, even when a later one wins.
    const winners = new Map<string, CompiledRoute>();
    for (const { route, prefixLower, evaluate } of prepared) {
      if (!path.startsWith(prefixLower) || evaluate(ctx) !== T) continue;
      const current = winners.get(route.sink.id);
      if (current === undefined || route.priority < current.priority) winners.set(route.sink.id, route);
    }
    return Object.freeze(
      [...winners.values()].map((route) =>
        Object.freeze({
          endpoint: route.sink,
          priority: route.priority,
          timeToLiveSecs: route.timeToLiveSecs > 0 ? route.timeToLiveSecs : globalTtl,
          routeName: route.name,
        }),
      ),
    );
  };
  return Object.freeze({
    schemaVersion: parts.schemaVersion,
    routes,
    storeAndForward: parts.storeAndForward,
    globalTimeToLiveSecs: globalTtl,
    warnings: Object.freeze([...parts.warnings]),
    match,
  });
}

/**
 * Lists, for each route in order, what its FROM selects (module/output when it names them) and where it
 * delivers, so a manifest validator can check every route names an output or input a module declares.
 * Module and output names are as written; edgeHub compares sources case-insensitively.
 */
export function routeEndpoints(table: CompiledRouteTable): readonly RouteEndpointSummary[] {
  return Object.freeze(
    table.routes.map((route) => Object.freeze({ routeName: route.name, source: route.source.selector, sink: route.sink })),
  );
}
