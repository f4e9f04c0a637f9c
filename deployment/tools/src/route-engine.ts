/**
 * The one file that talks to the local edge hub's route engine (@edgeml/edge-hub): the same compiler the
 * local runtime routes with, so a manifest that validates here routes identically there.
 */
import { compileRoutes, isRouteError, routeEndpoints, type RouteEndpointSummary, type RouteProblem, type RouteWarning } from '@edgeml/edge-hub';

export type { RouteEndpointSummary, RouteWarning };

function problemsOf(err: unknown): readonly RouteProblem[] {
  if (!isRouteError(err)) throw err;
  const problems = (err as { problems?: readonly RouteProblem[] }).problems;
  return problems !== undefined && problems.length > 0 ? problems : [{ path: 'routes', message: err.message }];
}

/**
 * Compiles `$edgeHub` desired properties. On failure returns every problem the engine found, plus the
 * endpoints of the routes that do compile on their own (each is compiled alone), so one broken route does
 * not hide an unknown input in another.
 */
export function compileEdgeHubRoutes(
  edgeHubDesired: unknown,
):
  | { ok: true; endpoints: readonly RouteEndpointSummary[]; warnings: readonly RouteWarning[] }
  | { ok: false; problems: readonly RouteProblem[]; endpoints: readonly RouteEndpointSummary[] } {
  try {
    const table = compileRoutes(edgeHubDesired);
    return { ok: true, endpoints: routeEndpoints(table), warnings: table.warnings };
  } catch (err: unknown) {
    const problems = problemsOf(err);
    const endpoints: RouteEndpointSummary[] = [];
    const desired = edgeHubDesired as Record<string, unknown> | null;
    const routes = typeof desired === 'object' && desired !== null ? desired['routes'] : undefined;
    if (typeof routes === 'object' && routes !== null) {
      for (const [name, route] of Object.entries(routes)) {
        try {
          endpoints.push(...routeEndpoints(compileRoutes({ ...desired, routes: { [name]: route } })));
        } catch (single: unknown) {
          problemsOf(single);
        }
      }
    }
    return { ok: false, problems, endpoints };
  }
}
