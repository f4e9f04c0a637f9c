import assert from 'node:assert/strict';
import path from 'node:path';
import { createLogger, createTwinConfigBinder, type ModuleDefinition } from '@edgeml/shared';
import { readJsonObject, type JsonObject } from '@edgeml/deploy-tools';
import { REPO_ROOT, SUITE_MODULES } from './paths.js';

/**
 * Each module's default twin in deployment.template.json must be accepted by that module's own config
 * binder (its schema and cross-field rules), exactly as the module would judge it at start.
 * The definition is looked up as `<module>Module` (a ModuleDefinition) in the package's exports.
 */
describe('deployment template default twins', () => {
  let template: JsonObject;
  before(async () => (template = await readJsonObject(path.join(REPO_ROOT, 'deployment.template.json'))));

  for (const name of SUITE_MODULES) {
    it(`${name}: properties.desired validates against ${name}Module.configSchema`, async () => {
      const exports = (await import(`@edgeml/${name}`)) as Record<string, unknown>;
      const definition = exports[`${name}Module`] as ModuleDefinition<unknown> | undefined;
      assert.ok(definition !== undefined && typeof definition === 'object' && 'configSchema' in definition, `@edgeml/${name} exports ${name}Module`);
      const desired = ((template['modulesContent'] as Record<string, JsonObject>)[name] ?? {})['properties.desired'];
      assert.ok(desired !== null && typeof desired === 'object' && !Array.isArray(desired), `${name} has a default twin object`);
      const binder = createTwinConfigBinder<unknown>({
        schema: definition.configSchema,
        ...(definition.buildConfig === undefined ? {} : { build: definition.buildConfig }),
        apply: () => Promise.resolve(),
        report: () => Promise.resolve(),
        logger: createLogger({ name: 'twin-defaults-test', level: 'silent' }),
      });
      const result = binder.validate(desired as Record<string, unknown>);
      assert.deepEqual('problems' in result ? result.problems : [], [], `${name}'s default twin is rejected by its own schema`);
    });
  }
});
