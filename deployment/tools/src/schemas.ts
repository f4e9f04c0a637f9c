import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EdgeMLError } from '@edgeml/shared';
import { Ajv, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv';
import ajvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import { isJsonObject, readJsonFile } from './json.js';
import { error, type Problem } from './problems.js';

/**
 * Where the official schemas live: the unmodified SchemaStore copies vendored in this package
 * (`deployment/tools/schemas/`, with their licence and provenance), as an absolute path, so validation works
 * offline from any folder. `src/` and `dist/` sit at the same depth, so the path is the same from either.
 */
export const DEFAULT_SCHEMAS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'schemas');

/** The schemas iotedgedev checks with: templates against template 4.0, generated manifests against 2.0. */
export const SCHEMA_IDS = {
  template: 'https://json.schemastore.org/azure-iot-edge-deployment-template-4.0.json',
  manifest: 'https://json.schemastore.org/azure-iot-edge-deployment-2.0.json',
} as const;

const DRAFT_04 = 'http://json-schema.org/draft-04/schema#';

/** The official deployment schemas, compiled. */
export interface DeploymentSchemas {
  /** Files loaded (every `*.json` of the folder). */
  readonly files: readonly string[];
  /** Validates a deployment template against template 4.0 (edgeAgent 1.1, edgeHub 1.2; createOptions may be objects). */
  validateTemplate(doc: unknown): Problem[];
  /** Validates a generated manifest against deployment 2.0 (createOptions must be strings). */
  validateManifest(doc: unknown): Problem[];
}

function describe(e: ErrorObject): string {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') return `${e.message ?? 'invalid'}: "${String(params['additionalProperty'])}"`;
  if (e.keyword === 'enum') return `${e.message ?? 'invalid'}: ${JSON.stringify(params['allowedValues'])}`;
  return e.message ?? e.keyword;
}

function toProblems(validate: ValidateFunction, doc: unknown, schemaName: string): Problem[] {
  if (validate(doc)) return [];
  const seen = new Set<string>();
  const problems: Problem[] = [];
  for (const e of validate.errors ?? []) {
    const line = `${e.instancePath === '' ? '/' : e.instancePath}\u0000${describe(e)}`;
    if (seen.has(line)) continue;
    seen.add(line);
    problems.push(error(e.instancePath === '' ? '/' : e.instancePath, `${describe(e)} (${schemaName})`));
  }
  return problems;
}

/**
 * Loads every schema file of the folder: draft-04 files (most of them) into an Ajv draft-04 instance, the
 * draft-07 ones into a standard Ajv, each under its own `id`, so the templates' relative `$ref`s
 * (`azure-iot-edgeagent-deployment-1.1.json#/…`) resolve offline.
 * @throws EdgeMLError FILE_NOT_FOUND when the folder is missing, CONFIG_INVALID when a schema does not load.
 */
export async function loadDeploymentSchemas(dir: string): Promise<DeploymentSchemas> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch (err: unknown) {
    throw new EdgeMLError('FILE_NOT_FOUND', `deployment schemas not found in ${dir} (expected the SchemaStore copies, as in deployment/tools/schemas/): ${(err as Error).message}`, { cause: err });
  }
  // Unknown keywords (`examples`, `contentMediaType` in draft-04 files) are annotations here, not errors.
  const draft04 = new ajvDraft04.default({ allErrors: true, strict: false });
  const draft07 = new Ajv({ allErrors: true, strict: false });
  ajvFormats.default(draft04);
  ajvFormats.default(draft07);
  for (const name of names) {
    const file = path.join(dir, name);
    const schema = await readJsonFile(file);
    if (!isJsonObject(schema)) throw new EdgeMLError('CONFIG_INVALID', `${file} is not a JSON Schema object`);
    const id = typeof schema['id'] === 'string' ? schema['id'] : typeof schema['$id'] === 'string' ? schema['$id'] : `https://json.schemastore.org/${name}`;
    try {
      (schema['$schema'] === DRAFT_04 ? draft04 : draft07).addSchema(schema as AnySchemaObject, id);
    } catch (err: unknown) {
      throw new EdgeMLError('CONFIG_INVALID', `cannot load schema ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  const compile = (id: string): ValidateFunction => {
    try {
      const v = draft04.getSchema(id) ?? draft07.getSchema(id);
      if (v === undefined) throw new Error('not in the folder');
      return v;
    } catch (err: unknown) {
      throw new EdgeMLError('CONFIG_INVALID', `schema ${id} cannot be compiled from ${dir}: ${(err as Error).message}`, { cause: err });
    }
  };
  const template = compile(SCHEMA_IDS.template);
  const manifest = compile(SCHEMA_IDS.manifest);
  return {
    files: Object.freeze(names.map((n) => path.join(dir, n))),
    validateTemplate: (doc) => toProblems(template, doc, 'azure-iot-edge-deployment-template-4.0'),
    validateManifest: (doc) => toProblems(manifest, doc, 'azure-iot-edge-deployment-2.0'),
  };
}
