import assert from 'node:assert/strict';
import path from 'node:path';
import {
  deploymentParts,
  documentedVariables,
  formatProblem,
  generateManifest,
  loadDeploymentSchemas,
  readJsonObject,
  readModuleSpecs,
  validateLayered,
  type JsonObject,
  type ModuleImageSpec,
  type ValidateContext,
} from '@edgeml/deploy-tools';
import { REPO_ROOT, SCHEMAS_DIR, SUITE_MODULES } from './paths.js';

type Json = Record<string, unknown>;
const LAYERED = path.join(REPO_ROOT, 'deployment', 'layered');

describe('layered deployments (fleet rollout)', () => {
  let ctx: ValidateContext;
  let template: JsonObject;
  let layered: JsonObject;
  let collector: JsonObject;
  let modules: ReadonlyMap<string, ModuleImageSpec>;
  before(async () => {
    modules = await readModuleSpecs(path.join(REPO_ROOT, 'modules'));
    ctx = { schemas: await loadDeploymentSchemas(SCHEMAS_DIR), modules, documentedVariables: await documentedVariables(path.join(REPO_ROOT, '.env.template')) };
    template = await readJsonObject(path.join(REPO_ROOT, 'deployment.template.json'));
    layered = await readJsonObject(path.join(LAYERED, 'edgeml.layered.json'));
    collector = await readJsonObject(path.join(LAYERED, 'metrics-collector.layered.json'));
  });

  it('edgeml.layered.json and metrics-collector.layered.json pass every check, without a warning', () => {
    assert.deepEqual(validateLayered(layered, ctx).map((p) => formatProblem(p)), []);
    assert.deepEqual(validateLayered(collector, ctx).map((p) => formatProblem(p)), []);
  });

  it('targets devices by tags, above the base deployment', () => {
    assert.match(layered['targetCondition'] as string, /^tags\.edgeml\.enabled=true\b/);
    assert.ok((layered['priority'] as number) > 0);
  });

  it('deploys exactly the modules, routes, registry credentials and twins of deployment.template.json', () => {
    const t = deploymentParts(template);
    const l = deploymentParts(layered);
    assert.ok(l.layered);
    for (const name of SUITE_MODULES) assert.deepEqual(l.modules.get(name)?.definition, t.modules.get(name)?.definition, name);
    assert.deepEqual([...l.modules.keys()].sort(), [...SUITE_MODULES].sort());
    assert.deepEqual(l.hubDesired?.['routes'], t.hubDesired?.['routes']);
    const agent = l.modulesContent?.['$edgeAgent'] as Json;
    assert.deepEqual(
      agent['properties.desired.runtime.settings.registryCredentials.edgeml'],
      (((t.agentDesired?.['runtime'] as Json)['settings'] as Json)['registryCredentials'] as Json)['edgeml'],
    );
    for (const name of SUITE_MODULES) assert.deepEqual(l.modulesContent?.[name], t.modulesContent?.[name]);
  });

  it('genconfig resolves a layered file like a template: images, secrets, chunked createOptions; routes untouched', () => {
    const r = generateManifest({
      template: layered,
      modules,
      platform: 'amd64',
      variables: { CONTAINER_REGISTRY_SERVER: 'acr.example.io', CONTAINER_REGISTRY_USERNAME: 'u', CONTAINER_REGISTRY_PASSWORD: 'p', EDGEML_STORAGE_CONNECTION_STRING: '', EDGEML_STORAGE_CONTAINER_SAS_URL: '', EDGEML_STORAGE_CONNECTION_STRING_FILE: '', EDGEML_STORAGE_CONTAINER_SAS_URL_FILE: '' },
    });
    assert.deepEqual(r.problems.map((p) => formatProblem(p)), []);
    assert.deepEqual(validateLayered(r.manifest, ctx).map((p) => formatProblem(p)), []);
    const agent = (r.manifest['content'] as Json)['modulesContent'] as Json;
    const watcher = (agent['$edgeAgent'] as Json)['properties.desired.modules.watcher'] as Json;
    assert.equal((watcher['settings'] as Json)['image'], 'acr.example.io/edgeml-watcher:0.1.0-amd64');
    assert.equal(typeof (watcher['settings'] as Json)['createOptions'], 'string');
    assert.match(((agent['$edgeHub'] as Json)['properties.desired.routes.inferencerResultsToUpstream'] as Json)['route'] as string, /INTO \$upstream$/);
  });

  it('a broken layered route fails, named by its layered key', () => {
    const doc = structuredClone(layered) as Json;
    const hub = ((doc['content'] as Json)['modulesContent'] as Json)['$edgeHub'] as Json;
    hub['properties.desired.routes.watcherFilesToTransformer'] = 'FROM /messages/modules/watcher/outputs/files INTO BrokeredEndpoint("/modules/transformer/inputs/file")';
    const problems = validateLayered(doc as JsonObject, ctx).map((p) => formatProblem(p)).join('\n');
    assert.match(problems, /\/content\/modulesContent\/\$edgeHub\/properties\.desired\.routes\.watcherFilesToTransformer: route "watcherFilesToTransformer" delivers to input "file" of module "transformer"/);
  });

  it('the metrics collector scrapes edgeHub, edgeAgent and every module on :9600/metrics', () => {
    const agent = ((collector['content'] as Json)['modulesContent'] as Json)['$edgeAgent'] as Json;
    const env = (agent['properties.desired.modules.metricscollector'] as Json)['env'] as Record<string, { value: string }>;
    const endpoints = env['MetricsEndpointsCSV']?.value.split(',') ?? [];
    for (const m of ['edgeHub', 'edgeAgent', ...SUITE_MODULES]) assert.ok(endpoints.includes(`http://${m}:9600/metrics`), m);
    assert.equal(env['LogAnalyticsSharedKey']?.value, '$EDGEML_LOG_ANALYTICS_SHARED_KEY', 'the key comes from .env');
  });
});
