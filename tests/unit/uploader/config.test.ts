import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createLogger, createTwinConfigBinder, ERROR_CODES } from '@edgeml/shared';
import { buildUploaderConfig, RateLimiter, UPLOADER_CONFIG_SCHEMA, UPLOADER_DEFAULTS, type UploaderConfig } from '@edgeml/uploader';

const logger = createLogger({ name: 'test', level: 'silent' });
const binder = () =>
  createTwinConfigBinder<UploaderConfig>({ schema: UPLOADER_CONFIG_SCHEMA, build: buildUploaderConfig, apply: () => Promise.resolve(), report: () => Promise.resolve(), logger });

describe('uploader config', () => {
  it('an empty twin yields exactly the documented defaults', () => {
    const r = binder().validate({});
    assert.ok('config' in r);
    assert.deepEqual(JSON.parse(JSON.stringify(r.config)), JSON.parse(JSON.stringify(UPLOADER_DEFAULTS)));
    assert.ok(Object.isFrozen(r.config));
  });

  it('lists every problem at once: unknown keys, bad values, bad templates, cross-field rules', () => {
    const r = binder().validate({
      uploadOrder: 'NewestFirst',
      concurrency: 0,
      classes: { raw: { policy: 'dropAll' } },
      blobNameTemplate: '{deviceId}/{nope}',
      retry: { initialDelayMs: 5_000, maxDelayMs: 1_000 },
      directory: { path: '../escape' },
    });
    assert.ok('problems' in r);
    const text = r.problems.join('\n');
    assert.match(text, /additionalProperties|must NOT have additional properties/);
    assert.match(text, /concurrency/);
    assert.match(text, /policy/);
    // Schema problems come first; build() runs only on a schema-valid document.
    const r2 = binder().validate({ blobNameTemplate: '{deviceId}/{nope}', retry: { initialDelayMs: 5_000, maxDelayMs: 1_000 }, directory: { path: '../escape' } });
    assert.ok('problems' in r2);
    assert.equal(r2.problems.length, 5, r2.problems.join('\n'));
  });

  it('README documents every twin setting and every error code the uploader uses', async () => {
    const readme = await readFile(new URL('../../../modules/uploader/README.md', import.meta.url), 'utf8');
    const walk = (schema: { properties?: Record<string, unknown> }, prefix: string): string[] =>
      Object.entries(schema.properties ?? {}).flatMap(([k, v]) => {
        const name = prefix === '' ? k : `${prefix}.${k}`;
        const child = v as { properties?: Record<string, unknown> };
        return child.properties === undefined ? [name] : walk(child, name);
      });
    for (const key of walk(UPLOADER_CONFIG_SCHEMA as never, '')) assert.ok(readme.includes(`\`${key}\``), `README twin table lacks ${key}`);
    const errorSection = readme.slice(readme.indexOf('## Error codes'));
    const codes = [...errorSection.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1] ?? '');
    assert.ok(codes.length >= 5);
    for (const c of codes) assert.ok(c in ERROR_CODES, `README lists unknown error code ${c}`);
  });
});

describe('uploader RateLimiter (fake clock)', () => {
  it('holds the average to bytesPerSecond', async () => {
    let t = 0;
    const slept: number[] = [];
    const limiter = new RateLimiter(1000, { now: () => t, sleep: (ms) => ((t += ms), slept.push(ms), Promise.resolve()) });
    for (let i = 0; i < 10; i++) await limiter.take(500);
    // 5000 bytes at 1000 B/s with a 1000-byte initial burst: 4 s of waiting.
    assert.ok(Math.abs(t - 4000) <= 10, `took ${t} ms`);
  });
  it('0 means no cap', async () => {
    const limiter = new RateLimiter(0, { now: () => 0, sleep: () => Promise.reject(new Error('must not sleep')) });
    await limiter.take(1e9);
  });
  it('a wait is abortable', async () => {
    const limiter = new RateLimiter(1, { now: () => 0 });
    await limiter.take(1);
    await assert.rejects(limiter.take(10, AbortSignal.abort()), /aborted/);
  });
});
