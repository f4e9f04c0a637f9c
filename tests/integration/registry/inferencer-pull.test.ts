/**
 * The inferencer pulls models from a real OCI registry by digest: an artifact built with plain
 * HTTP calls of the distribution spec and the documented media types (as oras or any other tool
 * would push it), a tag resolved and reported as a digest, the store serving it offline once
 * cached, an OCI layout preloaded from a file, and each bad artifact or registry answer refused
 * with its code in reported properties and an alert while the live model keeps serving.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ANNOTATIONS, EMPTY_DESCRIPTOR, MODEL_PACKAGE_TYPES, OCI_MEDIA_TYPES } from '@edgeml/shared';
import { startInferencer, type Harness } from '../inferencer/support.js';
import { unaryModel } from '../../helpers/onnx.js';
import { digestOf, rawOci, runEdgeml, startTestRegistry, type TestRegistry } from '../../helpers/registry.js';
import { vecManifest, vectorTensor } from '../../helpers/vector-tensors.js';

interface Reported {
  state: string;
  name: string;
  version: string;
  digest: string;
  artifact: { reference: string; digest: string; tag?: string; source: string } | null;
  lastError: { code: string; message: string } | null;
}

/** Pushes a model package with raw HTTP: documented media types, titles, the empty config. */
async function pushRaw(registry: TestRegistry, repository: string, tag: string, model: Buffer, manifest: Record<string, unknown> | undefined): Promise<string> {
  const raw = rawOci(registry.url);
  const layers: unknown[] = [{ mediaType: MODEL_PACKAGE_TYPES.onnx, ...(await raw.pushBlob(repository, model)), annotations: { [ANNOTATIONS.title]: 'model.onnx' } }];
  if (manifest !== undefined) {
    const bytes = Buffer.from(JSON.stringify(manifest));
    layers.push({ mediaType: MODEL_PACKAGE_TYPES.modelManifest, ...(await raw.pushBlob(repository, bytes)), annotations: { [ANNOTATIONS.title]: 'manifest.json' } });
  }
  await raw.pushBlob(repository, Buffer.from('{}'));
  return raw.pushManifest(repository, tag, {
    schemaVersion: 2,
    mediaType: OCI_MEDIA_TYPES.manifest,
    artifactType: MODEL_PACKAGE_TYPES.artifact,
    config: EMPTY_DESCRIPTOR,
    layers,
    annotations: { [ANNOTATIONS.version]: String(manifest?.['version'] ?? '') },
  });
}

describe('inferencer: models from an OCI registry', function () {
  this.timeout(120_000);
  let registry: TestRegistry;
  let secured: TestRegistry;
  let h: Harness | undefined;
  let root: string;
  const identity = unaryModel('Identity', ['N', 4]);
  const negate = unaryModel('Neg', ['N', 4]);
  let v1: string;

  before(async () => {
    [registry, secured] = await Promise.all([startTestRegistry(), startTestRegistry({ auth: { username: 'dev', password: 'pw' } })]);
    root = await mkdtemp(path.join(tmpdir(), 'edgeml-inferencer-oci-'));
    v1 = await pushRaw(registry, 'edgeml/models/vec', 'v1', identity, vecManifest('vec-model', '1'));
  });
  after(async () => {
    await h?.close();
    await Promise.all([registry?.close(), secured?.close()]);
    await rm(root, { recursive: true, force: true });
  });

  const reported = (): Reported => (h!.client.reported['models'] as Record<string, Reported>)['vec']!;
  const runOne = async (seed: string, values = [0, 0, 3, 1]): Promise<Record<string, unknown>> => {
    const msg = await vectorTensor(h!.root, 'vec', values, seed);
    await h!.client.deliver('tensors', msg);
    const r = h!.results().find((x) => x['id'] === msg.id);
    assert.ok(r, `a result for ${seed}`);
    return r;
  };

  it('pulls an artifact built with plain HTTP calls by its digest and names the digest in every result', async () => {
    h = await startInferencer({ models: { vec: { artifact: `${registry.host}/edgeml/models/vec@${v1}` } }, statusIntervalMs: 60_000 }, root);
    assert.equal(h.running.binder.lastReport()?.status, 'applied', JSON.stringify(h.running.binder.lastReport()?.problems));
    const m = reported();
    assert.equal(m.state, 'serving');
    assert.equal(m.name, 'vec-model');
    assert.equal(m.digest, v1);
    assert.deepEqual({ source: m.artifact?.source, digest: m.artifact?.digest }, { source: 'registry', digest: v1 });
    const r = await runOne('first');
    assert.deepEqual(r['model'], { name: 'vec-model', version: '1', sha256: digestOf(identity).slice(7), digest: v1 });
    assert.equal((r['outputs'] as { label: string }).label, 'c');
    assert.equal(h.client.sentTo('results').at(-1)!.properties['modelDigest'], v1);
  });

  it('accepts a tag, resolves it and reports the digest it pulled', async () => {
    const v2 = await runEdgeml(['model', 'push', await packageDir(root, 'v2', negate, vecManifest('vec-model', '2')), '--registry', registry.host, '--repository', 'edgeml/models/vec', '--tag', 'v2']);
    assert.equal(v2.code, 0, v2.stderr);
    const report = await h!.patch({ models: { vec: { artifact: `${registry.host}/edgeml/models/vec:v2` } } });
    assert.equal(report.status, 'applied', JSON.stringify(report.problems));
    const m = reported();
    assert.equal(m.digest, v2.json!['digest']);
    assert.equal(m.artifact?.tag, 'v2');
    assert.equal(m.artifact?.reference, `${registry.host}/edgeml/models/vec@${String(v2.json!['digest'])}`);
    const r = await runOne('second');
    assert.equal((r['model'] as { digest: string }).digest, v2.json!['digest']);
    assert.equal((r['outputs'] as { label: string }).label, 'a', 'the negated model picks the smallest value');
  });

  describe('bad artifacts and registry answers: a clear code, an alert, the live model keeps serving', () => {
    const refused = async (artifact: string, code: string, env?: string): Promise<void> => {
      const alertsBefore = h!.alerts().length;
      const servingBefore = reported().digest;
      const report = await h!.patch({ models: { vec: { artifact } } });
      assert.equal(report.status, 'rejected', `${artifact} (${env ?? ''}) was applied`);
      assert.match(report.problems.join(' '), new RegExp(code));
      assert.equal(reported().lastError?.code, code, JSON.stringify(reported().lastError));
      assert.equal(reported().digest, servingBefore, 'the live model keeps serving');
      const alert = h!.alerts().slice(alertsBefore).find((a) => a['code'] === code);
      assert.ok(alert, `an alert with ${code}`);
      assert.equal((await runOne(`after-${code}-${artifact.length}`))['model'] !== undefined, true);
    };

    it('a missing tag or digest: REGISTRY_NOT_FOUND', async () => {
      await refused(`${registry.host}/edgeml/models/vec:no-such-tag`, 'REGISTRY_NOT_FOUND');
      await refused(`${registry.host}/edgeml/models/vec@sha256:${'1'.repeat(64)}`, 'REGISTRY_NOT_FOUND');
    });
    it('an artifact without a model manifest: ARTIFACT_INVALID', async () => {
      const d = await pushRaw(registry, 'edgeml/models/bare', 'v1', identity, undefined);
      await refused(`${registry.host}/edgeml/models/bare@${d}`, 'ARTIFACT_INVALID');
    });
    it('a manifest whose input signature does not fit the model: MODEL_INVALID', async () => {
      const d = await pushRaw(registry, 'edgeml/models/misfit', 'v1', identity, vecManifest('misfit', '1', ['a', 'b', 'c', 'd', 'e'], { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 5] }], outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 5] }] }));
      await refused(`${registry.host}/edgeml/models/misfit@${d}`, 'MODEL_INVALID');
    });
    it('a manifest whose sha256 is not the model file: MODEL_INVALID', async () => {
      const d = await pushRaw(registry, 'edgeml/models/wrongsha', 'v1', identity, vecManifest('wrongsha', '1', undefined, { sha256: '2'.repeat(64) }));
      await refused(`${registry.host}/edgeml/models/wrongsha@${d}`, 'MODEL_INVALID');
    });
    it('a registry that needs credentials none are configured for: REGISTRY_UNAUTHORIZED', async () => {
      await refused(`${secured.host}/edgeml/models/vec:v1`, 'REGISTRY_UNAUTHORIZED');
    });
    it('a registry that does not answer: REGISTRY_UNAVAILABLE', async () => {
      await refused('127.0.0.1:9/edgeml/models/vec:v1', 'REGISTRY_UNAVAILABLE');
    });
  });

  describe('without the registry', () => {
    it('serves a cached digest with no registry at all after a restart (offline once cached)', async () => {
      await h!.patch({ models: { vec: { artifact: `${registry.host}/edgeml/models/vec@${v1}` } } });
      await h!.close();
      h = undefined;
      // Same data root, a registry host nobody listens on: the digest must come from the store.
      h = await startInferencer({ models: { vec: { artifact: `127.0.0.1:9/edgeml/models/vec@${v1}` } } }, root);
      assert.equal(h.running.binder.lastReport()?.status, 'applied', JSON.stringify(h.running.binder.lastReport()?.problems));
      assert.equal(reported().artifact?.source, 'cache');
      assert.equal(reported().digest, v1);
      assert.equal(((await runOne('offline'))['model'] as { digest: string }).digest, v1);
    });

    it('preloads the same artifact from an OCI layout file on an air-gapped device', async () => {
      const tar = path.join(root, 'vec-v1.tar');
      const exported = await runEdgeml(['model', 'pull', `${registry.host}/edgeml/models/vec@${v1}`, '--oci-layout', tar]);
      assert.equal(exported.code, 0, exported.stderr);
      await h!.close();
      h = undefined;
      const fresh = await mkdtemp(path.join(tmpdir(), 'edgeml-inferencer-airgap-'));
      try {
        await mkdir(path.join(fresh, 'models', 'preload'), { recursive: true });
        await copyFile(tar, path.join(fresh, 'models', 'preload', 'vec-v1.tar'));
        h = await startInferencer({ models: { vec: { artifact: `air-gapped.example:5000/edgeml/models/vec@${v1}` } } }, fresh);
        assert.equal(h.running.binder.lastReport()?.status, 'applied', JSON.stringify(h.running.binder.lastReport()?.problems));
        assert.equal(reported().artifact?.source, 'preload');
        assert.equal(((await runOne('air-gapped'))['model'] as { digest: string }).digest, v1);
      } finally {
        await h?.close();
        h = undefined;
        await rm(fresh, { recursive: true, force: true });
      }
    });
  });
});

async function packageDir(root: string, name: string, model: Buffer, manifest: Record<string, unknown>): Promise<string> {
  const { writePackageDir } = await import('../../helpers/registry.js');
  const { schema: _schema, ...rest } = manifest;
  return writePackageDir(path.join(root, 'packages', name), model, rest);
}
