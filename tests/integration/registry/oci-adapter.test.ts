/**
 * The OCI adapter (shared/src/oci) against the real CNCF distribution registry: push and pull of a
 * model package (monolithic and chunked uploads, relative upload Locations), tags resolved to
 * digests, Basic auth, a container image carrying /models/, an OCI layout file, and every bad
 * answer with its code: 401, 404, 429, no answer, corrupted blobs, hostile tar layers.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { createServer as createHttpServer, request as httpRequest, type Server as HttpServer } from 'node:http';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  ANNOTATIONS,
  EMPTY_DESCRIPTOR,
  MODEL_PACKAGE_TYPES,
  OCI_MEDIA_TYPES,
  createRegistryClient,
  errorCode,
  exportToLayout,
  layoutSource,
  pullModelPackage,
  pushModelPackage,
  registrySource,
  unpackLayoutTar,
  type RegistryClient,
} from '@edgeml/shared';
import { digestOf, rawOci, startTestRegistry, tarHeader, tarOf, type TestRegistry } from '../../helpers/registry.js';
import { unaryModel } from '../../helpers/onnx.js';

const rejectsWith = async (p: Promise<unknown>, code: string): Promise<Error> => {
  try {
    await p;
  } catch (err: unknown) {
    assert.equal(errorCode(err), code, `expected ${code}, got ${errorCode(err)}: ${(err as Error).message}`);
    return err as Error;
  }
  assert.fail(`expected ${code}, but it resolved`);
};

const modelBytes = unaryModel('Identity', ['N', 4]);
const manifestOf = (model: Buffer, extra: Record<string, unknown> = {}): Buffer =>
  Buffer.from(
    JSON.stringify({
      schema: 'edgeml.model-manifest/v1',
      name: 'tiny',
      version: '7',
      sha256: digestOf(model).slice(7),
      inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }],
      preprocessing: { profile: 'vec', signature: 'pp1-vec-test' },
      postprocessor: { kind: 'classification', topK: 2 },
      labels: ['a', 'b', 'c', 'd'],
      ...extra,
    }),
  );

describe('OCI adapter against the distribution registry', function () {
  this.timeout(60_000);
  let registry: TestRegistry;
  let relative: TestRegistry;
  let secured: TestRegistry;
  let work: string;
  let modelFile: string;

  before(async () => {
    [registry, relative, secured] = await Promise.all([startTestRegistry(), startTestRegistry({ relativeUrls: true }), startTestRegistry({ auth: { username: 'edge', password: 's3cret!' } })]);
    work = await mkdtemp(path.join(tmpdir(), 'edgeml-oci-'));
    modelFile = path.join(work, 'model.onnx');
    await writeFile(modelFile, modelBytes);
  });
  after(async () => {
    await Promise.all([registry?.close(), relative?.close(), secured?.close()]);
    await rm(work, { recursive: true, force: true });
  });

  const clientOf = (r: TestRegistry, extra: Partial<Parameters<typeof createRegistryClient>[0]> = {}): RegistryClient =>
    createRegistryClient({ registry: r.host, plainHttp: true, retryDelayMs: 10, ...extra });

  const push = (client: RegistryClient, tag: string, manifestBytes = manifestOf(modelBytes), repository = 'edgeml/models/tiny') =>
    pushModelPackage(client, {
      repository,
      tag,
      modelFile,
      manifestBytes,
      identity: { name: 'tiny', version: '7', profile: 'vec', provenance: { azureml: { modelName: 'tiny', modelVersion: '7' }, dataset: { name: 'edge-images', version: '3' }, gitRevision: 'abc123' } },
      created: new Date('2026-11-24T12:00:00Z'),
    });

  it('pushes a package (blobs then manifest) and pulls it back by tag and by digest, verified', async () => {
    const client = clientOf(registry);
    const pushed = await push(client, 'v7');
    assert.match(pushed.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(pushed.uploaded, 3);
    assert.equal(pushed.manifest.artifactType, MODEL_PACKAGE_TYPES.artifact);
    assert.equal(pushed.manifest.annotations?.[ANNOTATIONS.azuremlModel], 'tiny:7');
    assert.equal(pushed.manifest.annotations?.[ANNOTATIONS.dataset], 'edge-images:3');
    const again = await push(client, 'v7');
    assert.equal(again.uploaded, 0, 'blobs already there are not sent again');
    assert.equal(again.digest, pushed.digest);

    const resolved = await client.resolve('edgeml/models/tiny', 'v7');
    assert.equal(resolved.digest, pushed.digest);
    for (const ref of ['v7', pushed.digest]) {
      const dest = path.join(work, `pull-${ref.slice(0, 10)}`);
      const pulled = await pullModelPackage(registrySource(client, 'edgeml/models/tiny'), ref, dest, { maxModelBytes: 1024 * 1024 });
      assert.equal(pulled.digest, pushed.digest);
      assert.equal(pulled.kind, 'artifact');
      assert.deepEqual(await readFile(pulled.modelFile), modelBytes);
      assert.equal((pulled.modelManifest as { labels: string[] }).labels.length, 4);
    }
  });

  it('uploads in PATCH chunks to a registry that answers relative Locations', async () => {
    const client = clientOf(relative, { chunkBytes: 64 });
    const pushed = await push(client, 'chunked');
    const pulled = await pullModelPackage(registrySource(client, 'edgeml/models/tiny'), 'chunked', path.join(work, 'chunked'), { maxModelBytes: 1024 * 1024 });
    assert.equal(pulled.digest, pushed.digest);
    assert.deepEqual(await readFile(pulled.modelFile), modelBytes);
  });

  it('authenticates with Basic credentials; none or wrong ones give REGISTRY_UNAUTHORIZED', async () => {
    const good = clientOf(secured, { credentials: { username: 'edge', password: 's3cret!' } });
    const pushed = await push(good, 'v1');
    assert.equal((await good.resolve('edgeml/models/tiny', 'v1')).digest, pushed.digest);
    const none = await rejectsWith(clientOf(secured).resolve('edgeml/models/tiny', 'v1'), 'REGISTRY_UNAUTHORIZED');
    assert.match(none.message, /none are configured/);
    const wrong = await rejectsWith(clientOf(secured, { credentials: { username: 'edge', password: 'nope' } }).resolve('edgeml/models/tiny', 'v1'), 'REGISTRY_UNAUTHORIZED');
    assert.ok(!wrong.message.includes('nope'), 'the password never appears in a message');
  });

  it('a missing tag, repository or digest is REGISTRY_NOT_FOUND', async () => {
    const client = clientOf(registry);
    await push(client, 'present');
    await rejectsWith(client.resolve('edgeml/models/tiny', 'absent'), 'REGISTRY_NOT_FOUND');
    await rejectsWith(client.getManifest('edgeml/models/nothing-here', 'v1'), 'REGISTRY_NOT_FOUND');
    await rejectsWith(client.getManifest('edgeml/models/tiny', `sha256:${'0'.repeat(64)}`), 'REGISTRY_NOT_FOUND');
  });

  it('a blob whose stored bytes were altered is DIGEST_MISMATCH', async () => {
    const client = clientOf(registry);
    const other = Buffer.concat([unaryModel('Neg', ['N', 4])]);
    const otherFile = path.join(work, 'neg.onnx');
    await writeFile(otherFile, other);
    const pushed = await pushModelPackage(client, { repository: 'edgeml/models/corrupt', tag: 'v1', modelFile: otherFile, manifestBytes: manifestOf(other), identity: { name: 'tiny', version: '7' }, created: new Date() });
    // The registry keeps each blob at docker/registry/v2/blobs/sha256/<2>/<hex>/data.
    const hex = digestOf(other).slice(7);
    const data = path.join(registry.dir, 'storage', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    const bytes = await readFile(data);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await writeFile(data, bytes);
    await rejectsWith(pullModelPackage(registrySource(client, 'edgeml/models/corrupt'), pushed.digest, path.join(work, 'corrupt'), { maxModelBytes: 1024 * 1024 }), 'DIGEST_MISMATCH');
  });

  it('429 answers are retried (Retry-After honoured) and end in REGISTRY_THROTTLED; a silent registry is REGISTRY_UNAVAILABLE', async () => {
    let throttleLeft = 0;
    // A real proxy in front of the registry that answers 429 while told to.
    const proxy: HttpServer = createHttpServer((req, res) => {
      if (throttleLeft > 0) {
        throttleLeft--;
        res.writeHead(429, { 'retry-after': '0', 'content-type': 'application/json' }).end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
        return;
      }
      const upstream = httpRequest(`${registry.url}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (s: { address(): unknown }): number => (s.address() as { port: number }).port;
      const viaProxy = createRegistryClient({ registry: `127.0.0.1:${port(proxy)}`, plainHttp: true, retryDelayMs: 10, maxAttempts: 3 });
      await push(clientOf(registry), 'throttled');
      throttleLeft = 2;
      assert.match((await viaProxy.resolve('edgeml/models/tiny', 'throttled')).digest, /^sha256:/, 'two 429s then an answer: resolved');
      throttleLeft = 10;
      const err = await rejectsWith(viaProxy.getManifest('edgeml/models/tiny', 'throttled'), 'REGISTRY_THROTTLED');
      assert.match(err.message, /TOOMANYREQUESTS/);
      const mute = createRegistryClient({ registry: `127.0.0.1:${port(silent)}`, plainHttp: true, requestTimeoutMs: 300, retryDelayMs: 10, maxAttempts: 2 });
      await rejectsWith(mute.resolve('edgeml/models/tiny', 'v1'), 'REGISTRY_UNAVAILABLE');
      const refused = createRegistryClient({ registry: '127.0.0.1:9', plainHttp: true, retryDelayMs: 10, maxAttempts: 2 });
      await rejectsWith(refused.resolve('edgeml/models/tiny', 'v1'), 'REGISTRY_UNAVAILABLE');
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
      silent.close();
    }
  });

  describe('a container image carrying /models/', () => {
    const pushImage = async (repository: string, layer: Buffer): Promise<string> => {
      const raw = rawOci(registry.url);
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
      const c = await raw.pushBlob(repository, config);
      const l = await raw.pushBlob(repository, layer);
      return raw.pushManifest(repository, 'v1', {
        schemaVersion: 2,
        mediaType: OCI_MEDIA_TYPES.manifest,
        config: { mediaType: OCI_MEDIA_TYPES.imageConfig, ...c },
        layers: [{ mediaType: OCI_MEDIA_TYPES.layerTarGzip, ...l }],
      });
    };
    const pullImage = (repository: string, dest: string) => pullModelPackage(registrySource(clientOf(registry), repository), 'v1', path.join(work, dest), { maxModelBytes: 1024 * 1024 });

    it('is unpacked: only /models/model.onnx and /models/manifest.json are written', async () => {
      const layer = gzipSync(tarOf([{ name: 'bin/sh', data: Buffer.from('#!') }, { name: './models/model.onnx', data: modelBytes }, { name: 'models/manifest.json', data: manifestOf(modelBytes) }]));
      const digest = await pushImage('edgeml/images/good', layer);
      const pulled = await pullImage('edgeml/images/good', 'image-good');
      assert.equal(pulled.kind, 'image');
      assert.equal(pulled.digest, digest);
      assert.deepEqual(await readFile(pulled.modelFile), modelBytes);
      assert.deepEqual((await readdir(path.join(work, 'image-good'))).sort(), ['manifest.json', 'model.onnx']);
    });

    it('a layer with a ../ member is refused (PATH_OUTSIDE_ROOT) and nothing is written outside', async () => {
      const layer = gzipSync(tarOf([{ name: 'models/../../escaped.txt', data: Buffer.from('x') }, { name: 'models/model.onnx', data: modelBytes }]));
      await pushImage('edgeml/images/escape', layer);
      await rejectsWith(pullImage('edgeml/images/escape', 'image-escape'), 'PATH_OUTSIDE_ROOT');
      await assert.rejects(readFile(path.join(work, 'escaped.txt')));
    });

    it('a member declaring 10 GB is refused from its header (FILE_TOO_LARGE), without reading it', async () => {
      // The header claims 10 GiB; only a few bytes follow. A reader that trusted it would wait for them.
      const layer = gzipSync(Buffer.concat([tarHeader('models/model.onnx', 10 * 1024 ** 3), Buffer.alloc(512)]));
      await pushImage('edgeml/images/huge', layer);
      const err = await rejectsWith(pullImage('edgeml/images/huge', 'image-huge'), 'FILE_TOO_LARGE');
      assert.match(err.message, /10737418240 bytes/);
    });

    it('an image without /models/manifest.json, or an artifact without a model manifest, is ARTIFACT_INVALID', async () => {
      await pushImage('edgeml/images/nomanifest', gzipSync(tarOf([{ name: 'models/model.onnx', data: modelBytes }])));
      const a = await rejectsWith(pullImage('edgeml/images/nomanifest', 'image-nomanifest'), 'ARTIFACT_INVALID');
      assert.match(a.message, /manifest\.json/);
      const raw = rawOci(registry.url);
      const m = await raw.pushBlob('edgeml/models/bare', modelBytes);
      await raw.pushBlob('edgeml/models/bare', Buffer.from('{}'));
      await raw.pushManifest('edgeml/models/bare', 'v1', {
        schemaVersion: 2,
        mediaType: OCI_MEDIA_TYPES.manifest,
        artifactType: MODEL_PACKAGE_TYPES.artifact,
        config: EMPTY_DESCRIPTOR,
        layers: [{ mediaType: MODEL_PACKAGE_TYPES.onnx, ...m, annotations: { [ANNOTATIONS.title]: 'model.onnx' } }],
      });
      const b = await rejectsWith(pullModelPackage(registrySource(clientOf(registry), 'edgeml/models/bare'), 'v1', path.join(work, 'bare'), { maxModelBytes: 1024 * 1024 }), 'ARTIFACT_INVALID');
      assert.match(b.message, /no model manifest/);
    });
  });

  it('exports a package to an OCI layout tar that pulls offline to the same digest', async () => {
    const client = clientOf(registry);
    const pushed = await push(client, 'export-me');
    const tar = path.join(work, 'tiny.oci.tar');
    await exportToLayout(registrySource(client, 'edgeml/models/tiny'), 'export-me', tar, { refName: 'export-me', maxBlobBytes: 1024 * 1024 });
    const dir = path.join(work, 'layout');
    await unpackLayoutTar(tar, dir, 16 * 1024 * 1024);
    for (const ref of [pushed.digest, 'export-me']) {
      const pulled = await pullModelPackage(layoutSource(dir), ref, path.join(work, `from-layout-${ref.length}`), { maxModelBytes: 1024 * 1024 });
      assert.equal(pulled.digest, pushed.digest);
      assert.deepEqual(await readFile(pulled.modelFile), modelBytes);
    }
  });
});
