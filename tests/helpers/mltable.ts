import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parse } from 'yaml';

/**
 * Validates an MLTable file (YAML) against docs/reference/schemas/MLTable.schema.json, the JSON Schema
 * of the keys Azure ML documents (docs/reference/azure-ml-mltable.md). Returns the parsed document;
 * throws with every problem. (ajv 8 as @edgeml/shared resolves it: the root's hoisted ajv is another major.)
 */
interface Validator {
  (data: unknown): boolean;
  errors?: unknown[] | null;
}
interface AjvLike {
  compile(schema: object): Validator;
  errorsText(errors: unknown): string;
}
const { Ajv } = createRequire(new URL('../../shared/package.json', import.meta.url))('ajv') as { Ajv: new (options: object) => AjvLike };
const schema = JSON.parse(readFileSync(new URL('../../docs/reference/schemas/MLTable.schema.json', import.meta.url), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile(schema);

export function assertValidMLTable(yamlText: string): Record<string, unknown> {
  const doc = parse(yamlText) as unknown;
  if (!validate(doc)) throw new Error(`MLTable invalid: ${ajv.errorsText(validate.errors)}\n${yamlText}`);
  return doc as Record<string, unknown>;
}
