import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { compileRoutes } from '@edgeml/edge-hub';
import {
  compileEdgeHubRoutes,
  deploymentParts,
  documentedVariables,
  formatProblem,
  loadDeploymentSchemas,
  readJsonObject,
  readModuleSpecs,
  validateTemplate,
  variableReferences,
  type DeploymentSchemas,
  type JsonObject,
  type ValidateContext,
} from '@edgeml/deploy-tools';
import { REPO_ROOT, SCHEMAS_DIR, SUITE_MODULES } from './paths.js';

type Json = Record<string, unknown>;

describe('deployment templates', () => {
  let schemas: DeploymentSchemas;
  let template: JsonObject;
  let debugTemplate: JsonObject;
  let ctx: ValidateContext;
  before(async () => {
    schemas = await loadDeploymentSchemas(SCHEMAS_DIR);
    template = await readJsonObject(path.join(REPO_ROOT, 'deployment.template.json'));
    debugTemplate = await readJsonObject(path.join(REPO_ROOT, 'deployment.debug.template.json'));
    ctx = { schemas, modules: await readModuleSpecs(path.join(REPO_ROOT, 'modules')), documentedVariables: await documentedVariables(path.join(REPO_ROOT, '.env.template')) };
  });

  it('loads every official schema file vendored in deployment/tools/schemas', () => {
    assert.equal(schemas.files.length, 11);
    assert.equal(path.dirname(schemas.files[0]!), path.join(REPO_ROOT, 'deployment', 'tools', 'schemas'));
  });

  it('the vendored schemas are the unmodified copies their README lists (sha256), with the licence beside them', async () => {
    const readme = await readFile(path.join(SCHEMAS_DIR, 'README.md'), 'utf8');
    const listed = new Map([...readme.matchAll(/^([0-9a-f]{64}) {2}(\S+\.json)$/gm)].map((m) => [m[2]!, m[1]!]));
    assert.equal(listed.size, 11);
    for (const file of schemas.files) {
      const digest = createHash('sha256').update(await readFile(file)).digest('hex');
      assert.equal(digest, listed.get(path.basename(file)), `${path.basename(file)} differs from the SchemaStore copy`);
    }
    assert.match(await readFile(path.join(SCHEMAS_DIR, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
  });

  for (const name of ['deployment.template.json', 'deployment.debug.template.json']) {
    it(`${name} runs IoT Edge 1.6 LTS (agent and hub images) with the schema versions 1.6 accepts`, () => {
      const content = (name === 'deployment.template.json' ? template : debugTemplate)['modulesContent'] as Json;
      const agent = (content['$edgeAgent'] as Json)['properties.desired'] as Json;
      const system = agent['systemModules'] as Record<string, { settings: { image: string } }>;
      assert.equal(system['edgeAgent']!.settings.image, 'mcr.microsoft.com/azureiotedge-agent:1.6');
      assert.equal(system['edgeHub']!.settings.image, 'mcr.microsoft.com/azureiotedge-hub:1.6');
      // edgeAgent 1.6 rejects a schemaVersion above 1.1 (InvalidSchemaVersion); edgeHub 1.6 accepts 1.0–1.3.
      assert.equal(agent['schemaVersion'], '1.1');
      assert.equal(((content['$edgeHub'] as Json)['properties.desired'] as Json)['schemaVersion'], '1.2');
    });
  }

  for (const name of ['deployment.template.json', 'deployment.debug.template.json']) {
    it(`${name} validates against template 4.0 and passes every suite check, without a warning`, () => {
      const doc = name === 'deployment.template.json' ? template : debugTemplate;
      const problems = validateTemplate(doc, ctx);
      assert.deepEqual(problems.map((p) => formatProblem(p)), []);
    });
  }

  it('the schema check is real: a template without $edgeAgent runtime fails it', () => {
    const broken = structuredClone(template) as Json;
    delete ((broken['modulesContent'] as Json)['$edgeAgent'] as Json)['properties.desired'];
    assert.ok(schemas.validateTemplate(broken).some((p) => /must have required property 'properties.desired'/.test(p.message)));
  });

  it('routes every arrow of the flow, and nothing else', () => {
    const compiled = compileEdgeHubRoutes(deploymentParts(template).hubDesired);
    assert.ok(compiled.ok);
    const arrows = compiled.endpoints.map((e) => {
      assert.equal(e.source.kind, 'output', `route ${e.routeName} reads a single output`);
      const from = e.source.kind === 'output' ? `${e.source.moduleId}/${e.source.outputName}` : '?';
      const to = e.sink.kind === 'upstream' ? '$upstream' : `${e.sink.moduleId}/${e.sink.inputName}`;
      return `${from} -> ${to}`;
    });
    assert.deepEqual(
      [...new Set(arrows)].sort(),
      [
        'watcher/files -> transformer/files',
        'transformer/tensors -> inferencer/tensors',
        'transformer/artifacts -> uploader/artifacts',
        'inferencer/results -> $upstream',
        'inferencer/results -> uploader/results',
        'inferencer/rollout -> $upstream',
        // The bundled inference chain (OCR): detection → crops → orientation → recognition → one result per file.
        'inferencer/results -> transformer/detections',
        'inferencer/orientations -> transformer/orientations',
        'inferencer/readings -> aggregator/readings',
        'transformer/crops -> aggregator/crops',
        'aggregator/results -> $upstream',
        'aggregator/results -> uploader/results',
        'aggregator/completed -> watcher/completed',
        'aggregator/alerts -> $upstream',
        'uploader/completed -> watcher/completed',
        'uploader/hardExamples -> $upstream',
        'transformer/completed -> watcher/completed',
        'inferencer/completed -> watcher/completed',
        'watcher/alerts -> $upstream',
        'transformer/alerts -> $upstream',
        'inferencer/alerts -> $upstream',
        'uploader/alerts -> $upstream',
      ].sort(),
    );
  });

  it('sends high-confidence results upstream first (priority 0) and the rest at priority 1, once each', () => {
    const table = compileRoutes(deploymentParts(template).hubDesired);
    const result = (score: string) =>
      table.match({
        source: { kind: 'telemetry', deviceId: 'edge-1', moduleId: 'inferencer', outputName: 'results' },
        systemProperties: { connectionDeviceId: 'edge-1', connectionModuleId: 'inferencer', outputName: 'results' },
        properties: { schema: 'edgeml.inference.result/v1', score },
        body: new Uint8Array(),
      });
    const upstream = (score: string) => result(score).filter((m) => m.endpoint.kind === 'upstream');
    assert.deepEqual(upstream('0.97').map((m) => [m.routeName, m.priority]), [['highConfidenceResultsToUpstream', 0]]);
    assert.deepEqual(upstream('0.42').map((m) => [m.routeName, m.priority]), [['inferencerResultsToUpstream', 1]]);
    assert.deepEqual(upstream('not-a-number').map((m) => m.priority), [1]);
    assert.deepEqual(result('0.97').filter((m) => m.endpoint.kind === 'module').map((m) => m.endpoint.id).sort(), ['transformer/detections', 'uploader/results'], 'and to the uploader (and to the transformer, for inference chains)');
  });

  it('gives alerts priority 0 on $upstream so a stream of results cannot starve them', () => {
    const routes = deploymentParts(template).hubDesired?.['routes'] as Json;
    for (const m of SUITE_MODULES) assert.equal((routes[`${m}AlertsToUpstream`] as Json)['priority'], 0);
  });

  it('runs each module with the /data bind, port 9600, log rotation, EDGEML_DATA_ROOT and a startup order', () => {
    const parts = deploymentParts(template);
    const orders: number[] = [];
    for (const name of SUITE_MODULES) {
      const m = parts.modules.get(name)?.definition as Json;
      assert.ok(m, `module ${name} is deployed`);
      assert.equal(m['restartPolicy'], 'always');
      assert.equal(m['status'], 'running');
      orders.push(m['startupOrder'] as number);
      const settings = m['settings'] as Json;
      assert.equal(settings['image'], `\${MODULES.${name}}`);
      const co = settings['createOptions'] as Json;
      const host = co['HostConfig'] as Json;
      assert.deepEqual(host['Binds'], ['/srv/edgeml:/data']);
      assert.deepEqual(co['ExposedPorts'], { '9600/tcp': {} });
      assert.deepEqual(host['LogConfig'], { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '5' } });
      assert.deepEqual((m['env'] as Json)['EDGEML_DATA_ROOT'], { value: '/data' });
    }
    assert.equal(new Set(orders).size, SUITE_MODULES.length, 'distinct startup orders');
    const byOrder = [...SUITE_MODULES].sort((a, b) => orders[SUITE_MODULES.indexOf(a)]! - orders[SUITE_MODULES.indexOf(b)]!);
    assert.deepEqual(byOrder, ['uploader', 'aggregator', 'inferencer', 'transformer', 'watcher'], 'consumers start before producers');
    const inferencerHost = ((parts.modules.get('inferencer')?.definition['settings'] as Json)['createOptions'] as Json)['HostConfig'] as Json;
    assert.deepEqual(inferencerHost['DeviceRequests'], [{ Driver: '', Count: -1, Capabilities: [['gpu']] }]);
    assert.ok((inferencerHost['ShmSize'] as number) >= 256 * 1024 * 1024);
  });

  it('passes secrets only as $VARIABLES, each documented in .env.template', async () => {
    const documented = await documentedVariables(path.join(REPO_ROOT, '.env.template'));
    const parts = deploymentParts(template);
    for (const [name, m] of parts.modules) {
      for (const [key, entry] of Object.entries((m.definition['env'] as Json | undefined) ?? {})) {
        const value = (entry as Json)['value'];
        if (/CONNECTION_STRING|SAS|KEY|SECRET|PASSWORD|TOKEN/.test(key)) assert.equal(value, `$${key}`, `${name} env ${key} must be a variable`);
      }
    }
    const used: string[] = [];
    const collect = (value: unknown, inRoutes: boolean): void => {
      if (typeof value === 'string' && !inRoutes) used.push(...variableReferences(value));
      else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) collect(v, inRoutes || k === 'routes');
    };
    collect(template, false);
    assert.ok(used.length >= 5);
    for (const v of used) assert.ok(documented.has(v), `.env.template documents ${v}`);
    for (const v of ['EDGEML_STORAGE_CONNECTION_STRING', 'EDGEML_STORAGE_CONTAINER_SAS_URL', 'EDGEML_STORAGE_CONNECTION_STRING_FILE', 'EDGEML_STORAGE_CONTAINER_SAS_URL_FILE', 'CONTAINER_REGISTRY_SERVER', 'CONTAINER_REGISTRY_USERNAME', 'CONTAINER_REGISTRY_PASSWORD']) {
      assert.ok(documented.has(v), `.env.template documents ${v}`);
    }
    const envTemplate = await readFile(path.join(REPO_ROOT, '.env.template'), 'utf8');
    assert.doesNotMatch(envTemplate, /AccountKey=[A-Za-z0-9+/]{20,}|sig=[A-Za-z0-9%]{20,}/, '.env.template holds no real secret');
  });

  it('the debug template is the template plus debug images, the inspector port on loopback and debug logs', () => {
    const expected = structuredClone(template) as Json;
    const ports: Record<string, string> = { watcher: '9229', transformer: '9230', inferencer: '9231', uploader: '9232', aggregator: '9233' };
    const modules = (((expected['modulesContent'] as Json)['$edgeAgent'] as Json)['properties.desired'] as Json)['modules'] as Json;
    for (const name of SUITE_MODULES) {
      const m = modules[name] as Json;
      const settings = m['settings'] as Json;
      settings['image'] = `\${MODULES.${name}.debug}`;
      const co = settings['createOptions'] as Json;
      (co['ExposedPorts'] as Json)['9229/tcp'] = {};
      (co['HostConfig'] as Json)['PortBindings'] = { '9229/tcp': [{ HostIp: '127.0.0.1', HostPort: ports[name] }] };
      (m['env'] as Json)['EDGEML_LOG_LEVEL'] = { value: 'debug' };
    }
    assert.deepEqual(debugTemplate, expected);
  });

  it('gives each module a default twin that is an object (the module engineers own its keys)', () => {
    const content = template['modulesContent'] as Json;
    for (const name of SUITE_MODULES) assert.equal(typeof (content[name] as Json)['properties.desired'], 'object');
  });

  it('module.json: version = package.json version, platforms name Dockerfiles that exist, context = repository root', async () => {
    const specs = await readModuleSpecs(path.join(REPO_ROOT, 'modules'));
    assert.deepEqual([...specs.keys()].sort(), [...SUITE_MODULES].sort());
    for (const name of SUITE_MODULES) {
      const spec = specs.get(name)!;
      const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, 'modules', name, 'package.json'), 'utf8')) as Json;
      assert.equal(spec.version, pkg['version'], `${name} module.json version`);
      assert.equal(spec.repository, `\${CONTAINER_REGISTRY_SERVER}/edgeml-${name}`);
      assert.deepEqual(Object.keys(spec.platforms).sort(), ['amd64', 'amd64.debug', 'arm64v8']);
      for (const dockerfile of Object.values(spec.platforms)) assert.ok(existsSync(path.join(REPO_ROOT, 'modules', name, dockerfile)), `${name}/${dockerfile}`);
      assert.equal(path.resolve(REPO_ROOT, 'modules', name, spec.contextPath), REPO_ROOT);
    }
  });
});
