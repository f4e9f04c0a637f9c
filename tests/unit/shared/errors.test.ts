import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { ConfigError, EdgeMLError, ERROR_CODES, errorCode, isEdgeMLError } from '@edgeml/shared';

describe('shared/errors', () => {
  it('README lists exactly the error codes the code defines, with the same meaning', async () => {
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    const section = readme.split(/^## Error codes$/m)[1]?.split(/^## /m)[0];
    assert.ok(section !== undefined, 'README.md has an "## Error codes" section');
    const rows = new Map<string, string>();
    for (const m of section.matchAll(/^\| `([A-Z_]+)` \| (.+?) \|$/gm)) rows.set(m[1]!, m[2]!);
    assert.deepEqual([...rows.keys()].sort(), Object.keys(ERROR_CODES).sort());
    for (const [code, meaning] of Object.entries(ERROR_CODES)) assert.equal(rows.get(code), meaning, code);
  });

  it('carries code and cause, and is recognised without instanceof', () => {
    const cause = new Error('socket hang up');
    const err = new EdgeMLError('SINK_UNAVAILABLE', 'upload failed', { cause, details: { attempt: 3 } });
    assert.equal(err.code, 'SINK_UNAVAILABLE');
    assert.equal(err.cause, cause);
    assert.equal(err.details?.['attempt'], 3);
    assert.ok(isEdgeMLError(err));
    assert.ok(isEdgeMLError(Object.assign(Object.create(null) as object, { [Symbol.for('@edgeml/error')]: true })));
    assert.equal(errorCode(new Error('x')), 'INTERNAL');
    const cfg = new ConfigError('bad twin', ['/a: must be integer', '/b: must be string']);
    assert.equal(cfg.code, 'CONFIG_INVALID');
    assert.deepEqual(cfg.problems, ['/a: must be integer', '/b: must be string']);
    assert.match(cfg.message, /\/a: must be integer; \/b: must be string/);
  });
});
