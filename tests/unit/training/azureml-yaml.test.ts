/**
 * The training component's Azure ML YAML (training/azureml/): each file against the JSON Schema of its
 * kind in training/azureml/schemas/ — written from the keys Azure ML's CLI (v2) YAML reference
 * documents, since Azure ML's published schemas cannot be fetched here — and the contracts between the
 * files: the retrain workflow submits pipeline.yml with input `training_data` and downloads output
 * `model`; every `${{inputs.x}}` / `${{outputs.x}}` a command uses is declared; every `${{parent.…}}`
 * binding names a pipeline input or output; a step's component file exists.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';

interface ValidateFunction {
  (data: unknown): boolean;
  errors?: { instancePath: string; message?: string; params: unknown }[] | null;
}
/** Ajv 8 as the shared package resolves it (the root's hoisted copy is an older major). */
const { Ajv } = createRequire(new URL('../../../shared/package.json', import.meta.url))('ajv') as { Ajv: new (o: object) => { compile(schema: object): ValidateFunction } };

const DIR = path.join(import.meta.dirname, '..', '..', '..', 'training', 'azureml');
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const validators = new Map<string, ValidateFunction>();
for (const kind of ['commandComponent', 'commandJob', 'pipelineJob']) {
  validators.set(kind, ajv.compile(JSON.parse(readFileSync(path.join(DIR, 'schemas', `${kind}.schema.json`), 'utf8')) as object));
}

type Doc = Record<string, unknown> & { inputs?: Record<string, unknown>; outputs?: Record<string, unknown> };
const load = (file: string): Doc => parseYaml(readFileSync(path.join(DIR, file), 'utf8')) as Doc;
const kindOf = (doc: Doc): string => /\/latest\/(\w+)\.schema\.json$/.exec(String(doc['$schema']))?.[1] ?? '(no $schema)';

function problems(doc: Doc): string[] {
  const validate = validators.get(kindOf(doc));
  if (validate === undefined) return [`no schema for ${kindOf(doc)}`];
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

/** The `${{inputs.x}}` / `${{outputs.x}}` names a command uses. */
function placeholders(command: string): { inputs: string[]; outputs: string[] } {
  const out = { inputs: [] as string[], outputs: [] as string[] };
  for (const m of command.matchAll(/\$\{\{\s*(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g)) out[m[1] as 'inputs' | 'outputs'].push(m[2]!);
  return out;
}

describe('training/azureml YAML (schemas written from Azure ML\'s documented keys)', () => {
  for (const file of ['component.yml', 'job.yml', 'pipeline.yml']) {
    it(`${file} is valid against its kind's schema`, () => {
      assert.deepEqual(problems(load(file)), []);
    });
  }

  it('the schemas reject what Azure ML would: a misspelt key, a missing command, an unknown input type', () => {
    const component = load('component.yml');
    assert.notDeepEqual(problems({ ...component, comand: component['command'] }), []);
    const { command: _command, ...noCommand } = component;
    assert.notDeepEqual(problems(noCommand), []);
    assert.notDeepEqual(problems({ ...component, inputs: { training_data: { type: 'parquet' } } }), []);
  });

  it('commands use only declared inputs and outputs', () => {
    for (const file of ['component.yml', 'job.yml']) {
      const doc = load(file);
      const used = placeholders(String(doc['command']));
      for (const name of used.inputs) assert.ok(doc.inputs?.[name] !== undefined, `${file}: input ${name}`);
      for (const name of used.outputs) assert.ok(doc.outputs?.[name] !== undefined, `${file}: output ${name}`);
      assert.ok(used.inputs.includes('training_data') && used.outputs.includes('model'), file);
    }
  });

  it('pipeline.yml is what the retrain workflow submits: input training_data (an MLTable), output model, its step bound to the component', () => {
    const pipeline = load('pipeline.yml');
    assert.equal((pipeline.inputs?.['training_data'] as { type?: string }).type, 'mltable');
    assert.ok(pipeline.outputs?.['model'] !== undefined);
    const workflow = readFileSync(path.join(DIR, '..', '..', '.github', 'workflows', 'retrain.yml'), 'utf8');
    assert.match(workflow, /--file training\/azureml\/pipeline\.yml/);
    assert.match(workflow, /inputs\.training_data\.path=/);
    assert.match(workflow, /--output-name model/);
    for (const [name, step] of Object.entries(pipeline['jobs'] as Record<string, { component: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }>)) {
      const componentFile = path.join(DIR, step.component);
      assert.ok(existsSync(componentFile), `${name}: ${step.component}`);
      const component = parseYaml(readFileSync(componentFile, 'utf8')) as Doc;
      for (const [port, value] of [...Object.entries(step.inputs ?? {}), ...Object.entries(step.outputs ?? {})]) {
        const m = /^\$\{\{\s*parent\.(inputs|outputs)\.(\w+)\s*\}\}$/.exec(String(value));
        assert.ok(m !== null, `${name}.${port}: ${String(value)}`);
        assert.ok(pipeline[m[1] as 'inputs' | 'outputs']?.[m[2]!] !== undefined, `${name}.${port} binds an undeclared ${m[1]}.${m[2]}`);
        assert.ok(component.inputs?.[port] !== undefined || component.outputs?.[port] !== undefined, `${name}: the component has no port ${port}`);
      }
    }
  });
});
