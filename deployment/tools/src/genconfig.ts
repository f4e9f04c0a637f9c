import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { deploymentParts, isRoutePath } from './checks.js';
import { chunkCreateOptions, joinCreateOptions } from './create-options.js';
import { childObject, isJsonObject, pointer, readJsonObject, type JsonObject, type JsonValue } from './json.js';
import { moduleImage, readModuleSpecs, referencedPlatform, type ModuleImageSpec } from './modules.js';
import { error, errorsOf, type Problem } from './problems.js';
import { MODULE_IMAGE_REFERENCE, combineVariables, expandVariables, readDotEnv, type Variables } from './variables.js';

/** Platforms the suite builds images for (module.json `image.tag.platforms`, without `.debug`). */
export const PLATFORMS = ['amd64', 'arm64v8'] as const;

/** Platforms whose inferencer image has no CUDA: a GPU request there only makes container creation fail. */
const CPU_ONLY_PLATFORMS: ReadonlySet<string> = new Set(['arm64v8']);

export interface GenerateOptions {
  readonly template: JsonObject;
  readonly modules: ReadonlyMap<string, ModuleImageSpec>;
  /** Platform `${MODULES.<name>}` resolves to (`amd64`, `arm64v8`). */
  readonly platform: string;
  readonly variables: Variables;
  /**
   * Keep `HostConfig.DeviceRequests` (GPU access). Default: true, except on platforms whose images are
   * CPU-only (arm64v8). Without a GPU and the NVIDIA container toolkit, Docker refuses to create a container
   * that requests one, so GPU-less amd64 devices need `false` too.
   */
  readonly gpu?: boolean;
}

export interface GenerateResult {
  /** The manifest; complete only when `problems` holds no error. */
  readonly manifest: JsonObject;
  readonly problems: readonly Problem[];
  /** What genconfig changed besides placeholders (for the CLI to print). */
  readonly notes: readonly string[];
}

function mapStrings(value: JsonValue, keys: (string | number)[], fn: (text: string, keys: readonly (string | number)[]) => string): JsonValue {
  if (typeof value === 'string') return fn(value, keys);
  if (Array.isArray(value)) return value.map((v, i) => mapStrings(v, [...keys, i], fn));
  if (isJsonObject(value)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) out[k] = mapStrings(v, [...keys, k], fn);
    return out;
  }
  return value;
}

/**
 * Turns a deployment template into a deployment manifest, as `iotedgedev genconfig` does:
 * - `${MODULES.<folder>[.<platform>|.debug]}` → `<repository>:<version>[-<CONTAINER_TAG>]-<platform>` from module.json;
 * - `$VAR` / `${VAR}` in string values → the variable's value (route strings are left alone: `$upstream` and
 *   `$connectionModuleId` there are route language, not variables);
 * - each module's createOptions object → compact JSON cut into 512-character chunks (`createOptions`, `createOptions01`, …);
 * - `$schema-template` removed.
 * Values are substituted into parsed JSON, so a secret containing `"` or `\` cannot break the document.
 * Every unresolved placeholder is reported (an error), never silently left.
 */
export function generateManifest(options: GenerateOptions): GenerateResult {
  const problems: Problem[] = [];
  const notes: string[] = [];
  const gpu = options.gpu ?? !CPU_ONLY_PLATFORMS.has(options.platform);
  const { ['$schema-template']: _schemaTemplate, ...rest } = options.template;
  const resolved = mapStrings(rest, [], (text, keys) => {
    if (isRoutePath(keys)) return text;
    const withImages = text.replace(MODULE_IMAGE_REFERENCE, (whole, folder: string, suffix: string | undefined) => {
      const spec = options.modules.get(folder);
      if (spec === undefined) {
        problems.push(error(pointer(keys), `${whole}: no modules/${folder}/module.json`));
        return whole;
      }
      const image = moduleImage(spec, referencedPlatform(suffix, options.platform), options.variables);
      if ('problems' in image) {
        for (const p of image.problems) problems.push(error(pointer(keys), `${whole}: ${p}`));
        return whole;
      }
      return image.image;
    });
    const expanded = expandVariables(withImages, options.variables);
    for (const name of new Set(expanded.unresolved)) {
      if (name.startsWith('MODULES.')) continue;
      problems.push(error(pointer(keys), `$${name} is not set in the environment or .env (see .env.template)`));
    }
    return expanded.value;
  }) as JsonObject;

  for (const [name, m] of deploymentParts(resolved).modules) {
    const settings = childObject(m.definition, 'settings');
    if (settings === undefined) continue;
    const joined = joinCreateOptions(settings, { allowObject: true });
    for (const p of joined.problems) problems.push(error(pointer([...m.path, 'settings']), `createOptions: ${p}`));
    if (joined.options === undefined) continue;
    const createOptions = structuredClone(joined.options);
    const hostConfig = childObject(createOptions, 'HostConfig');
    if (!gpu && hostConfig !== undefined && 'DeviceRequests' in hostConfig) {
      delete hostConfig['DeviceRequests'];
      notes.push(`${name}: removed HostConfig.DeviceRequests (no GPU on ${options.platform}${options.gpu === false ? ', --cpu-only' : ''})`);
    }
    for (const key of Object.keys(settings)) if (/^(createoptions|createOptions)[0-9]*$/.test(key)) delete settings[key];
    const chunks = chunkCreateOptions(createOptions);
    Object.assign(settings, chunks);
    const count = Object.keys(chunks).length;
    if (count > 1) notes.push(`${name}: createOptions cut into ${count} chunks`);
  }
  return { manifest: resolved, problems, notes };
}

/** `deployment.template.json` → `deployment.<platform>.json` (iotedgedev's naming). */
export function manifestFileName(templateFile: string, platform: string): string {
  const base = path.basename(templateFile).replace(/\.template\.json$/, '').replace(/\.json$/, '');
  return `${base}.${platform}.json`;
}

export interface GenconfigFilesOptions {
  /** Repository root (module folders, .env and relative paths resolve against it). */
  readonly root: string;
  /** Template path relative to root. Default `deployment.template.json`. */
  readonly template?: string;
  /** Output folder relative to root. Default `deployment/config`. */
  readonly outDir?: string;
  readonly platform: string;
  /** Process environment; wins over `.env`. */
  readonly environment: Variables;
  /** `.env` path relative to root. Default `.env`; a missing file is fine. */
  readonly envFile?: string;
  readonly gpu?: boolean;
}

/**
 * Reads the template, module.json files and .env, generates the manifest and writes it, unless an error
 * was found (a half-resolved manifest is never written). Returns the output path and the result.
 * @throws EdgeMLError when the template, a module.json or .env cannot be read.
 */
export async function genconfigFiles(options: GenconfigFilesOptions): Promise<{ outFile: string; written: boolean; result: GenerateResult }> {
  const templateFile = path.resolve(options.root, options.template ?? 'deployment.template.json');
  const template = await readJsonObject(templateFile);
  const modules = await readModuleSpecs(path.join(options.root, 'modules'));
  const dotEnv = await readDotEnv(path.resolve(options.root, options.envFile ?? '.env'));
  const result = generateManifest({
    template,
    modules,
    platform: options.platform,
    variables: combineVariables(options.environment, dotEnv),
    ...(options.gpu === undefined ? {} : { gpu: options.gpu }),
  });
  const outFile = path.resolve(options.root, options.outDir ?? path.join('deployment', 'config'), manifestFileName(templateFile, options.platform));
  if (errorsOf(result.problems).length > 0) return { outFile, written: false, result };
  await mkdir(path.dirname(outFile), { recursive: true });
  await writeFile(outFile, JSON.stringify(result.manifest, null, 2) + '\n', { mode: 0o600 });
  return { outFile, written: true, result };
}
