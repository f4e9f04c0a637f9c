import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { isEdgeMLError, selfCheck, createLogger, type ConfigError } from '@edgeml/shared';
import { buildWatcherConfig, parseWatcherConfig, WATCHER_CONFIG_DEFAULTS, WATCHER_CONFIG_SCHEMA, WATCHER_ERROR_CODES, watcherModule, watcherSelfCheck } from '@edgeml/watcher';

const readme = fileURLToPath(new URL('../../../modules/watcher/README.md', import.meta.url));

describe('watcher/config', () => {
  it('an empty twin yields the frozen defaults', () => {
    const c = parseWatcherConfig({});
    assert.deepEqual(c, WATCHER_CONFIG_DEFAULTS);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.include));
  });

  it('the schema has a default on every property and refuses unknown keys', () => {
    assert.equal(WATCHER_CONFIG_SCHEMA.additionalProperties, false);
    for (const [key, spec] of Object.entries(WATCHER_CONFIG_SCHEMA.properties)) {
      assert.ok('default' in spec, `${key} has a default`);
      assert.deepEqual(spec.default, (WATCHER_CONFIG_DEFAULTS as Record<string, unknown>)[key], `${key} default matches WATCHER_CONFIG_DEFAULTS`);
    }
    assert.deepEqual(Object.keys(WATCHER_CONFIG_SCHEMA.properties).sort(), Object.keys(WATCHER_CONFIG_DEFAULTS).sort());
  });

  it('lists every problem at once', () => {
    try {
      parseWatcherConfig({ include: [], maxInFlight: 0, afterCompletion: 'burn', bogus: 1, stabilityChecks: 'three', markerSuffix: 'a/b' });
      assert.fail('accepted');
    } catch (err: unknown) {
      assert.ok(isEdgeMLError(err) && err.code === 'CONFIG_INVALID');
      const problems = (err as ConfigError).problems.join('\n');
      for (const word of ['include', 'maxInFlight', 'afterCompletion', 'bogus', 'stabilityChecks', 'markerSuffix']) assert.match(problems, new RegExp(word));
    }
    assert.throws(() => parseWatcherConfig(null), /must be an object/);
    assert.throws(() => parseWatcherConfig([]), /must be an object/);
  });

  it('cross-field rules: globs stay relative to the inbox; the timeout exceeds the stability window', () => {
    const r = buildWatcherConfig({ ...WATCHER_CONFIG_DEFAULTS, include: ['/etc/**'], exclude: ['a/../../b'], completionTimeoutMs: 500, stabilityWindowMs: 1000 });
    assert.ok('problems' in r);
    const p = r.problems.join('\n');
    assert.match(p, /\/include\/0: must be relative/);
    assert.match(p, /\/exclude\/0: must not contain '\.\.'/);
    assert.match(p, /completionTimeoutMs/);
  });

  it('the module definition passes the shared self-check and the watcher self-check', () => {
    assert.deepEqual(selfCheck(watcherModule, createLogger({ name: 'test', level: 'silent' })), []);
    assert.deepEqual(watcherSelfCheck(), []);
  });

  it('README documents every twin setting with its default, and exactly the error codes', async () => {
    const text = await readFile(readme, 'utf8');
    for (const [key, value] of Object.entries(WATCHER_CONFIG_DEFAULTS)) {
      const row = text.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
      assert.ok(row !== undefined, `README twin table has ${key}`);
      assert.ok(row.includes(`\`${JSON.stringify(value)}\``), `README default for ${key} is ${JSON.stringify(value)}`);
    }
    const section = text.slice(text.indexOf('## Error codes'));
    const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(documented.sort(), WATCHER_ERROR_CODES.map((c) => c.code).sort());
  });
});
