import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  deploymentParts,
  formatProblem,
  joinCreateOptions,
  readJsonObject,
  runGenconfig,
  runValidate,
  validateFiles,
  type CliIo,
  type JsonObject,
} from '@edgeml/deploy-tools';
import { REPO_ROOT, SCHEMAS_DIR, SUITE_MODULES } from '../../unit/deployment/paths.js';

const run = promisify(execFile);
type Json = Record<string, unknown>;

const DOT_ENV = [
  'CONTAINER_REGISTRY_SERVER=EdgeMLacr.azurecr.io',
  'CONTAINER_REGISTRY_USERNAME=pull-token',
  'CONTAINER_REGISTRY_PASSWORD="p@ss;word\\"quoted"',
  'EDGEML_STORAGE_CONNECTION_STRING=',
  'EDGEML_STORAGE_CONTAINER_SAS_URL=https://example.blob.core.windows.net/edgeml?sv=2024-11-04&sp=rcw&sig=redacted',
  'EDGEML_STORAGE_CONNECTION_STRING_FILE=',
  'EDGEML_STORAGE_CONTAINER_SAS_URL_FILE=',
  '',
].join('\n');

function capture(cwd: string, env: Record<string, string | undefined> = {}): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { cwd, env, out: (l) => lines.push(l), err: (l) => errors.push(l), lines, errors };
}

describe('deployment genconfig → validate (files, CLI)', function () {
  this.timeout(60_000);
  let dir: string;
  let envFile: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-genconfig-'));
    envFile = path.join(dir, 'test.env');
    await writeFile(envFile, DOT_ENV);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const generate = async (args: string[], env: Record<string, string | undefined> = {}) => {
    const io = capture(REPO_ROOT, env);
    const code = await runGenconfig(['--out', dir, '--env-file', envFile, ...args], io);
    return { code, io };
  };

  it('writes deployment.amd64.json that validates against deployment 2.0 and every route/placeholder/chunk check', async () => {
    const { code, io } = await generate([], { CONTAINER_REGISTRY_USERNAME: 'from-environment' });
    assert.equal(code, 0, io.errors.join('\n'));
    const file = path.join(dir, 'deployment.amd64.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600, 'the manifest holds secrets: owner-only');
    const [report] = await validateFiles({ root: REPO_ROOT, files: [file], schemasDir: SCHEMAS_DIR });
    assert.ok(report);
    assert.equal(report.kind, 'manifest');
    assert.deepEqual(report.problems.map((p) => formatProblem(p)), []);

    const manifest = await readJsonObject(file);
    assert.ok(!('$schema-template' in manifest));
    const parts = deploymentParts(manifest);
    const credentials = ((parts.agentDesired?.['runtime'] as Json)['settings'] as Json)['registryCredentials'] as Json;
    assert.deepEqual(credentials['edgeml'], { username: 'from-environment', password: 'p@ss;word"quoted', address: 'EdgeMLacr.azurecr.io' });
    for (const name of SUITE_MODULES) {
      const m = parts.modules.get(name)?.definition as Json;
      assert.equal((m['settings'] as Json)['image'], `edgemlacr.azurecr.io/edgeml-${name}:0.1.0-amd64`);
    }
    const uploaderEnv = parts.modules.get('uploader')?.definition['env'] as Json;
    assert.deepEqual(uploaderEnv['EDGEML_STORAGE_CONNECTION_STRING'], { value: '' });
    assert.match(JSON.stringify(uploaderEnv['EDGEML_STORAGE_CONTAINER_SAS_URL']), /sig=redacted/);
  });

  it('createOptions chunks join back to exactly the template objects', async () => {
    const template = await readJsonObject(path.join(REPO_ROOT, 'deployment.template.json'));
    const manifest = await readJsonObject(path.join(dir, 'deployment.amd64.json'));
    const t = deploymentParts(template);
    const g = deploymentParts(manifest);
    for (const [name, m] of t.modules) {
      const expected = (m.definition['settings'] as Json)['createOptions'];
      const settings = g.modules.get(name)?.definition['settings'] as JsonObject;
      for (const [key, value] of Object.entries(settings)) if (key.startsWith('createOptions')) assert.equal(typeof value, 'string', `${name}.${key}`);
      const joined = joinCreateOptions(settings);
      assert.deepEqual(joined.problems, []);
      assert.deepEqual(joined.options, expected, name);
    }
  });

  it('--platform arm64v8 writes deployment.arm64v8.json with arm64v8 images and no GPU request', async () => {
    const { code, io } = await generate(['--platform', 'arm64v8']);
    assert.equal(code, 0, io.errors.join('\n'));
    assert.ok(io.lines.some((l) => /inferencer: removed HostConfig\.DeviceRequests \(no GPU on arm64v8\)/.test(l)), io.lines.join('\n'));
    const file = path.join(dir, 'deployment.arm64v8.json');
    const [report] = await validateFiles({ root: REPO_ROOT, files: [file], schemasDir: SCHEMAS_DIR });
    assert.deepEqual(report?.problems.map((p) => formatProblem(p)), []);
    const parts = deploymentParts(await readJsonObject(file));
    const inferencer = parts.modules.get('inferencer')?.definition['settings'] as JsonObject;
    assert.equal(inferencer['image'], 'edgemlacr.azurecr.io/edgeml-inferencer:0.1.0-arm64v8');
    const host = joinCreateOptions(inferencer).options?.['HostConfig'] as Json;
    assert.equal(host['DeviceRequests'], undefined);
    assert.ok(host['ShmSize'] !== undefined, 'the shared-memory size stays');
  });

  it('the debug template resolves ${MODULES.x.debug} to the amd64.debug images', async () => {
    const { code, io } = await generate(['--template', 'deployment.debug.template.json']);
    assert.equal(code, 0, io.errors.join('\n'));
    const parts = deploymentParts(await readJsonObject(path.join(dir, 'deployment.debug.amd64.json')));
    assert.equal((parts.modules.get('watcher')?.definition['settings'] as Json)['image'], 'edgemlacr.azurecr.io/edgeml-watcher:0.1.0-amd64.debug');
    const noDebugArm = await generate(['--template', 'deployment.debug.template.json', '--platform', 'arm64v8']);
    assert.equal(noDebugArm.code, 1);
    assert.match(noDebugArm.io.errors.join('\n'), /has no platform "arm64v8\.debug"/);
  });

  it('refuses to write a manifest with an unset variable, naming it and where it is used', async () => {
    const bare = path.join(dir, 'bare.env');
    await writeFile(bare, 'CONTAINER_REGISTRY_SERVER=localhost:5000\nCONTAINER_REGISTRY_USERNAME=\nCONTAINER_REGISTRY_PASSWORD=\n');
    const io = capture(REPO_ROOT, {});
    const out = path.join(dir, 'bare');
    const code = await runGenconfig(['--out', out, '--env-file', bare], io);
    assert.equal(code, 1);
    const text = io.errors.join('\n');
    assert.match(text, /\/modules\/uploader\/env\/EDGEML_STORAGE_CONNECTION_STRING\/value: \$EDGEML_STORAGE_CONNECTION_STRING is not set in the environment or \.env/);
    assert.match(text, /not written/);
    await assert.rejects(stat(path.join(out, 'deployment.amd64.json')), /ENOENT/);
  });

  it('npm run validate (the bin entry) exits 1 naming a broken route and an unknown input; 0 for a good manifest', async () => {
    const manifest = await readJsonObject(path.join(dir, 'deployment.amd64.json'));
    const routes = deploymentParts(manifest).hubDesired?.['routes'] as Json;
    routes['watcherFilesToTransformer'] = 'FROM /messages/modules/watcher/outputs/files INTO';
    routes['uploaderCompletedToWatcher'] = 'FROM /messages/modules/uploader/outputs/completed INTO BrokeredEndpoint("/modules/watcher/inputs/complete")';
    const broken = path.join(dir, 'broken.json');
    await writeFile(broken, JSON.stringify(manifest));
    const bin = path.join('deployment', 'tools', 'src', 'bin', 'validate.ts');
    const args = ['--import', 'tsx', '--conditions=@edgeml/source', bin];
    const failed = await run(process.execPath, [...args, broken], { cwd: REPO_ROOT }).then(
      () => assert.fail('validate accepted a broken manifest'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /routes\/watcherFilesToTransformer: route "watcherFilesToTransformer" does not compile/);
    assert.match(failed.stderr, /route "uploaderCompletedToWatcher" delivers to input "complete" of module "watcher", which declares no such input \(inputs: completed, shareEvents\)/);
    const ok = await run(process.execPath, [...args, path.join(dir, 'deployment.amd64.json')], { cwd: REPO_ROOT });
    assert.match(ok.stdout, /deployment\.amd64\.json \(manifest\): valid/);
  });

  it('validate with no arguments checks both templates', async () => {
    const io = capture(REPO_ROOT);
    const code = await runValidate([], io);
    assert.ok(io.lines.some((l) => l === 'deployment.template.json (template): valid'), [...io.lines, ...io.errors].join('\n'));
    assert.ok(io.lines.some((l) => l === 'deployment.debug.template.json (template): valid'));
    // deployment/config may hold a manifest the developer generated; only the templates are asserted here.
    assert.ok(code === 0 || io.errors.every((l) => l.startsWith(path.join('deployment', 'config'))), io.errors.join('\n'));
  });
});
