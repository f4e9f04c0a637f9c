import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EdgeMLError } from '@edgeml/shared';

export type RestartPolicy = 'never' | 'on-failure' | 'on-unhealthy' | 'always';

/** One custom module of the deployment, as the local runtime will run it. */
export interface RuntimeModule {
  readonly name: string;
  readonly image: string;
  readonly status: 'running' | 'stopped';
  readonly restartPolicy: RestartPolicy;
  /** Lower starts first; edgeAgent's default is 4294967295. */
  readonly startupOrder: number;
  /** `env` of the manifest with `$VAR` placeholders resolved. */
  readonly env: Readonly<Record<string, string>>;
  /** `HostConfig.Binds` as `{ hostPath, containerPath, readOnly }`. */
  readonly binds: readonly { hostPath: string; containerPath: string; readOnly: boolean }[];
  /** The module twin's default desired properties from the manifest. */
  readonly desired: Readonly<Record<string, unknown>>;
}

export interface RuntimeManifest {
  /** The template with placeholders resolved (what the hub is given). */
  readonly resolved: Record<string, unknown>;
  readonly modules: readonly RuntimeModule[];
  /** Variables referenced by the manifest that had no value. */
  readonly unresolved: readonly string[];
}

const DEFAULT_STARTUP_ORDER = 4_294_967_295;

/** Words that look like variables but belong to edgeHub's route language. */
const NOT_VARIABLES = new Set(['upstream']);

/**
 * Replaces `${MODULES.x}` by a local image name and `$VAR` / `${VAR}` by values from `vars`, the way
 * the IoT Edge tooling does before deploying. A variable with no value is left as written (as
 * iotedgedev does; `INTO $upstream` must survive) and recorded in `unresolved`.
 */
export function resolvePlaceholders(value: unknown, vars: Readonly<Record<string, string | undefined>>, unresolved: Set<string>): unknown {
  if (typeof value === 'string') {
    return value
      .replace(/\$\{MODULES\.([A-Za-z0-9_-]+)(?:\.[A-Za-z0-9_-]+)?\}/g, (_m, name: string) => `local/${name}:dev`)
      .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, a: string | undefined, b: string | undefined) => {
        const key = a ?? b ?? '';
        const v = vars[key];
        if (v === undefined) {
          if (!NOT_VARIABLES.has(key)) unresolved.add(key);
          return m;
        }
        return v;
      });
  }
  if (Array.isArray(value)) return value.map((v) => resolvePlaceholders(v, vars, unresolved));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolvePlaceholders(v, vars, unresolved);
    return out;
  }
  return value;
}

function asObject(value: unknown, where: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new EdgeMLError('CONFIG_INVALID', `${where} must be an object`);
  return value as Record<string, unknown>;
}

function parseCreateOptions(settings: Record<string, unknown>): Record<string, unknown> {
  // Templates hold createOptions as an object; generated manifests as (chunked) strings.
  const direct = settings['createOptions'];
  if (direct !== undefined && typeof direct === 'object' && direct !== null) return direct as Record<string, unknown>;
  const chunks = Object.keys(settings)
    .filter((k) => /^createOptions(\d\d)?$/.test(k))
    .sort()
    .map((k) => String(settings[k]));
  if (chunks.length === 0) return {};
  try {
    return asObject(JSON.parse(chunks.join('')), 'createOptions');
  } catch (err: unknown) {
    throw new EdgeMLError('CONFIG_INVALID', 'createOptions is not valid JSON', { cause: err });
  }
}

/** Reads the deployment manifest (template or generated) into what the local runtime needs. */
export function parseManifest(template: unknown, vars: Readonly<Record<string, string | undefined>>): RuntimeManifest {
  const unresolved = new Set<string>();
  const resolved = asObject(resolvePlaceholders(template, vars, unresolved), 'manifest');
  const content = asObject(resolved['modulesContent'], 'modulesContent');
  const agent = asObject(asObject(content['$edgeAgent'], '$edgeAgent')['properties.desired'], '$edgeAgent properties.desired');
  const modulesSection = asObject(agent['modules'] ?? {}, '$edgeAgent modules');
  const modules: RuntimeModule[] = [];
  for (const [name, raw] of Object.entries(modulesSection)) {
    const m = asObject(raw, `module ${name}`);
    const settings = asObject(m['settings'] ?? {}, `module ${name} settings`);
    const createOptions = parseCreateOptions(settings);
    const hostConfig = (createOptions['HostConfig'] ?? {}) as Record<string, unknown>;
    const binds = ((hostConfig['Binds'] ?? []) as unknown[]).map((b) => {
      const parts = String(b).split(':');
      return { hostPath: parts[0] ?? '', containerPath: parts[1] ?? '', readOnly: parts[2] === 'ro' };
    });
    const env: Record<string, string> = {};
    for (const [key, v] of Object.entries(asObject(m['env'] ?? {}, `module ${name} env`))) {
      const value = String((v as { value?: unknown }).value ?? '');
      // An env value whose variable has no value is passed empty, never as the literal `$NAME`.
      env[key] = /\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/.test(value) && [...unresolved].some((u) => value.includes(u)) ? '' : value;
    }
    const desiredSection = content[name] as Record<string, unknown> | undefined;
    modules.push({
      name,
      image: String(settings['image'] ?? ''),
      status: m['status'] === 'stopped' ? 'stopped' : 'running',
      restartPolicy: (['never', 'on-failure', 'on-unhealthy', 'always'].includes(String(m['restartPolicy'])) ? m['restartPolicy'] : 'always') as RestartPolicy,
      startupOrder: typeof m['startupOrder'] === 'number' ? m['startupOrder'] : DEFAULT_STARTUP_ORDER,
      env,
      binds,
      desired: (desiredSection?.['properties.desired'] as Record<string, unknown> | undefined) ?? {},
    });
  }
  modules.sort((a, b) => a.startupOrder - b.startupOrder || a.name.localeCompare(b.name));
  return { resolved, modules, unresolved: [...unresolved].sort() };
}

export async function loadManifest(file: string, vars: Readonly<Record<string, string | undefined>>): Promise<RuntimeManifest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err: unknown) {
    throw new EdgeMLError('FILE_NOT_FOUND', `cannot read deployment manifest ${file}`, { cause: err });
  }
  try {
    return parseManifest(JSON.parse(text), vars);
  } catch (err: unknown) {
    if (err instanceof SyntaxError) throw new EdgeMLError('CONFIG_INVALID', `${path.basename(file)} is not valid JSON: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * Maps a container path of the device's `/data` volume to the work folder: `/data/x` → `<dataDir>/x`.
 * Paths outside `/data` map under `<dataDir>/_mounts/`.
 */
export function mapContainerPath(containerPath: string, dataDir: string): string {
  const norm = path.posix.normalize(containerPath);
  if (norm === '/data' || norm.startsWith('/data/')) return path.join(dataDir, norm.slice('/data'.length));
  return path.join(dataDir, '_mounts', norm);
}
