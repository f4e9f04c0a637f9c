import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { EdgeMLError } from '@edgeml/shared';
import { isJsonObject, readJsonFile } from './json.js';
import { expandVariables, type Variables } from './variables.js';

/** What genconfig needs from `modules/<folder>/module.json` (iotedgedev's module.json, `$schema-version` 0.0.1). */
export interface ModuleImageSpec {
  /** Folder name under `modules/`: the `<folder>` of `${MODULES.<folder>}`. */
  readonly folder: string;
  /** `image.repository` as written, e.g. `${CONTAINER_REGISTRY_SERVER}/edgeml-watcher`. */
  readonly repository: string;
  /** `image.tag.version`, e.g. `0.1.0`. */
  readonly version: string;
  /** `image.tag.platforms`: platform (`amd64`, `amd64.debug`, `arm64v8`) → Dockerfile path relative to the folder. */
  readonly platforms: Readonly<Record<string, string>>;
  /** `image.contextPath` relative to the folder; `.` when absent. */
  readonly contextPath: string;
}

/**
 * Parses one module.json.
 * @throws EdgeMLError CONFIG_INVALID listing every missing or mistyped field.
 */
export function parseModuleJson(folder: string, doc: unknown, file: string): ModuleImageSpec {
  const problems: string[] = [];
  const image = isJsonObject(doc) ? doc['image'] : undefined;
  const tag = isJsonObject(image) ? image['tag'] : undefined;
  const repository = isJsonObject(image) ? image['repository'] : undefined;
  const version = isJsonObject(tag) ? tag['version'] : undefined;
  const platforms = isJsonObject(tag) ? tag['platforms'] : undefined;
  const contextPath = isJsonObject(image) ? (image['contextPath'] ?? '.') : '.';
  if (typeof repository !== 'string' || repository === '') problems.push('image.repository must be a non-empty string');
  if (typeof version !== 'string' || version === '') problems.push('image.tag.version must be a non-empty string');
  const platformMap: Record<string, string> = {};
  if (!isJsonObject(platforms)) problems.push('image.tag.platforms must be an object of platform → Dockerfile');
  else
    for (const [platform, dockerfile] of Object.entries(platforms)) {
      if (typeof dockerfile === 'string') platformMap[platform] = dockerfile;
      else problems.push(`image.tag.platforms.${platform} must be a Dockerfile path`);
    }
  if (typeof contextPath !== 'string') problems.push('image.contextPath must be a string');
  if (problems.length > 0) throw new EdgeMLError('CONFIG_INVALID', `${file}: ${problems.join('; ')}`);
  return Object.freeze({
    folder,
    repository: repository as string,
    version: version as string,
    platforms: Object.freeze(platformMap),
    contextPath: contextPath as string,
  });
}

/**
 * Reads `<modulesDir>/<folder>/module.json` for every folder that has one.
 * @throws EdgeMLError from {@link readJsonFile} / {@link parseModuleJson}.
 */
export async function readModuleSpecs(modulesDir: string): Promise<Map<string, ModuleImageSpec>> {
  const specs = new Map<string, ModuleImageSpec>();
  const entries = await readdir(modulesDir, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory()) continue;
    const file = path.join(modulesDir, entry.name, 'module.json');
    let doc: unknown;
    try {
      doc = await readJsonFile(file);
    } catch (err: unknown) {
      if ((err as EdgeMLError).code === 'FILE_NOT_FOUND') continue;
      throw err;
    }
    specs.set(entry.name, parseModuleJson(entry.name, doc, file));
  }
  return specs;
}

/**
 * The image iotedgedev builds for a module and platform: `<repository, lower-cased>:<version>[-<CONTAINER_TAG>]-<platform>`
 * (e.g. `myacr.azurecr.io/edgeml-watcher:0.1.0-amd64`), with `$VAR`s in the repository expanded.
 * Returns the problems instead when the platform is not in module.json or a variable is unset.
 */
export function moduleImage(spec: ModuleImageSpec, platform: string, variables: Variables): { image: string } | { problems: string[] } {
  const problems: string[] = [];
  if (!Object.hasOwn(spec.platforms, platform)) {
    problems.push(`modules/${spec.folder}/module.json has no platform "${platform}" (it has: ${Object.keys(spec.platforms).join(', ')})`);
  }
  const repository = expandVariables(spec.repository, variables);
  for (const name of repository.unresolved) {
    problems.push(`modules/${spec.folder}/module.json image.repository uses $${name}, which is not set in the environment or .env`);
  }
  if (problems.length > 0) return { problems };
  const containerTag = variables['CONTAINER_TAG'];
  const tag = containerTag === undefined || containerTag === '' ? `${spec.version}-${platform}` : `${spec.version}-${containerTag}-${platform}`;
  return { image: `${repository.value.toLowerCase()}:${tag}` };
}

/**
 * The platform a `${MODULES.<folder>[.<suffix>]}` reference asks for: no suffix → the default platform;
 * `debug` → `<default>.debug` (iotedgedev); anything else is the platform itself (`arm64v8`, `amd64.debug`).
 */
export function referencedPlatform(suffix: string | undefined, defaultPlatform: string): string {
  if (suffix === undefined) return defaultPlatform;
  if (suffix === 'debug') return `${defaultPlatform}.debug`;
  return suffix;
}
