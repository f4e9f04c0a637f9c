/**
 * The other side of the loop: Azure ML's ModelRegistered event → the function's handler → the
 * inferencer's module twin, tested against the local edge hub's twin API (the control API of
 * `startLocalHub`, the same one `npx edgeml hub` serves) and a real registry: the artifact is
 * pinned by digest (resolved from its tag, or taken from the model's oci_digest tag), as a shadow
 * rollout, a direct switch, or a layered deployment; an artifact not pushed yet is an error
 * Event Grid retries. The script form (`npm run model-registered`) runs the same handler.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { handleModelRegistered, localHubTarget, parseModelRegistered, settingsFromEnv, MODEL_REGISTERED_TYPE } from '@edgeml/deploy-tools';
import { startLocalHub, type LocalHub } from '@edgeml/runtime';
import { createLogger, errorCode } from '@edgeml/shared';
import { writeColourPackage } from '../../helpers/colour-model.js';
import { runEdgeml, startTestRegistry, type TestRegistry } from '../../helpers/registry.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

const event = (name: string, version: string, tags: Record<string, string> = {}): Record<string, unknown> => ({
  id: `evt-${name}-${version}`,
  topic: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws',
  subject: `models/${name}:${version}`,
  eventType: MODEL_REGISTERED_TYPE,
  eventTime: '2026-11-24T12:00:00Z',
  data: { modelName: name, modelVersion: version, modelTags: tags, modelProperties: {} },
  dataVersion: '2',
  metadataVersion: '1',
});

describe('ModelRegistered → module twin (the function, against the local hub)', function () {
  this.timeout(120_000);
  let registry: TestRegistry;
  let hub: LocalHub;
  let work: string;
  let digest: string;

  before(async () => {
    registry = await startTestRegistry();
    work = await mkdtemp(path.join(tmpdir(), 'edgeml-model-registered-'));
    hub = await startLocalHub({ workDir: path.join(work, 'hub'), manifestFile: path.join(repoRoot, 'deployment.template.json'), env: { ...process.env }, logger, hubPort: 0 });
    const pushed = await runEdgeml(['model', 'push', await writeColourPackage(work, '7'), '--registry', registry.host, '--repository', 'edgeml/models/colour-cls', '--tag', '7']);
    assert.equal(pushed.code, 0, pushed.stderr);
    digest = pushed.json!['digest'] as string;
  });
  after(async () => {
    await hub?.stop();
    await registry?.close();
    await rm(work, { recursive: true, force: true });
  });

  const desired = (): Record<string, unknown> => hub.hub.getTwin('inferencer').desired;
  const settings = (extra: Record<string, string> = {}) => settingsFromEnv({ EDGEML_REGISTRY_SERVER: registry.host, ...extra });

  it('resolves the model version tag to a digest and puts the model beside the live one as a shadow rollout', async () => {
    const outcome = await handleModelRegistered(parseModelRegistered(event('colour-cls', '7')), { settings: settings({ EDGEML_ROLLOUT_SETTINGS: '{"fraction":0.25,"minItems":300}' }), target: localHubTarget(hub.controlUrl), env: {}, logger });
    const artifact = `${registry.host}/edgeml/models/colour-cls@${digest}`;
    assert.equal(outcome.artifact, artifact);
    assert.deepEqual(outcome.devices, ['local']);
    assert.deepEqual((desired()['rollout'] as Record<string, unknown>)['cls'], { fraction: 0.25, minItems: 300, mode: 'shadow', candidate: { name: 'colour-cls', version: '7', artifact } });
    assert.equal((desired()['models'] as Record<string, unknown> | undefined)?.['cls'], undefined, 'the live model is untouched (the manifest leaves it to the default)');
  });

  it("takes the digest from the model's oci_digest tag; direct mode switches models.<profile>; layered mode writes the same desired properties", async () => {
    const direct = await handleModelRegistered(parseModelRegistered(event('colour-cls', '7', { oci_digest: digest, edgeml_profile: 'cls' })), { settings: settings({ EDGEML_ROLLOUT_MODE: 'direct' }), target: localHubTarget(hub.controlUrl), env: {}, logger });
    assert.deepEqual((desired()['models'] as Record<string, unknown>)['cls'], { name: 'colour-cls', version: '7', artifact: direct.artifact });
    const layered = await handleModelRegistered(parseModelRegistered(event('colour-cls', '7')), { settings: settings({ EDGEML_TARGET_MODE: 'layered', EDGEML_ROLLOUT_MODE: 'canary' }), target: localHubTarget(hub.controlUrl), env: {}, logger });
    assert.equal(layered.layeredDeployment, 'edgeml-model-colour-cls-7');
    assert.equal(((desired()['rollout'] as Record<string, { mode: string }>)['cls'])!.mode, 'canary');
  });

  it('an artifact not in the registry yet is REGISTRY_NOT_FOUND (the function throws; Event Grid delivers again); other events are refused', async () => {
    await assert.rejects(handleModelRegistered(parseModelRegistered(event('colour-cls', '8')), { settings: settings(), target: localHubTarget(hub.controlUrl), env: {}, logger }), (err: unknown) => errorCode(err) === 'REGISTRY_NOT_FOUND');
    assert.throws(() => parseModelRegistered({ ...event('x', '1'), eventType: 'Microsoft.MachineLearningServices.RunCompleted' }), (err: unknown) => errorCode(err) === 'MESSAGE_INVALID');
  });

  it('runs as a script against the local hub of a work folder (npm run model-registered)', async () => {
    const file = path.join(work, 'event.json');
    await writeFile(file, JSON.stringify([event('colour-cls', '7')]));
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@edgeml/source', path.join(repoRoot, 'deployment/tools/src/bin/model-registered.ts'), '--event', file, '--local', path.join(work, 'hub')], {
      cwd: repoRoot,
      env: { ...process.env, EDGEML_REGISTRY_SERVER: registry.host, EDGEML_ROLLOUT_MODE: 'shadow', EDGEML_ROLLOUT_SETTINGS: '{"minItems":50}' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, err);
    assert.equal((JSON.parse(out.trim().split('\n').at(-1)!) as { artifact: string }).artifact, `${registry.host}/edgeml/models/colour-cls@${digest}`);
    assert.equal(((desired()['rollout'] as Record<string, { minItems: number; mode: string }>)['cls'])!.minItems, 50);
  });
});
