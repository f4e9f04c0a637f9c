import { MODULE_ENDPOINTS } from '@edgeml/shared';
import { CREATE_OPTIONS_LIMITS, joinCreateOptions } from './create-options.js';
import { childObject, isJsonObject, pointer, type JsonObject, type JsonValue } from './json.js';
import { error, warning, type Problem } from './problems.js';
import { compileEdgeHubRoutes, type RouteEndpointSummary } from './route-engine.js';

/** Inputs and outputs each module declares (shape of MODULE_ENDPOINTS). */
export type DeclaredEndpoints = Readonly<Record<string, { readonly inputs: Readonly<Record<string, string>>; readonly outputs: Readonly<Record<string, string>> }>>;

/** The parts of a template or manifest the checks look at. */
export interface DeploymentParts {
  /** A layered deployment (`content.modulesContent` with `properties.desired.<path>` keys). */
  readonly layered: boolean;
  /** JSON pointer keys of `modulesContent`. */
  readonly base: readonly string[];
  readonly modulesContent: JsonObject | undefined;
  readonly agentDesired: JsonObject | undefined;
  /**
   * `$edgeHub` desired properties. For a layered deployment, assembled from its `properties.desired.routes.<name>`
   * keys with the settings of the base deployment it layers onto (schema 1.2, store-and-forward TTL 7200 s).
   */
  readonly hubDesired: JsonObject | undefined;
  /** Where each route sits (JSON pointer keys), by route name. */
  readonly routePaths: ReadonlyMap<string, readonly string[]>;
  /** `$edgeAgent` system and user modules: name → definition, with the JSON pointer keys of each. */
  readonly modules: ReadonlyMap<string, { readonly definition: JsonObject; readonly path: readonly string[]; readonly system: boolean }>;
}

export const ROUTES_PATH = ['modulesContent', '$edgeHub', 'properties.desired', 'routes'] as const;
const LAYERED_MODULE = 'properties.desired.modules.';
const LAYERED_SYSTEM_MODULE = 'properties.desired.systemModules.';
const LAYERED_ROUTE = 'properties.desired.routes.';

/** Settings a layered deployment's routes are compiled with (those of deployment.template.json's `$edgeHub`). */
const LAYERED_BASE_HUB = { schemaVersion: '1.2', storeAndForwardConfiguration: { timeToLiveSecs: 7200 } } as const;

/** True when `keys` points inside a route value (`…/$edgeHub/properties.desired/routes/<name>…` or a layered route key). */
export function isRoutePath(keys: readonly (string | number)[]): boolean {
  const at = keys.indexOf('$edgeHub');
  if (at < 0) return false;
  const next = keys[at + 1];
  if (typeof next === 'string' && next.startsWith(LAYERED_ROUTE)) return true;
  return next === 'properties.desired' && keys[at + 2] === 'routes' && keys.length > at + 3;
}

export function deploymentParts(doc: unknown): DeploymentParts {
  const content = childObject(doc as JsonValue, 'content');
  const layered = content !== undefined;
  const base = layered ? ['content', 'modulesContent'] : ['modulesContent'];
  const modulesContent = childObject(layered ? content : (doc as JsonValue), 'modulesContent');
  const agent = childObject(modulesContent, '$edgeAgent');
  const hub = childObject(modulesContent, '$edgeHub');
  const modules = new Map<string, { definition: JsonObject; path: readonly string[]; system: boolean }>();
  const routePaths = new Map<string, readonly string[]>();
  let agentDesired: JsonObject | undefined;
  let hubDesired: JsonObject | undefined;
  if (layered) {
    agentDesired = agent;
    for (const [key, definition] of Object.entries(agent ?? {})) {
      if (!isJsonObject(definition)) continue;
      if (key.startsWith(LAYERED_MODULE)) modules.set(key.slice(LAYERED_MODULE.length), { definition, path: [...base, '$edgeAgent', key], system: false });
      else if (key.startsWith(LAYERED_SYSTEM_MODULE)) modules.set(`$${key.slice(LAYERED_SYSTEM_MODULE.length)}`, { definition, path: [...base, '$edgeAgent', key], system: true });
    }
    if (hub !== undefined) {
      const routes: JsonObject = {};
      for (const [key, value] of Object.entries(hub)) {
        if (!key.startsWith(LAYERED_ROUTE)) continue;
        const name = key.slice(LAYERED_ROUTE.length);
        routes[name] = value;
        routePaths.set(name, [...base, '$edgeHub', key]);
      }
      hubDesired = { ...structuredClone(LAYERED_BASE_HUB), routes };
    }
  } else {
    agentDesired = childObject(agent, 'properties.desired');
    hubDesired = childObject(hub, 'properties.desired');
    for (const name of Object.keys(childObject(hubDesired, 'routes') ?? {})) routePaths.set(name, [...base, '$edgeHub', 'properties.desired', 'routes', name]);
    for (const [section, system] of [['systemModules', true], ['modules', false]] as const) {
      const group = childObject(agentDesired, section);
      for (const [name, definition] of Object.entries(group ?? {})) {
        if (isJsonObject(definition)) modules.set(system ? `$${name}` : name, { definition, path: [...base, '$edgeAgent', 'properties.desired', section, name], system });
      }
    }
  }
  return { layered, base, modulesContent, agentDesired, hubDesired, routePaths, modules };
}

function userModules(parts: DeploymentParts): Set<string> {
  return new Set([...parts.modules].filter(([, m]) => !m.system).map(([name]) => name));
}

function describeNames(names: Iterable<string>): string {
  const list = [...names];
  return list.length === 0 ? '(none)' : list.join(', ');
}

/**
 * Checks what each route connects against the modules the deployment runs and the inputs/outputs they
 * declare: an unknown module, output or input is an error naming the route. A module the suite does not
 * define (a third-party module deployed beside it) is accepted with a warning, as its endpoints are unknown here.
 * Also warns about declared outputs no route takes (edgeHub drops unrouted messages).
 */
export function checkRouteEndpoints(
  summaries: readonly RouteEndpointSummary[],
  deployed: ReadonlySet<string>,
  declared: DeclaredEndpoints = MODULE_ENDPOINTS,
  routePaths: ReadonlyMap<string, readonly string[]> = new Map(),
): Problem[] {
  const problems: Problem[] = [];
  const warnedForeign = new Set<string>();
  const routePath = (name: string): string => pointer(routePaths.get(name) ?? [...ROUTES_PATH, name]);
  const moduleKnown = (route: string, moduleId: string, role: string): boolean => {
    const isDeclared = Object.hasOwn(declared, moduleId);
    if (isDeclared && deployed.has(moduleId)) return true;
    if (isDeclared) {
      problems.push(error(routePath(route), `route "${route}" ${role} module "${moduleId}", which this deployment does not run (modules: ${describeNames(deployed)})`));
      return false;
    }
    if (deployed.has(moduleId)) {
      if (!warnedForeign.has(moduleId)) {
        warnedForeign.add(moduleId);
        problems.push(warning(routePath(route), `module "${moduleId}" is not an EdgeML module (not in MODULE_ENDPOINTS); its inputs and outputs are not checked`));
      }
      return false;
    }
    const near = [...deployed].find((m) => m.toLowerCase() === moduleId.toLowerCase());
    problems.push(
      error(routePath(route), `route "${route}" ${role} module "${moduleId}", which is neither deployed nor an EdgeML module${near === undefined ? '' : ` (did you mean "${near}"? module ids are case-sensitive)`}`),
    );
    return false;
  };
  for (const s of summaries) {
    const src = s.source;
    switch (src.kind) {
      case 'output':
        if (moduleKnown(s.routeName, src.moduleId, 'reads from')) {
          const outputs = Object.keys(declared[src.moduleId]?.outputs ?? {});
          if (!outputs.includes(src.outputName)) {
            problems.push(
              error(routePath(s.routeName), `route "${s.routeName}" reads output "${src.outputName}" of module "${src.moduleId}", which declares no such output (outputs: ${describeNames(outputs)})`),
            );
          }
        }
        break;
      case 'module':
      case 'moduleOutputs':
        moduleKnown(s.routeName, src.moduleId, 'reads from');
        break;
      case 'none':
        problems.push(error(routePath(s.routeName), `route "${s.routeName}": its FROM selects no message source (expected /messages/modules/<module>/outputs/<output>, /messages/*, /twinChangeNotifications …)`));
        break;
      default:
        break;
    }
    if (s.sink.kind === 'module' && moduleKnown(s.routeName, s.sink.moduleId, 'delivers to')) {
      const inputs = Object.keys(declared[s.sink.moduleId]?.inputs ?? {});
      if (!inputs.includes(s.sink.inputName)) {
        problems.push(
          error(routePath(s.routeName), `route "${s.routeName}" delivers to input "${s.sink.inputName}" of module "${s.sink.moduleId}", which declares no such input (inputs: ${describeNames(inputs)})`),
        );
      }
    }
  }
  for (const moduleId of deployed) {
    const outputs = declared[moduleId]?.outputs;
    if (outputs === undefined) continue;
    for (const output of Object.keys(outputs)) {
      const taken = summaries.some((s) => {
        const src = s.source;
        switch (src.kind) {
          case 'all':
          case 'allMessages':
          case 'allModuleMessages':
            return true;
          case 'module':
          case 'moduleOutputs':
            return src.moduleId === moduleId;
          case 'output':
            return src.moduleId === moduleId && src.outputName === output;
          default:
            return false;
        }
      });
      if (!taken) problems.push(warning('routes', `output "${output}" of module "${moduleId}" is not routed: edgeHub drops its messages`));
    }
  }
  return problems;
}

/** Compiles the `$edgeHub` routes with the hub's route engine, then checks their endpoints. */
export function checkRoutes(parts: DeploymentParts, declared: DeclaredEndpoints = MODULE_ENDPOINTS): Problem[] {
  if (parts.hubDesired === undefined) {
    // A layered deployment may add modules without routes; the base deployment carries $edgeHub.
    return parts.layered ? [] : [error(pointer([...parts.base, '$edgeHub']), '$edgeHub properties.desired is missing')];
  }
  const compiled = compileEdgeHubRoutes(parts.hubDesired);
  const compileProblems = compiled.ok
    ? []
    : compiled.problems.map((p) => {
        const routeAt = p.routeName === undefined ? undefined : (parts.routePaths.get(p.routeName) ?? [...ROUTES_PATH, p.routeName]);
        const where = pointer(routeAt ?? [...parts.base, '$edgeHub', 'properties.desired', ...p.path.split('.')]);
        const at = p.position === undefined ? '' : ` (line ${p.position.line}, column ${p.position.column})`;
        return error(where, `${p.routeName === undefined ? '' : `route "${p.routeName}" does not compile: `}${p.message}${at}`);
      });
  const engineWarnings = compiled.ok
    ? compiled.warnings.map((w) => warning(pointer(w.routeName === undefined ? [...parts.base, '$edgeHub'] : (parts.routePaths.get(w.routeName) ?? [...ROUTES_PATH, w.routeName])), w.message))
    : [];
  const endpointProblems = [...engineWarnings, ...checkRouteEndpoints(compiled.endpoints, userModules(parts), declared, parts.routePaths)];
  // With a route that does not compile, "output not routed" warnings would only repeat that error.
  return [...compileProblems, ...(compiled.ok ? endpointProblems : endpointProblems.filter((p) => p.severity === 'error'))];
}

/** `${…}` anywhere, or `$NAME` (an iotedgedev variable reference) left in a value. */
const UNRESOLVED_ANYWHERE = /\$\{[^}]*\}/g;
const UNRESOLVED_VARIABLE = /\$\{[^}]*\}|\$[A-Za-z_]\w*/g;

/**
 * Reports every placeholder or variable left in a generated manifest. Route strings are checked for `${…}`
 * only, as `$upstream` and `$connectionModuleId`-style system properties belong to the route language.
 * createOptions are checked after joining their chunks (a cut may split a placeholder).
 */
export function checkUnresolved(doc: unknown): Problem[] {
  const problems: Problem[] = [];
  const report = (keys: readonly (string | number)[], text: string, pattern: RegExp): void => {
    for (const m of text.matchAll(pattern)) problems.push(error(pointer(keys), `unresolved placeholder ${m[0]} (set it in the environment or .env and run genconfig)`));
  };
  const walk = (value: JsonValue, keys: (string | number)[]): void => {
    if (typeof value === 'string') {
      report(keys, value, isRoutePath(keys) ? UNRESOLVED_ANYWHERE : UNRESOLVED_VARIABLE);
    } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...keys, i]));
    else if (isJsonObject(value)) {
      const isSettings = keys[keys.length - 1] === 'settings';
      let joinedDone = false;
      for (const [k, v] of Object.entries(value)) {
        if (isSettings && /^(createoptions|createOptions)[0-9]*$/.test(k)) {
          if (!joinedDone) {
            joinedDone = true;
            const text = Object.entries(value)
              .filter(([ck]) => /^(createoptions|createOptions)[0-9]*$/.test(ck))
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([, cv]) => (typeof cv === 'string' ? cv : JSON.stringify(cv)))
              .join('');
            report([...keys, 'createOptions'], text, UNRESOLVED_ANYWHERE);
          }
          continue;
        }
        walk(v, [...keys, k]);
      }
    }
  };
  walk(doc as JsonValue, []);
  return problems;
}

/** createOptions of every module: chunk keys in sequence, sizes within limits, a JSON object once joined. */
export function checkCreateOptions(parts: DeploymentParts, options: { allowObject: boolean }): Problem[] {
  const problems: Problem[] = [];
  for (const [, m] of parts.modules) {
    const settings = childObject(m.definition, 'settings');
    if (settings === undefined) continue;
    const joined = joinCreateOptions(settings, { allowObject: options.allowObject });
    for (const p of joined.problems) problems.push(error(pointer([...m.path, 'settings']), `createOptions: ${p}`));
    if (options.allowObject && joined.options !== undefined) {
      const chars = Array.from(JSON.stringify(joined.options)).length;
      const max = CREATE_OPTIONS_LIMITS.maxChunks * CREATE_OPTIONS_LIMITS.chunkChars;
      if (chars > max) {
        problems.push(error(pointer([...m.path, 'settings', 'createOptions']), `createOptions serialise to ${chars} characters; the tooling allows at most ${max} (${CREATE_OPTIONS_LIMITS.maxChunks} chunks)`));
      }
    }
  }
  return problems;
}

/** `$edgeHub` needs `storeAndForwardConfiguration` from schema 1.1 on (edgeHub's DTO requires it; the schemas do not). */
export function checkEdgeHubSettings(parts: DeploymentParts): Problem[] {
  const hub = parts.hubDesired;
  if (hub === undefined || parts.layered) return [];
  const problems: Problem[] = [];
  const version = hub['schemaVersion'];
  const base = ['modulesContent', '$edgeHub', 'properties.desired'];
  if (typeof version === 'string' && !/^1\.[0-3]$/.test(version)) {
    problems.push(error(pointer([...base, 'schemaVersion']), `edgeHub accepts schemaVersion 1.0 to 1.3, not "${version}"`));
  }
  if (typeof version === 'string' && version !== '1.0' && !isJsonObject(hub['storeAndForwardConfiguration'])) {
    problems.push(error(pointer([...base, 'storeAndForwardConfiguration']), `edgeHub requires storeAndForwardConfiguration with schemaVersion ${version} (it rejects the whole $edgeHub otherwise)`));
  }
  return problems;
}

/** Twin sections: each EdgeML module deployed should carry its default twin; a twin for a module not deployed is a mistake. */
export function checkTwinSections(parts: DeploymentParts, declared: DeclaredEndpoints = MODULE_ENDPOINTS): Problem[] {
  const problems: Problem[] = [];
  const deployed = userModules(parts);
  for (const name of deployed) {
    if (Object.hasOwn(declared, name) && childObject(childObject(parts.modulesContent, name), 'properties.desired') === undefined) {
      problems.push(warning(pointer([...parts.base, name]), `module "${name}" has no default twin (modulesContent.${name}["properties.desired"]); it starts on its schema defaults`));
    }
  }
  for (const key of Object.keys(parts.modulesContent ?? {})) {
    if (!key.startsWith('$') && !deployed.has(key)) problems.push(error(pointer([...parts.base, key]), `twin section for "${key}", which this deployment does not run`));
  }
  return problems;
}
