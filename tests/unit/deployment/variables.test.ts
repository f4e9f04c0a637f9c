import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { combineVariables, expandVariables, moduleImage, parseDotEnv, parseModuleJson, readDotEnv, referencedPlatform, variableReferences } from '@edgeml/deploy-tools';

describe('deployment/tools variables and images', () => {
  it('expands $VAR and ${VAR} like os.path.expandvars and leaves unset ones as written', () => {
    const r = expandVariables('$A/${B}:$UNSET-${ALSO_UNSET}$', { A: 'x', B: '' });
    assert.equal(r.value, 'x/:$UNSET-${ALSO_UNSET}$');
    assert.deepEqual(r.unresolved, ['UNSET', 'ALSO_UNSET']);
    assert.deepEqual(variableReferences('${MODULES.watcher} $CONTAINER_REGISTRY_SERVER ${X}'), ['CONTAINER_REGISTRY_SERVER', 'X']);
  });

  it('reads .env as python-dotenv does: # in an unquoted value is kept, quotes and escapes honoured', () => {
    assert.deepEqual(parseDotEnv('A=pa#ss\nB=a b # comment\nC="x\\"y\\\\z"\nD=\'lit\\n\'\nexport E=1\nnot a pair\n#F=2\n'), {
      A: 'pa#ss',
      B: 'a b',
      C: 'x"y\\z',
      D: 'lit\\n',
      E: '1',
    });
  });

  it('lets the environment win over .env', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'edgeml-env-'));
    try {
      await writeFile(path.join(dir, '.env'), '# comment\nA=from-file\nB="quoted value"\nEMPTY=\n');
      const dotEnv = await readDotEnv(path.join(dir, '.env'));
      assert.deepEqual(dotEnv, { A: 'from-file', B: 'quoted value', EMPTY: '' });
      assert.deepEqual(combineVariables({ A: 'from-env', C: undefined }, dotEnv), { A: 'from-env', B: 'quoted value', EMPTY: '' });
      assert.deepEqual(await readDotEnv(path.join(dir, 'missing.env')), {});
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names images <repository>:<version>[-<CONTAINER_TAG>]-<platform> from module.json', () => {
    const spec = parseModuleJson(
      'watcher',
      { image: { repository: '${CONTAINER_REGISTRY_SERVER}/EdgeML-watcher', tag: { version: '0.1.0', platforms: { amd64: './Dockerfile.amd64', 'amd64.debug': './Dockerfile.amd64.debug' } } } },
      'module.json',
    );
    assert.deepEqual(moduleImage(spec, 'amd64', { CONTAINER_REGISTRY_SERVER: 'myacr.azurecr.io' }), { image: 'myacr.azurecr.io/edgeml-watcher:0.1.0-amd64' });
    assert.deepEqual(moduleImage(spec, referencedPlatform('debug', 'amd64'), { CONTAINER_REGISTRY_SERVER: 'r', CONTAINER_TAG: 'b42' }), { image: 'r/edgeml-watcher:0.1.0-b42-amd64.debug' });
    const missing = moduleImage(spec, 'arm64v8', {});
    assert.ok('problems' in missing);
    assert.match(missing.problems.join('\n'), /has no platform "arm64v8"/);
    assert.match(missing.problems.join('\n'), /uses \$CONTAINER_REGISTRY_SERVER, which is not set/);
  });

  it('lists every problem of a malformed module.json', () => {
    assert.throws(() => parseModuleJson('x', { image: { tag: {} } }, 'modules/x/module.json'), /image\.repository must be a non-empty string; image\.tag\.version must be a non-empty string; image\.tag\.platforms must be an object/);
  });
});
