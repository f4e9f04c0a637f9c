/**
 * Pure parts of the OCI adapter: references, the registry's auth challenge, recognising a model
 * package (ours, oras's default layout, a container image, an index), and layer member names.
 */
import assert from 'node:assert/strict';
import {
  ANNOTATIONS,
  EMPTY_DESCRIPTOR,
  MODEL_PACKAGE_TYPES,
  OCI_MEDIA_TYPES,
  buildPackageManifest,
  errorCode,
  locatePackage,
  packageAnnotations,
  parseChallenge,
  parseReference,
  safeMemberName,
} from '@edgeml/shared';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err: unknown) {
    return errorCode(err);
  }
  return 'none';
};

describe('OCI references and challenges', () => {
  it('parses registry/repository[:tag][@digest], with a port and an oci:// prefix', () => {
    assert.deepEqual(parseReference('myacr.azurecr.io/edgeml/models/cls:20261124'), { registry: 'myacr.azurecr.io', repository: 'edgeml/models/cls', tag: '20261124' });
    assert.deepEqual(parseReference(`oci://127.0.0.1:5000/m@${d('a')}`), { registry: '127.0.0.1:5000', repository: 'm', digest: d('a') });
    assert.deepEqual(parseReference(`r.io/m:v1@${d('b')}`), { registry: 'r.io', repository: 'm', tag: 'v1', digest: d('b') });
    for (const bad of ['no-registry', 'r.io/m', 'r.io/Upper:v1', `r.io/m@sha256:${'A'.repeat(64)}`, 'r.io/m:-bad']) assert.equal(codeOf(() => parseReference(bad)), 'CONFIG_INVALID', bad);
  });

  it('reads Bearer and Basic challenges', () => {
    assert.deepEqual(parseChallenge('Bearer realm="https://acr.io/oauth2/token",service="acr.io",scope="repository:m:pull"'), { scheme: 'bearer', params: { realm: 'https://acr.io/oauth2/token', service: 'acr.io', scope: 'repository:m:pull' } });
    assert.deepEqual(parseChallenge('Basic realm="edgeml-local"'), { scheme: 'basic', params: { realm: 'edgeml-local' } });
  });
});

describe('model package recognition', () => {
  const layer = (title: string, type: string = OCI_MEDIA_TYPES.layerTar, c = 'c') => ({ mediaType: type, digest: d(c), size: 10, annotations: { [ANNOTATIONS.title]: title } });
  const manifest = (layers: unknown[], extra: Record<string, unknown> = {}): Buffer => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MEDIA_TYPES.manifest, config: EMPTY_DESCRIPTOR, layers, ...extra }));

  it('ours (built), and oras default layers found by title', () => {
    const built = buildPackageManifest({ model: { digest: d('1'), size: 5 }, manifest: { digest: d('2'), size: 6 } }, packageAnnotations({ name: 'm', version: '1', sha256: '1'.repeat(64) }, new Date(0)));
    const ours = locatePackage(built.bytes);
    assert.equal(ours.kind, 'artifact');
    const oras = locatePackage(manifest([layer('model.onnx', OCI_MEDIA_TYPES.layerTar, 'a'), layer('manifest.json', OCI_MEDIA_TYPES.layerTar, 'b')]));
    assert.equal(oras.kind === 'artifact' && oras.model.digest, d('a'));
  });

  it('a container image: its untitled tar layers under /models; an oras directory layer under its title', () => {
    const image = locatePackage(manifest([{ mediaType: OCI_MEDIA_TYPES.layerTarGzip, digest: d('d'), size: 1 }], { config: { mediaType: OCI_MEDIA_TYPES.imageConfig, digest: d('e'), size: 1 } }));
    assert.deepEqual(image.kind === 'image' && image.layers.map((l) => l.folder), ['models']);
    const dir = locatePackage(manifest([{ ...layer('pkg/', OCI_MEDIA_TYPES.layerTarGzip), annotations: { [ANNOTATIONS.title]: 'pkg/', [ANNOTATIONS.orasUnpack]: 'true' } }]));
    assert.deepEqual(dir.kind === 'image' && dir.layers.map((l) => l.folder), ['pkg']);
  });

  it('an index picks this platform; invalid manifests are ARTIFACT_INVALID', () => {
    const index = locatePackage(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: OCI_MEDIA_TYPES.manifest, digest: d('1'), size: 1, platform: { architecture: 'arm64', os: 'linux' } }, { mediaType: OCI_MEDIA_TYPES.manifest, digest: d('2'), size: 1, platform: { architecture: 'amd64', os: 'linux' } }] })));
    assert.equal(index.kind === 'index' && index.child.digest, d('2'));
    assert.equal(codeOf(() => locatePackage(Buffer.from('not json'))), 'ARTIFACT_INVALID');
    assert.equal(codeOf(() => locatePackage(manifest([layer('model.onnx')], { artifactType: MODEL_PACKAGE_TYPES.artifact }))), 'ARTIFACT_INVALID');
    assert.equal(codeOf(() => locatePackage(manifest([layer('readme.txt')]))), 'ARTIFACT_INVALID');
  });

  it('member names: ./ and leading / are normalised; .. anywhere refuses', () => {
    assert.equal(safeMemberName('./models/model.onnx'), 'models/model.onnx');
    assert.equal(safeMemberName('/models//manifest.json'), 'models/manifest.json');
    for (const bad of ['../x', 'models/../../x', 'a/..', 'C:\\x']) assert.equal(codeOf(() => safeMemberName(bad)), 'PATH_OUTSIDE_ROOT', bad);
  });
});
