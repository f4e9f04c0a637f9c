import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { MODULE_ENDPOINTS } from '@edgeml/shared';
import {
  checkCreateOptions,
  checkEdgeHubSettings,
  checkRoutes,
  checkTwinSections,
  checkUnresolved,
  deploymentParts,
  isRoutePath,
  type DeclaredEndpoints,
} from './checks.js';
import { isJsonObject, pointer, readJsonFile, type JsonValue } from './json.js';
import { readModuleSpecs, referencedPlatform, type ModuleImageSpec } from './modules.js';
import { error, type Problem } from './problems.js';
import { DEFAULT_SCHEMAS_DIR, loadDeploymentSchemas, type DeploymentSchemas } from './schemas.js';
import { MODULE_IMAGE_REFERENCE, readDotEnv, variableReferences } from './variables.js';

export interface ValidateContext {
  readonly schemas: DeploymentSchemas;
  readonly declared?: DeclaredEndpoints;
  /** module.json of each module folder; templates' `${MODULES.x}` references are checked against them. */
  readonly modules?: ReadonlyMap<string, ModuleImageSpec>;
  /** Variables `.env.template` documents; a template variable missing there is an error. */
  readonly documentedVariables?: ReadonlySet<string>;
}

/** What a document is: a template (carries `$schema-template`) or a generated manifest, single-device or layered. */
export type DeploymentKind = 'template' | 'manifest' | 'layered template' | 'layered manifest';

export function deploymentKind(doc: unknown): DeploymentKind {
  const template = isJsonObject(doc) && '$schema-template' in doc;
  const layered = isJsonObject(doc) && 'content' in doc;
  return `${layered ? 'layered ' : ''}${template ? 'template' : 'manifest'}` as DeploymentKind;
}

/** `${MODULES.x}` references name a module folder and platform; every variable is documented in `.env.template`. */
function checkTemplateReferences(doc: unknown, ctx: ValidateContext): Problem[] {
  const problems: Problem[] = [];
  const version = isJsonObject(doc) ? doc['$schema-template'] : undefined;
  if (version !== '4.0.0') problems.push(error('/$schema-template', `expected "4.0.0" (edgeAgent 1.1 + edgeHub 1.2 template), found ${JSON.stringify(version)}`));
  const walk = (value: JsonValue, keys: (string | number)[]): void => {
    if (typeof value === 'string') {
      if (isRoutePath(keys)) return;
      for (const m of value.matchAll(MODULE_IMAGE_REFERENCE)) {
        const folder = m[1] ?? '';
        const spec = ctx.modules?.get(folder);
        if (ctx.modules !== undefined && spec === undefined) problems.push(error(pointer(keys), `${m[0]}: no modules/${folder}/module.json`));
        const platform = referencedPlatform(m[2], 'amd64');
        if (spec !== undefined && !Object.hasOwn(spec.platforms, platform)) {
          problems.push(error(pointer(keys), `${m[0]}: modules/${folder}/module.json has no platform "${platform}"`));
        }
      }
      if (ctx.documentedVariables !== undefined) {
        for (const name of variableReferences(value)) {
          if (!ctx.documentedVariables.has(name)) problems.push(error(pointer(keys), `$${name} is not documented in .env.template`));
        }
      }
    } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...keys, i]));
    else if (isJsonObject(value)) for (const [k, v] of Object.entries(value)) walk(v, [...keys, k]);
  };
  walk(doc as JsonValue, []);
  if (ctx.modules !== undefined && ctx.documentedVariables !== undefined) {
    for (const spec of ctx.modules.values()) {
      for (const name of variableReferences(spec.repository)) {
        if (!ctx.documentedVariables.has(name)) problems.push(error(`modules/${spec.folder}/module.json`, `image.repository uses $${name}, which is not documented in .env.template`));
      }
    }
  }
  return problems;
}

/**
 * Checks a deployment template: template 4.0 schema, every route compiles with the hub's route engine and
 * names outputs/inputs modules declare, `${MODULES.x}` names a module folder and platform, createOptions fit
 * in the chunks the tooling allows, every variable is documented in `.env.template`.
 */
export function validateTemplate(doc: unknown, ctx: ValidateContext): Problem[] {
  const declared = ctx.declared ?? MODULE_ENDPOINTS;
  const parts = deploymentParts(doc);
  return [
    ...ctx.schemas.validateTemplate(doc),
    ...checkTemplateReferences(doc, ctx),
    ...checkEdgeHubSettings(parts),
    ...checkRoutes(parts, declared),
    ...checkCreateOptions(parts, { allowObject: true }),
    ...checkTwinSections(parts, declared),
  ];
}

/**
 * Checks a generated manifest: deployment 2.0 schema, edgeHub settings, every route compiles and names
 * declared outputs/inputs, no placeholder or variable left, createOptions chunks in sequence and within limits.
 */
export function validateManifest(doc: unknown, ctx: ValidateContext): Problem[] {
  const declared = ctx.declared ?? MODULE_ENDPOINTS;
  const parts = deploymentParts(doc);
  return [
    ...ctx.schemas.validateManifest(doc),
    ...checkEdgeHubSettings(parts),
    ...checkRoutes(parts, declared),
    ...checkUnresolved(doc),
    ...checkCreateOptions(parts, { allowObject: false }),
    ...checkTwinSections(parts, declared),
  ];
}

/**
 * Checks a layered deployment (no official schema covers its `properties.desired.<path>` keys): a target
 * condition and a priority, routes compiled as they will be merged onto a schema-1.2 base, endpoints,
 * createOptions, twins; in the generated form also that nothing is left unresolved.
 */
export function validateLayered(doc: unknown, ctx: ValidateContext): Problem[] {
  const declared = ctx.declared ?? MODULE_ENDPOINTS;
  const parts = deploymentParts(doc);
  const template = deploymentKind(doc) === 'layered template';
  const problems: Problem[] = [];
  const target = isJsonObject(doc) ? doc['targetCondition'] : undefined;
  if (typeof target !== 'string' || !/^(tags|properties\.reported|deviceId)\b/.test(target.trim())) {
    problems.push(error('/targetCondition', 'a layered deployment needs a targetCondition on device tags (e.g. tags.edgeml.enabled=true)'));
  }
  const priority = isJsonObject(doc) ? doc['priority'] : undefined;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0) problems.push(error('/priority', 'priority must be a non-negative integer'));
  if (parts.modules.size === 0) problems.push(error(pointer([...parts.base, '$edgeAgent']), 'no properties.desired.modules.<name> entries'));
  problems.push(
    ...(template ? checkTemplateReferences(doc, ctx) : checkUnresolved(doc)),
    ...checkRoutes(parts, declared),
    ...checkCreateOptions(parts, { allowObject: template }),
    ...checkTwinSections(parts, declared),
  );
  return problems;
}

/** Validates a document as whatever it is (template, manifest, layered). */
export function validateDeployment(doc: unknown, ctx: ValidateContext): { kind: DeploymentKind; problems: Problem[] } {
  const kind = deploymentKind(doc);
  const problems = kind === 'template' ? validateTemplate(doc, ctx) : kind === 'manifest' ? validateManifest(doc, ctx) : validateLayered(doc, ctx);
  return { kind, problems };
}

/** Variable names `.env.template` documents (every `NAME=` line, commented or not). */
export async function documentedVariables(file: string): Promise<Set<string>> {
  return new Set(Object.keys(await readDotEnv(file)));
}

export interface ValidateFilesOptions {
  readonly root: string;
  /** Files relative to root. Default: the templates at the root and every manifest in deployment/config. */
  readonly files?: readonly string[];
  /** Schema folder relative to root. Default {@link DEFAULT_SCHEMAS_DIR}. */
  readonly schemasDir?: string;
}

export interface FileReport {
  readonly file: string;
  readonly kind: DeploymentKind;
  readonly problems: readonly Problem[];
}

/** The files `npm run validate` checks when given none. */
export async function defaultValidateFiles(root: string): Promise<string[]> {
  const files = ['deployment.template.json', 'deployment.debug.template.json', path.join('deployment', 'layered', 'edgeml.layered.json'), path.join('deployment', 'layered', 'metrics-collector.layered.json')];
  const configDir = path.join('deployment', 'config');
  let generated: string[] = [];
  try {
    generated = (await readdir(path.join(root, configDir))).filter((n) => n.endsWith('.json')).sort();
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return [...files, ...generated.map((n) => path.join(configDir, n))];
}

/**
 * Validates files (templates and manifests) against the official schemas and the suite's checks.
 * @throws EdgeMLError when the schemas, a file or a module.json cannot be read.
 */
export async function validateFiles(options: ValidateFilesOptions): Promise<FileReport[]> {
  const schemas = await loadDeploymentSchemas(path.resolve(options.root, options.schemasDir ?? DEFAULT_SCHEMAS_DIR));
  const modules = await readModuleSpecs(path.join(options.root, 'modules'));
  const documented = await documentedVariables(path.join(options.root, '.env.template'));
  const ctx: ValidateContext = { schemas, modules, ...(documented.size > 0 ? { documentedVariables: documented } : {}) };
  const files = options.files ?? (await defaultValidateFiles(options.root));
  const reports: FileReport[] = [];
  for (const file of files) {
    const doc = await readJsonFile(path.resolve(options.root, file));
    const { kind, problems } = validateDeployment(doc, ctx);
    reports.push({ file, kind, problems });
  }
  return reports;
}

