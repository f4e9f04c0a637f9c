import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createLogger, createTwinConfigBinder, preprocessingSignature, type ConfigReport } from '@edgeml/shared';
import { DEAD_LETTER_CODES, DEFAULT_CHAINS, DEFAULT_PROFILES, TRANSFORMER_CONFIG_SCHEMA, profileSpec, transformerModule, type TransformerConfig } from '@edgeml/transformer';

const README = readFileSync(new URL('../../../modules/transformer/README.md', import.meta.url), 'utf8');

function binder() {
  const reports: ConfigReport[] = [];
  const applied: TransformerConfig[] = [];
  const b = createTwinConfigBinder<TransformerConfig>({
    schema: transformerModule.configSchema,
    build: transformerModule.buildConfig!,
    apply: (c) => {
      applied.push(c);
      return Promise.resolve();
    },
    report: (p) => {
      reports.push(p.config);
      return Promise.resolve();
    },
    logger: createLogger({ name: 'test', level: 'silent' }),
  });
  return { b, reports, applied };
}

describe('transformer/config', () => {
  it('an empty twin yields the documented defaults, cls and det exactly as ENGINEERING.md gives them', () => {
    const r = binder().b.validate({});
    assert.ok('config' in r, JSON.stringify(r));
    const c = r.config;
    assert.deepEqual(c.image.profiles, DEFAULT_PROFILES);
    assert.deepEqual(c.image.profiles['cls'], {
      enabled: true, width: 192, height: 48, resize: 'padRight', colorOrder: 'BGR', layout: 'NCHW', dtype: 'float32',
      scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], background: [127.5, 127.5, 127.5],
    });
    assert.deepEqual(c.image.profiles['det']!.mean, [0.485, 0.456, 0.406]);
    assert.equal(c.maxConcurrentItems, 2);
    assert.equal(c.unknownKinds, 'deadLetter');
    assert.equal(c.table.raggedRows, 'skip');
    assert.ok(Object.isFrozen(c.image.profiles));
  });

  it('default signatures are pinned: the inferencer\'s bundled manifests expect exactly these', () => {
    assert.equal(preprocessingSignature(profileSpec(DEFAULT_PROFILES.cls)), 'pp1-d044e7fd26a7e7fb');
    assert.equal(preprocessingSignature(profileSpec(DEFAULT_PROFILES.det)), 'pp1-03378ef6949be556');
  });

  it('a patch touching one field of cls keeps det and the rest of cls at their defaults', async () => {
    const { b, applied } = binder();
    await b.handle({ kind: 'full', properties: { $version: 1 } });
    const r = await b.handle({ kind: 'patch', properties: { $version: 2, image: { profiles: { cls: { enabled: false } } } } });
    assert.equal(r.status, 'applied', r.problems.join('; '));
    const c = applied.at(-1)!;
    assert.equal(c.image.profiles['cls']!.enabled, false);
    assert.equal(c.image.profiles['cls']!.width, 192);
    assert.deepEqual(c.image.profiles['det'], DEFAULT_PROFILES.det);
  });

  it('a custom profile must give every field', async () => {
    const { b } = binder();
    const ok = await b.handle({
      kind: 'full',
      properties: { $version: 1, image: { profiles: { custom: { width: 320, height: 48, resize: 'fill', colorOrder: 'RGB', layout: 'NHWC', dtype: 'uint8', scale: 1, mean: [0, 0, 0], std: [1, 1, 1], background: [0, 0, 0] } } } },
    });
    assert.equal(ok.status, 'applied', ok.problems.join('; '));
    const bad = await b.handle({ kind: 'full', properties: { $version: 2, image: { profiles: { custom: { width: 320 } } } } });
    assert.equal(bad.status, 'rejected');
    assert.ok(bad.problems.some((p) => p.includes("must have required property 'height'")), bad.problems.join('\n'));
  });

  it('hostile patches are rejected with every problem, and the previous config stays in force', async () => {
    const { b, applied } = binder();
    await b.handle({ kind: 'full', properties: { $version: 1 } });
    const hostile: Record<string, unknown>[] = [
      { maxConcurrentItems: 1_000_000 },
      { maxConcurrentItems: -1, maxQueuedItems: 'many' },
      { surprise: true },
      { image: { limitInputPixels: 1e12 } },
      { image: { profiles: { det: { width: 8192, height: 8192 } } } },
      { image: { profiles: { det: { std: [0, 1, 1] } } } },
      { image: { profiles: { '../evil': DEFAULT_PROFILES.det } } },
      { image: { profiles: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`p${i}`, DEFAULT_PROFILES.det])) } },
      { image: { artifact: { enabled: false }, profiles: { cls: { enabled: false }, det: { enabled: false } } } },
      { image: { artifact: { format: 'gif' } } },
      { table: { columnTypes: { a: 'decimal' } } },
      { table: { nullValues: Array.from({ length: 100 }, (_, i) => `n${i}`) } },
      { table: { delimiter: 'xx', raggedRows: 'ignore' } },
      { table: { maxRecordBytes: 2 ** 40 } },
      { unknownKinds: 'delete' },
    ];
    let version = 2;
    for (const patch of hostile) {
      const r = await b.handle({ kind: 'full', properties: { $version: version++, ...patch } });
      assert.equal(r.status, 'rejected', `accepted: ${JSON.stringify(patch).slice(0, 200)}`);
      assert.ok(r.problems.length > 0);
    }
    const multi = await b.handle({ kind: 'full', properties: { $version: version, maxConcurrentItems: -1, table: { delimiter: 'xx' } } });
    assert.ok(multi.problems.length >= 2, 'every problem is listed');
    assert.equal(applied.length, 1, 'only the first (valid) document was ever applied');
  });

  it('the ocr chain by default (det → cls → rec, rec only on crops); a chain must name profiles that exist, its detector enabled', async () => {
    const { b } = binder();
    const ok = await b.handle({ kind: 'full', properties: { $version: 1 } });
    assert.equal(ok.status, 'applied');
    const c = b.current()!;
    assert.deepEqual(c.chains, DEFAULT_CHAINS);
    assert.equal(c.image.profiles['rec']!.enabled, false, 'the recogniser reads crops, not whole images');
    assert.equal(c.image.profiles['rec']!.widthStep, 320);
    const hostile: Record<string, unknown>[] = [
      { chains: { ocr: { detector: 'nope' } } },
      { chains: { ocr: { reader: 'nope' } } },
      { chains: { ocr: { orientation: 'nope' } } },
      { chains: { ocr: { orientation: 'cls!' } } },
      { image: { profiles: { det: { enabled: false } } } },
      { chains: { other: { enabled: true } } },
      { chains: { ocr: { maxCrops: 10_000 } } },
      { image: { profiles: { det: { widthStep: 32 } } } },
    ];
    let version = 2;
    for (const patch of hostile) {
      const r = await b.handle({ kind: 'full', properties: { $version: version++, ...patch } });
      assert.equal(r.status, 'rejected', `accepted: ${JSON.stringify(patch)}`);
    }
    const noOrientation = await b.handle({ kind: 'full', properties: { $version: version++, chains: { ocr: { orientation: '' } } } });
    assert.equal(noOrientation.status, 'applied', noOrientation.problems.join('; '));
    const off = await b.handle({ kind: 'full', properties: { $version: version, chains: { ocr: { enabled: false } }, image: { profiles: { det: { enabled: false } } } } });
    assert.equal(off.status, 'applied', 'a disabled chain is not checked');
  });

  it('README lists every dead-letter code, and every twin property', () => {
    const section = README.slice(README.indexOf('## Error codes'));
    const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(documented.sort(), Object.keys(DEAD_LETTER_CODES).sort());
    const props = TRANSFORMER_CONFIG_SCHEMA.properties;
    const keys = [
      ...Object.keys(props).filter((k) => k !== 'image' && k !== 'table'),
      ...Object.keys(props.image.properties).filter((k) => k !== 'profiles' && k !== 'artifact').map((k) => `image.${k}`),
      ...Object.keys(props.image.properties.artifact.properties).map((k) => `image.artifact.${k}`),
      ...Object.keys(props.table.properties).map((k) => `table.${k}`),
    ];
    for (const k of keys) {
      const last = k.split('.').at(-1)!;
      assert.ok(README.includes(`\`${k}\``) || README.includes(`.${last}\``) || README.includes(`/ \`.${last}\``), `README twin table misses ${k}`);
    }
  });
});
