/**
 * `edgeml model push|pull|inspect` against the real distribution registry: provenance on the
 * artifact, credentials from EDGEML_REGISTRY_* or the manifest's CONTAINER_REGISTRY_*, an OCI layout
 * for air-gapped devices, an artifact laid out the way `oras push` does it, and clear failures.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ANNOTATIONS, EMPTY_DESCRIPTOR, OCI_MEDIA_TYPES } from '@edgeml/shared';
import { unaryModel } from '../../helpers/onnx.js';
import { digestOf, rawOci, runEdgeml, startTestRegistry, writePackageDir, type TestRegistry } from '../../helpers/registry.js';

const model = unaryModel('Identity', ['N', 4]);
const manifest = {
  name: 'tiny',
  version: '3',
  inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }],
  preprocessing: { profile: 'vec', signature: 'pp1-vec-test' },
  postprocessor: { kind: 'classification', topK: 2 },
  labels: ['a', 'b', 'c', 'd'],
};

describe('edgeml model push | pull | inspect', function () {
  this.timeout(60_000);
  let registry: TestRegistry;
  let secured: TestRegistry;
  let work: string;

  before(async () => {
    [registry, secured] = await Promise.all([startTestRegistry(), startTestRegistry({ auth: { username: 'ci', password: 'pa55' } })]);
    work = await mkdtemp(path.join(tmpdir(), 'edgeml-cli-model-'));
  });
  after(async () => {
    await Promise.all([registry?.close(), secured?.close()]);
    await rm(work, { recursive: true, force: true });
  });

  it('pushes a folder with provenance, inspects it, pulls it by digest and as an OCI layout', async () => {
    // As `az ml model download` lays it out: <download-path>/<model name>/<files>.
    await writePackageDir(path.join(work, 'download', 'tiny'), model, manifest);
    const pushed = await runEdgeml(['model', 'push', path.join(work, 'download'), '--registry', registry.host, '--repository', 'edgeml/models/tiny', '--tag', '3', '--azureml-model', 'tiny:3', '--dataset', 'edge-images:12', '--revision', 'f00d', '--annotation', 'team=vision']);
    assert.equal(pushed.code, 0, pushed.stderr);
    const digest = pushed.json!['digest'] as string;
    assert.equal(pushed.json!['reference'], `${registry.host}/edgeml/models/tiny@${digest}`);
    const annotations = pushed.json!['annotations'] as Record<string, string>;
    assert.equal(annotations[ANNOTATIONS.azuremlModel], 'tiny:3');
    assert.equal(annotations[ANNOTATIONS.dataset], 'edge-images:12');
    assert.equal(annotations[ANNOTATIONS.revision], 'f00d');
    assert.equal(annotations['team'], 'vision');
    assert.equal(annotations[ANNOTATIONS.modelSha256], digestOf(model).slice(7));

    const inspected = await runEdgeml(['model', 'inspect', `${registry.host}/edgeml/models/tiny:3`]);
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.equal(inspected.json!['digest'], digest);
    const m = inspected.json!['model'] as Record<string, unknown>;
    assert.deepEqual(m['labels'], manifest.labels);
    assert.deepEqual(m['provenance'], { azureml: { modelName: 'tiny', modelVersion: '3' }, dataset: { name: 'edge-images', version: '12' }, gitRevision: 'f00d' });

    const out = path.join(work, 'pulled');
    const pulled = await runEdgeml(['model', 'pull', `${registry.host}/edgeml/models/tiny@${digest}`, '--output', out]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.deepEqual(await readFile(path.join(out, 'model.onnx')), model);
    assert.equal(JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8')).sha256, digestOf(model).slice(7));

    const tar = path.join(work, 'tiny.tar');
    const exported = await runEdgeml(['model', 'pull', `${registry.host}/edgeml/models/tiny:3`, '--oci-layout', tar]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(exported.json!['digest'], digest);
    assert.ok((await stat(tar)).size > model.length);
  });

  it('takes credentials from EDGEML_REGISTRY_* or from CONTAINER_REGISTRY_* for that server; none → REGISTRY_UNAUTHORIZED', async () => {
    const dir = await writePackageDir(path.join(work, 'secure'), model, manifest);
    const args = ['model', 'push', dir, '--registry', secured.host, '--repository', 'edgeml/models/tiny', '--tag', 'ci'];
    const none = await runEdgeml(args);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /REGISTRY_UNAUTHORIZED/);
    const edgeml = await runEdgeml(args, { EDGEML_REGISTRY_USERNAME: 'ci', EDGEML_REGISTRY_PASSWORD: 'pa55' });
    assert.equal(edgeml.code, 0, edgeml.stderr);
    const manifestEnv = await runEdgeml(['model', 'inspect', `${secured.host}/edgeml/models/tiny:ci`], { CONTAINER_REGISTRY_SERVER: secured.host, CONTAINER_REGISTRY_USERNAME: 'ci', CONTAINER_REGISTRY_PASSWORD: 'pa55' });
    assert.equal(manifestEnv.code, 0, manifestEnv.stderr);
    const otherServer = await runEdgeml(['model', 'inspect', `${secured.host}/edgeml/models/tiny:ci`], { CONTAINER_REGISTRY_SERVER: 'elsewhere.azurecr.io', CONTAINER_REGISTRY_USERNAME: 'ci', CONTAINER_REGISTRY_PASSWORD: 'pa55' });
    assert.equal(otherServer.code, 1, 'credentials of another server are not sent');
  });

  it('pulls an artifact laid out as `oras push` writes it (default layer type, files by title)', async () => {
    const raw = rawOci(registry.url);
    const m = await raw.pushBlob('edgeml/models/oras', model);
    const manifestBytes = Buffer.from(JSON.stringify({ schema: 'edgeml.model-manifest/v1', ...manifest }));
    const j = await raw.pushBlob('edgeml/models/oras', manifestBytes);
    await raw.pushBlob('edgeml/models/oras', Buffer.from('{}'));
    const digest = await raw.pushManifest('edgeml/models/oras', 'v1', {
      schemaVersion: 2,
      mediaType: OCI_MEDIA_TYPES.manifest,
      artifactType: 'application/vnd.unknown.artifact.v1',
      config: EMPTY_DESCRIPTOR,
      layers: [
        { mediaType: OCI_MEDIA_TYPES.layerTar, ...m, annotations: { [ANNOTATIONS.title]: 'model.onnx' } },
        { mediaType: OCI_MEDIA_TYPES.layerTar, ...j, annotations: { [ANNOTATIONS.title]: 'manifest.json' } },
      ],
      annotations: { [ANNOTATIONS.created]: '2026-11-24T12:00:00Z' },
    });
    const out = path.join(work, 'oras');
    const pulled = await runEdgeml(['model', 'pull', `${registry.host}/edgeml/models/oras:v1`, '--output', out]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(pulled.json!['digest'], digest);
    assert.deepEqual(await readFile(path.join(out, 'model.onnx')), model);
  });

  it('refuses bad input with clear codes and usage errors', async () => {
    const wrongSha = await writePackageDir(path.join(work, 'wrong'), model, { ...manifest, sha256: '0'.repeat(64) });
    const bad = await runEdgeml(['model', 'push', wrongSha, '--registry', registry.host, '--repository', 'edgeml/models/tiny', '--tag', 'x']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /MODEL_INVALID/);
    const missingTag = await runEdgeml(['model', 'inspect', `${registry.host}/edgeml/models/tiny:no-such-tag`]);
    assert.equal(missingTag.code, 1);
    assert.match(missingTag.stderr, /REGISTRY_NOT_FOUND/);
    const empty = await runEdgeml(['model', 'push', work, '--registry', registry.host, '--repository', 'edgeml/models/tiny', '--tag', 'x']);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /ARTIFACT_INVALID|more than one model folder/);
    assert.equal((await runEdgeml(['model', 'push', wrongSha, '--registry', registry.host, '--repository', 'Upper/Case', '--tag', 'x'])).code, 2);
    assert.equal((await runEdgeml(['model', 'pull', 'no-registry-here'])).code, 2);
    assert.equal((await runEdgeml(['model', 'frobnicate'])).code, 2);
  });
});
