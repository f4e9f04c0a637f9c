import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { argumentList, checkDockerfile, copyInstructions, envOf, parseStages, productionInstall, splitFlags, type Stage } from '@edgeml/deploy-tools';
import { REPO_ROOT, SUITE_MODULES } from './paths.js';

const VARIANTS = ['Dockerfile.amd64', 'Dockerfile.arm64v8', 'Dockerfile.amd64.debug'] as const;
const WORKSPACES = ['shared', 'modules/watcher', 'modules/transformer', 'modules/inferencer', 'modules/uploader', 'modules/aggregator', 'deployment/edge-hub', 'deployment/runtime', 'deployment/tools', 'deployment/mqtt-local'];

function finalStage(stages: readonly Stage[]): Stage {
  const stage = stages[stages.length - 1];
  assert.ok(stage !== undefined);
  return stage;
}

describe('module Dockerfiles (static checks)', () => {
  it('the root package.json lists exactly the workspaces the Dockerfiles copy manifests of', async () => {
    const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
    assert.deepEqual([...pkg.workspaces].sort(), [...WORKSPACES].sort());
  });

  for (const name of SUITE_MODULES) {
    for (const variant of VARIANTS) {
      const gpu = name === 'inferencer' && variant !== 'Dockerfile.arm64v8';
      it(`${name}/${variant}: non-root, HEALTHCHECK, pinned bases, no secrets, workspace install, entry point`, async () => {
        const text = await readFile(path.join(REPO_ROOT, 'modules', name, variant), 'utf8');
        assert.deepEqual(checkDockerfile(text), []);
        const stages = parseStages(text);
        const runtime = finalStage(stages);
        const build = stages.find((s) => s.name === 'build');
        assert.ok(build, 'a build stage named "build"');

        // Build stage: full install, then compile this module (and what it references) with tsc -b.
        assert.ok(build.instructions.some((i) => i.keyword === 'RUN' && /^npm ci\b/.test(i.args)), 'build stage runs npm ci');
        assert.ok(build.instructions.some((i) => i.keyword === 'RUN' && i.args.includes(`tsc -b modules/${name}`)), `build stage runs tsc -b modules/${name}`);

        // Production install of this workspace and shared, with what npm ci needs to accept the lock: in the
        // runtime stage, or in a dependencies stage the runtime stage copies wholesale.
        const install = productionInstall(stages);
        assert.ok(install, 'the runtime stage (or a stage it copies wholesale) runs npm ci');
        const ci = install.command;
        const words = ci.split(/\s+/);
        assert.ok(words.includes('--omit=dev'));
        assert.ok(ci.includes(`-w modules/${name}`) && ci.includes('-w shared'), ci);
        const copied = copyInstructions(install.stage).filter((c) => c.from === undefined).flatMap((c) => c.sources);
        for (const f of ['package.json', 'package-lock.json', '.npmrc', ...WORKSPACES.map((w) => `${w}/package.json`)]) assert.ok(copied.includes(f), `runtime stage copies ${f}`);
        const fromBuild = copyInstructions(runtime).filter((c) => c.from === 'build').flatMap((c) => c.sources);
        assert.deepEqual(fromBuild.sort(), ['/app/modules/' + name + '/dist', '/app/shared/dist'].sort());

        // onnxruntime-node: the CUDA provider binaries only in the inferencer's GPU images, skipped everywhere else.
        const env = envOf(install.stage);
        if (gpu) {
          // onnxruntime-node 1.30 fetches the provider from Microsoft.ML.OnnxRuntime.Gpu.Linux 1.30.0, the CUDA 13 +
          // cuDNN 9 build (its install flag is still named cuda12): the base image must be CUDA 13 with cuDNN.
          assert.match(runtime.from, /^nvidia\/cuda:13\.\d+\.\d+-cudnn-runtime-ubuntu24\.04$/);
          assert.ok(ci.includes('--onnxruntime-node-install=cuda12'), ci);
          assert.equal(env['ONNXRUNTIME_NODE_INSTALL'], undefined, 'the env variable would override the cuda12 flag');
          // The image build fails when ldd finds a library of the CUDA provider missing (the driver's libcuda.so.1 aside).
          const lddRun = install.stage.instructions.find((i) => i.keyword === 'RUN' && /\bldd\b/.test(i.args));
          assert.ok(lddRun, 'a RUN checks libonnxruntime_providers_cuda.so with ldd');
          assert.ok(install.stage.instructions.indexOf(lddRun) > install.stage.instructions.findIndex((i) => i.keyword === 'RUN' && i.args.includes('--onnxruntime-node-install=cuda12')), 'after the install that fetches it');
          assert.match(lddRun.args, /test -f libonnxruntime_providers_cuda\.so/);
          assert.match(lddRun.args, /ldd libonnxruntime_providers_cuda\.so \| grep 'not found' \| grep -v 'libcuda\\\.so\\\.1 '; then .*exit 1; fi/);
          // Ubuntu 24.04 has a uid-1000 user of its own; the module must still run as node (uid 1000) like the others.
          assert.ok(runtime.instructions.some((i) => i.keyword === 'RUN' && /userdel ubuntu/.test(i.args) && /useradd --uid 1000 --gid node/.test(i.args)));
        } else {
          assert.equal(env['ONNXRUNTIME_NODE_INSTALL'], 'skip');
          assert.ok(!ci.includes('cuda12'));
          for (const stage of [runtime, install.stage]) {
            assert.match(stage.from, variant === 'Dockerfile.arm64v8' ? /^arm64v8\/node:\d+\.\d+\.\d+-bookworm-slim$/ : /^node:\d+\.\d+\.\d+-bookworm-slim$/);
          }
        }

        // Health and entry point.
        const health = runtime.instructions.find((i) => i.keyword === 'HEALTHCHECK');
        assert.ok(health?.args.includes('http://127.0.0.1:9600/health/live'), 'HEALTHCHECK probes /health/live on 9600');
        const cmd = runtime.instructions.filter((i) => i.keyword === 'CMD').at(-1);
        assert.ok(cmd);
        const argv = argumentList(splitFlags(cmd.args).rest);
        assert.equal(argv[0], 'node');
        assert.equal(argv.at(-1), `modules/${name}/dist/main.js`);
        assert.equal(argv.includes('--inspect=0.0.0.0:9229'), variant === 'Dockerfile.amd64.debug');
        assert.ok(
          runtime.instructions.some((i) => i.keyword === 'RUN' && i.args === `node modules/${name}/dist/main.js --self-check`),
          'the runtime stage runs the self-check, so an incomplete image fails to build',
        );
        const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1);
        assert.equal(user?.args, 'node');
        assert.ok(!runtime.instructions.some((i) => i.keyword === 'ADD'), 'no ADD in the runtime stage');
      });
    }
  }

  it('the static check catches what it is meant to catch', () => {
    const bad = [
      'FROM node:latest AS build',
      'FROM node:22 AS other',
      'ARG BASE=node:22.12.0',
      'FROM $BASE',
      'ENV EDGEML_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc',
      'ADD https://example.com/tool.tgz /opt/',
      'COPY .env ./',
      'USER root',
      'CMD ["node", "main.js"]',
    ].join('\n');
    const problems = checkDockerfile(bad).join('\n');
    assert.match(problems, /"node:latest" is not pinned/);
    assert.match(problems, /"node:22" is not pinned/);
    assert.match(problems, /"\$BASE" is set by a build argument/);
    assert.match(problems, /ENV EDGEML_STORAGE_CONNECTION_STRING looks like a secret/);
    assert.match(problems, /contains what looks like a credential/);
    assert.match(problems, /ADD of a URL/);
    assert.match(problems, /COPY of "\.env"/);
    assert.match(problems, /runs as root/);
    assert.match(problems, /no HEALTHCHECK/);
  });

  it('.dockerignore keeps secrets, host builds and node_modules out of the build context', async () => {
    const lines = (await readFile(path.join(REPO_ROOT, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim());
    for (const entry of ['.env', '**/node_modules', '**/dist', '.git', 'deployment/config']) assert.ok(lines.includes(entry), `.dockerignore has ${entry}`);
  });
});
