import assert from 'node:assert/strict';
import path from 'node:path';
import {
  errorsOf,
  formatProblem,
  generateManifest,
  loadDeploymentSchemas,
  readJsonObject,
  readModuleSpecs,
  validateManifest,
  validateTemplate,
  type DeploymentSchemas,
  type JsonObject,
  type ModuleImageSpec,
  type Problem,
} from '@edgeml/deploy-tools';
import { REPO_ROOT, SCHEMAS_DIR } from './paths.js';

type Json = Record<string, unknown>;

const VARIABLES = {
  CONTAINER_REGISTRY_SERVER: 'edgemlacr.azurecr.io',
  CONTAINER_REGISTRY_USERNAME: 'pull-token',
  CONTAINER_REGISTRY_PASSWORD: 'not-a-real-password',
  EDGEML_STORAGE_CONNECTION_STRING: '',
  EDGEML_STORAGE_CONTAINER_SAS_URL: 'https://example.blob.core.windows.net/edgeml?sv=2024-11-04&sp=rcw&sig=redacted',
  EDGEML_STORAGE_CONNECTION_STRING_FILE: '',
  EDGEML_STORAGE_CONTAINER_SAS_URL_FILE: '',
};

function hub(doc: Json): Json {
  return ((doc['modulesContent'] as Json)['$edgeHub'] as Json)['properties.desired'] as Json;
}

function routes(doc: Json): Json {
  return hub(doc)['routes'] as Json;
}

function messages(problems: readonly Problem[]): string {
  return errorsOf(problems)
    .map((p) => formatProblem(p))
    .join('\n');
}

describe('deployment/tools validate', () => {
  let schemas: DeploymentSchemas;
  let template: JsonObject;
  let modules: ReadonlyMap<string, ModuleImageSpec>;
  const manifestOf = (doc: JsonObject): JsonObject => {
    const r = generateManifest({ template: doc, modules, platform: 'amd64', variables: VARIABLES });
    assert.deepEqual(messages(r.problems), '');
    return r.manifest;
  };
  before(async () => {
    schemas = await loadDeploymentSchemas(SCHEMAS_DIR);
    template = await readJsonObject(path.join(REPO_ROOT, 'deployment.template.json'));
    modules = await readModuleSpecs(path.join(REPO_ROOT, 'modules'));
  });

  it('accepts the manifest generated from the template (deployment 2.0 schema and every check)', () => {
    assert.equal(messages(validateManifest(manifestOf(template), { schemas })), '');
  });

  it('fails a route that does not compile, naming the route and the position', () => {
    const doc = structuredClone(template);
    routes(doc)['watcherFilesToTransformer'] = 'FROM /messages/modules/watcher/outputs/files WHERE sizeBytes > 10 INTO BrokeredEndpoint("/modules/transformer/inputs/files")';
    const problems = messages(validateManifest(manifestOf(doc), { schemas }));
    assert.match(problems, /\/routes\/watcherFilesToTransformer: route "watcherFilesToTransformer" does not compile: .*\(line 1, column \d+\)/);
    assert.match(messages(validateTemplate(doc, { schemas })), /route "watcherFilesToTransformer" does not compile/);
  });

  it('fails a route into an input the module does not declare, listing the inputs it does', () => {
    const doc = structuredClone(template);
    routes(doc)['transformerTensorsToInferencer'] = 'FROM /messages/modules/transformer/outputs/tensors INTO BrokeredEndpoint("/modules/inferencer/inputs/tensor")';
    assert.match(
      messages(validateManifest(manifestOf(doc), { schemas })),
      /route "transformerTensorsToInferencer" delivers to input "tensor" of module "inferencer", which declares no such input \(inputs: tensors\)/,
    );
  });

  it('fails a route from an undeclared output, and one naming a module that is not deployed', () => {
    const doc = structuredClone(template);
    routes(doc)['inferencerResultsToUploader'] = 'FROM /messages/modules/inferencer/outputs/result INTO BrokeredEndpoint("/modules/uploader/inputs/results")';
    routes(doc)['toFilter'] = 'FROM /messages/modules/watcher/outputs/files INTO BrokeredEndpoint("/modules/Transformer/inputs/files")';
    const problems = messages(validateManifest(manifestOf(doc), { schemas }));
    assert.match(problems, /route "inferencerResultsToUploader" reads output "result" of module "inferencer", which declares no such output \(outputs: results, orientations, readings, completed, alerts, rollout\)/);
    assert.match(problems, /route "toFilter" delivers to module "Transformer", which is neither deployed nor an EdgeML module \(did you mean "transformer"\? module ids are case-sensitive\)/);
  });

  it('warns about an output no route takes (edgeHub would drop its messages)', () => {
    const doc = structuredClone(template);
    delete routes(doc)['inferencerCompletedToWatcher'];
    const warnings = validateManifest(manifestOf(doc), { schemas }).filter((p) => p.severity === 'warning');
    assert.deepEqual(
      warnings.map((w) => w.message),
      ['output "completed" of module "inferencer" is not routed: edgeHub drops its messages'],
    );
  });

  it('fails placeholders and variables left in a manifest, naming each path', () => {
    const manifest = manifestOf(template) as Json;
    const agent = ((manifest['modulesContent'] as Json)['$edgeAgent'] as Json)['properties.desired'] as Json;
    ((agent['modules'] as Json)['watcher'] as Json)['settings'] = { image: '${MODULES.watcher}', createOptions: '{"Env":["A=${X}"]}' };
    (((agent['runtime'] as Json)['settings'] as Json)['registryCredentials'] as Json)['edgeml'] = { username: '$CONTAINER_REGISTRY_USERNAME', password: 'p', address: 'a' };
    const problems = messages(validateManifest(manifest as JsonObject, { schemas }));
    assert.match(problems, /\/modules\/watcher\/settings\/image: unresolved placeholder \$\{MODULES\.watcher\}/);
    assert.match(problems, /\/modules\/watcher\/settings\/createOptions: unresolved placeholder \$\{X\}/);
    assert.match(problems, /registryCredentials\/edgeml\/username: unresolved placeholder \$CONTAINER_REGISTRY_USERNAME/);
    assert.doesNotMatch(problems, /\$upstream/, 'route language is not a placeholder');
  });

  it('fails createOptions left as objects or chunked out of sequence in a manifest', () => {
    const manifest = manifestOf(template) as Json;
    const mods = ((((manifest['modulesContent'] as Json)['$edgeAgent'] as Json)['properties.desired'] as Json)['modules'] as Json);
    (mods['watcher'] as Json)['settings'] = { image: 'r/w:1-amd64', createOptions: { HostConfig: {} } };
    (mods['uploader'] as Json)['settings'] = { image: 'r/u:1-amd64', createOptions: '{"a":', createOptions02: '1}' };
    const problems = messages(validateManifest(manifest as JsonObject, { schemas }));
    assert.match(problems, /\/modules\/watcher\/settings\/createOptions: must be string \(azure-iot-edge-deployment-2.0\)/);
    assert.match(problems, /\/modules\/uploader\/settings: createOptions: chunk "createOptions02" is out of sequence/);
  });

  it('fails a $edgeHub without storeAndForwardConfiguration (edgeHub rejects it from schema 1.1 on)', () => {
    const manifest = manifestOf(template) as Json;
    delete hub(manifest)['storeAndForwardConfiguration'];
    assert.match(messages(validateManifest(manifest as JsonObject, { schemas })), /edgeHub requires storeAndForwardConfiguration with schemaVersion 1\.2/);
  });

  it('fails a twin section for a module the deployment does not run', () => {
    const doc = structuredClone(template) as Json;
    (doc['modulesContent'] as Json)['uplaoder'] = { 'properties.desired': {} };
    assert.match(messages(validateTemplate(doc as JsonObject, { schemas })), /\/modulesContent\/uplaoder: twin section for "uplaoder", which this deployment does not run/);
  });
});
