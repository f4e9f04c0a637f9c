/**
 * `$edgeHub` desired properties → compiled route table, after edgeHub's `EdgeHubConfigParser.cs`,
 * `EdgeHubDesiredProperties_1_0…1_3.cs`, `RouteSpec.cs`, `RouteSpecConverter.cs`,
 * `StoreAndForwardConfiguration.cs` and `StoreLimits.cs`. Everything is validated and every problem is
 * reported at once; nothing is returned half-valid.
 */

import { ROUTE_DEFAULTS } from './defaults.js';
import { RouteCompileError, RouteConfigError, type RouteProblem } from './errors.js';
import { PRIORITY_MESSAGE, TTL_MESSAGE, compileRouteDetailed, isValidPriority, isValidRouteTtl } from './route.js';
import { createRouteTable, effectiveGlobalTtlSecs } from './table.js';
import type { CompiledRoute, CompiledRouteTable, RouteWarning, StoreAndForwardConfig } from './types.js';

/** `schemaVersion` values edgeHub accepts (major 1, minor 0–3; a .NET `Version` with 2–4 parts). */
const SCHEMA_VERSION = /^(\d+)\.(\d+)(?:\.\d+){0,2}$/;
/** Route names: non-empty, no `.`, `$`, `#` or space (SchemaStore edgeHub 1.1/1.2; twin key rules). */
const ROUTE_NAME = /^[^.$# ]+$/;
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

interface RouteEntry {
  readonly name: string;
  readonly route: string;
  readonly priority: number;
  readonly timeToLiveSecs: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `the string ${JSON.stringify(value).slice(0, 60)}` : `a ${typeof value}`;
}

/** Parses `schemaVersion`; returns the minor version (0–3) or undefined after recording a problem. */
function parseSchemaVersion(value: unknown, problems: RouteProblem[]): number | undefined {
  const path = 'schemaVersion';
  if (value === undefined || value === null) {
    problems.push({ path, message: 'schemaVersion is required ("1.0", "1.1", "1.2" or "1.3")' });
    return undefined;
  }
  const m = typeof value === 'string' ? SCHEMA_VERSION.exec(value.trim()) : null;
  if (m === null) {
    problems.push({ path, message: `schemaVersion must be a version string such as "1.1", got ${describe(value)}` });
    return undefined;
  }
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major !== 1 || minor > 3) {
    problems.push({ path, message: `unsupported schemaVersion "${String(value)}"; edgeHub accepts 1.0, 1.1, 1.2 and 1.3` });
    return undefined;
  }
  return minor;
}

function parseRouteEntries(
  routes: unknown,
  minor: number | undefined,
  problems: RouteProblem[],
  warnings: RouteWarning[],
): RouteEntry[] {
  // With an unreadable schemaVersion, check routes by the 1.1+ rules so their problems are listed too.
  const legacy = minor === 0;
  const entries: RouteEntry[] = [];
  if (routes === undefined || routes === null) {
    if (!legacy) problems.push({ path: 'routes', message: 'routes is required (an object of name → route) for schemaVersion 1.1 and later' });
    return entries;
  }
  if (!isRecord(routes)) {
    problems.push({ path: 'routes', message: `routes must be an object of name → route, got ${describe(routes)}` });
    return entries;
  }
  for (const [name, spec] of Object.entries(routes)) {
    const path = `routes.${name}`;
    let nameOk = true;
    if (name.trim() === '' || !ROUTE_NAME.test(name)) {
      problems.push({ path, routeName: name, message: `route name ${JSON.stringify(name)} must be non-empty and contain no '.', '$', '#' or space` });
      nameOk = false;
    }
    if (typeof spec === 'string') {
      if (spec.trim() === '') {
        if (legacy) warnings.push({ path, routeName: name, message: 'empty route is skipped (schema 1.0)' });
        else problems.push({ path, routeName: name, message: 'route must not be empty' });
        continue;
      }
      if (nameOk) entries.push({ name, route: spec, priority: ROUTE_DEFAULTS.defaultPriority, timeToLiveSecs: 0 });
      continue;
    }
    if (legacy) {
      if (spec === null) {
        warnings.push({ path, routeName: name, message: 'null route is skipped (schema 1.0)' });
      } else if (isRecord(spec)) {
        problems.push({ path, routeName: name, message: 'route objects {route, priority, timeToLiveSecs} need schemaVersion 1.1 or later' });
      } else {
        problems.push({ path, routeName: name, message: `route must be a string, got ${describe(spec)}` });
      }
      continue;
    }
    if (!isRecord(spec)) {
      problems.push({
        path,
        routeName: name,
        message: `Malformed route specification: expected a route string or {"route", "priority", "timeToLiveSecs"}, got ${describe(spec)}`,
      });
      continue;
    }
    const entry = parseRouteObject(name, path, spec, problems);
    if (entry !== undefined && nameOk) entries.push(entry);
  }
  return entries;
}

function parseRouteObject(name: string, path: string, spec: Record<string, unknown>, problems: RouteProblem[]): RouteEntry | undefined {
  let ok = true;
  const route = spec['route'];
  if (typeof route !== 'string' || route.trim() === '') {
    problems.push({ path: `${path}.route`, routeName: name, message: `route must be a non-empty string, got ${describe(route)}` });
    ok = false;
  }
  let priority: number = ROUTE_DEFAULTS.defaultPriority;
  if (spec['priority'] !== undefined) {
    const value = spec['priority'];
    if (typeof value === 'number' && isValidPriority(value)) priority = value;
    else {
      problems.push({ path: `${path}.priority`, routeName: name, message: `${PRIORITY_MESSAGE}, got ${describe(value)}${typeof value === 'number' ? ` ${value}` : ''}` });
      ok = false;
    }
  }
  let timeToLiveSecs = 0;
  if (spec['timeToLiveSecs'] !== undefined) {
    const value = spec['timeToLiveSecs'];
    if (typeof value === 'number' && isValidRouteTtl(value)) timeToLiveSecs = value;
    else {
      problems.push({ path: `${path}.timeToLiveSecs`, routeName: name, message: `${TTL_MESSAGE}, got ${describe(value)}${typeof value === 'number' ? ` ${value}` : ''}` });
      ok = false;
    }
  }
  return ok && typeof route === 'string' ? { name, route, priority, timeToLiveSecs } : undefined;
}

function parseStoreAndForward(
  value: unknown,
  minor: number | undefined,
  problems: RouteProblem[],
  warnings: RouteWarning[],
): StoreAndForwardConfig | undefined {
  const path = 'storeAndForwardConfiguration';
  if (value === undefined || value === null) {
    if (minor !== 0) {
      problems.push({ path, message: 'storeAndForwardConfiguration is required for schemaVersion 1.1 and later (e.g. {"timeToLiveSecs": 7200})' });
    }
    return undefined;
  }
  if (!isRecord(value)) {
    problems.push({ path, message: `storeAndForwardConfiguration must be an object, got ${describe(value)}` });
    return undefined;
  }
  let ok = true;
  let timeToLiveSecs = 0;
  const ttl = value['timeToLiveSecs'];
  if (ttl === undefined) {
    warnings.push({ path: `${path}.timeToLiveSecs`, message: 'timeToLiveSecs is missing; edgeHub then uses 0, so messages that cannot be sent at once expire' });
  } else if (typeof ttl === 'number' && Number.isInteger(ttl) && ttl >= INT32_MIN && ttl <= INT32_MAX) {
    timeToLiveSecs = ttl;
  } else {
    problems.push({ path: `${path}.timeToLiveSecs`, message: `timeToLiveSecs must be a 32-bit integer (negative = never expire), got ${describe(ttl)}${typeof ttl === 'number' ? ` ${ttl}` : ''}` });
    ok = false;
  }
  let maxSizeBytes: number | undefined;
  const limits = value['storeLimits'];
  if (limits !== undefined && limits !== null) {
    const size = isRecord(limits) ? limits['maxSizeBytes'] : undefined;
    if (typeof size === 'number' && Number.isSafeInteger(size) && size >= 0) {
      maxSizeBytes = size;
    } else {
      problems.push({
        path: `${path}.storeLimits.maxSizeBytes`,
        message: isRecord(limits)
          ? `maxSizeBytes must be a non-negative integer, got ${describe(size)}${typeof size === 'number' ? ` ${size}` : ''}`
          : `storeLimits must be an object {"maxSizeBytes": <bytes>}, got ${describe(limits)}`,
      });
      ok = false;
    }
  }
  if (!ok) return undefined;
  return Object.freeze(
    maxSizeBytes === undefined ? { timeToLiveSecs } : { timeToLiveSecs, storeLimits: Object.freeze({ maxSizeBytes }) },
  );
}

/**
 * Validates `$edgeHub` desired properties (schemaVersion 1.0–1.3) and compiles every route once.
 *
 * - 1.0: routes are strings; `storeAndForwardConfiguration` optional (absent: never expire).
 * - 1.1+: routes may be `{route, priority 0–9, timeToLiveSecs}`; `routes` and `storeAndForwardConfiguration`
 *   are required. `mqttBroker` (1.2) and `integrity` (1.3) are not interpreted. Unknown keys
 *   (`$version`, `$metadata`, …) are ignored.
 *
 * @throws RouteConfigError (code `ROUTE_CONFIG_INVALID`) listing every problem, route compile errors with
 *   route name and position included; `cause` is the first route's {@link RouteCompileError}, if any.
 */
export function compileRoutes(edgeHubDesired: unknown): CompiledRouteTable {
  const problems: RouteProblem[] = [];
  const warnings: RouteWarning[] = [];
  if (!isRecord(edgeHubDesired)) {
    throw new RouteConfigError([{ path: '$', message: `$edgeHub desired properties must be an object, got ${describe(edgeHubDesired)}` }]);
  }
  const minor = parseSchemaVersion(edgeHubDesired['schemaVersion'], problems);
  const entries = parseRouteEntries(edgeHubDesired['routes'], minor, problems, warnings);
  const storeAndForward = parseStoreAndForward(edgeHubDesired['storeAndForwardConfiguration'], minor, problems, warnings);

  const routes: CompiledRoute[] = [];
  let firstCompileError: RouteCompileError | undefined;
  for (const entry of entries) {
    const compiled = compileRouteDetailed(entry.name, entry.route, {
      priority: entry.priority,
      timeToLiveSecs: entry.timeToLiveSecs,
      path: `routes.${entry.name}`,
    });
    warnings.push(...compiled.warnings);
    if (compiled.route !== undefined) routes.push(compiled.route);
    if (compiled.problems.length > 0) {
      problems.push(...compiled.problems);
      firstCompileError ??= new RouteCompileError(entry.name, compiled.problems);
    }
  }
  if (problems.length > 0) throw new RouteConfigError(problems, firstCompileError === undefined ? undefined : { cause: firstCompileError });

  return createRouteTable({
    schemaVersion: (edgeHubDesired['schemaVersion'] as string).trim(),
    routes,
    storeAndForward,
    globalTimeToLiveSecs: effectiveGlobalTtlSecs(storeAndForward?.timeToLiveSecs ?? ROUTE_DEFAULTS.defaultGlobalTimeToLiveSecs),
    warnings,
  });
}
