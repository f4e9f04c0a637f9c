import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, createTwinConfigBinder, mergePatch, redactUrl, redactUrlsInText, type ConfigReport } from '@edgeml/shared';

const silent = createLogger({ name: 't', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxInFlight: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 },
    stabilityMs: { type: 'integer', minimum: 0, default: 2_000 },
    patterns: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { include: { type: 'array', items: { type: 'string', maxLength: 256 }, default: ['**/*'] } },
    },
    afterCompletion: { enum: ['keep', 'move', 'delete'], default: 'keep' },
  },
} as const;

interface Cfg {
  maxInFlight: number;
  stabilityMs: number;
  patterns: { include: string[] };
  afterCompletion: string;
}

function setup(build?: (v: Record<string, unknown>) => { config: Cfg } | { problems: string[] }) {
  const applied: Cfg[] = [];
  const reports: ConfigReport[] = [];
  const binder = createTwinConfigBinder<Cfg>({
    schema,
    ...(build === undefined ? {} : { build }),
    apply: (cfg) => (applied.push(cfg), Promise.resolve()),
    report: (p) => (reports.push(p.config), Promise.resolve()),
    logger: silent,
  });
  return { binder, applied, reports };
}

describe('shared/config binder', () => {
  it('fills defaults from an empty twin and reports applied with the effective config', async () => {
    const { binder, reports } = setup();
    const r = await binder.handle({ kind: 'full', properties: { $version: 1 } });
    assert.equal(r.status, 'applied');
    assert.equal(r.desiredVersion, 1);
    assert.deepEqual(binder.current(), { maxInFlight: 100, stabilityMs: 2_000, patterns: { include: ['**/*'] }, afterCompletion: 'keep' });
    assert.ok(Object.isFrozen(binder.current()) && Object.isFrozen(binder.current()!.patterns));
    assert.deepEqual(reports[0]!.effective, binder.current());
  });

  it('rejects a bad patch listing every problem and keeps the previous config in force', async () => {
    const { binder, applied, reports } = setup();
    await binder.handle({ kind: 'full', properties: { $version: 1, maxInFlight: 7 } });
    const before = binder.current();
    const r = await binder.handle({
      kind: 'patch',
      properties: { $version: 2, maxInFlight: -5, stabilityMs: 'slow', afterCompletion: 'shred', bogusKey: true, patterns: { include: ['x'.repeat(4096)] } },
    });
    assert.equal(r.status, 'rejected');
    assert.equal(r.desiredVersion, 2);
    assert.equal(r.problems.length, 5, r.problems.join('\n'));
    assert.ok(r.problems.some((p) => p.startsWith('/maxInFlight')));
    assert.ok(r.problems.some((p) => p.startsWith('/stabilityMs')));
    assert.ok(r.problems.some((p) => p.startsWith('/afterCompletion')));
    assert.ok(r.problems.some((p) => p.includes("'bogusKey'")));
    assert.ok(r.problems.some((p) => p.startsWith('/patterns/include/0')));
    assert.equal(binder.current(), before, 'previous config object still in force');
    assert.equal(applied.length, 1);
    assert.equal(reports.at(-1)!.effective['maxInFlight'], 7);
  });

  it('judges a later fixing patch together with the rest of the rejected one (mirror of the cloud twin)', async () => {
    const { binder } = setup();
    await binder.handle({ kind: 'full', properties: { $version: 1 } });
    await binder.handle({ kind: 'patch', properties: { $version: 2, maxInFlight: 0, stabilityMs: 50 } });
    const r = await binder.handle({ kind: 'patch', properties: { $version: 3, maxInFlight: 5 } });
    assert.equal(r.status, 'applied');
    assert.equal(binder.current()!.maxInFlight, 5);
    assert.equal(binder.current()!.stabilityMs, 50);
  });

  it('null deletes a key (back to its default); a full update replaces the mirror', async () => {
    const { binder } = setup();
    await binder.handle({ kind: 'full', properties: { $version: 1, maxInFlight: 9 } });
    await binder.handle({ kind: 'patch', properties: { $version: 2, maxInFlight: null } });
    assert.equal(binder.current()!.maxInFlight, 100);
    await binder.handle({ kind: 'full', properties: { $version: 5, stabilityMs: 1 } });
    assert.equal(binder.current()!.stabilityMs, 1);
    assert.equal(binder.current()!.maxInFlight, 100);
  });

  it('cross-field build problems and apply failures reject too', async () => {
    const { binder } = setup((v) => ((v['stabilityMs'] as number) > 10_000 && v['afterCompletion'] === 'delete' ? { problems: ['delete needs stabilityMs ≤ 10000'] } : { config: v as unknown as Cfg }));
    const r = await binder.handle({ kind: 'full', properties: { $version: 1, stabilityMs: 20_000, afterCompletion: 'delete' } });
    assert.deepEqual(r.problems, ['delete needs stabilityMs ≤ 10000']);

    const failing = createTwinConfigBinder<Cfg>({ schema, apply: () => Promise.reject(new Error('port busy')), report: () => Promise.resolve(), logger: silent });
    const f = await failing.handle({ kind: 'full', properties: { $version: 1 } });
    assert.equal(f.status, 'rejected');
    assert.match(f.problems[0]!, /port busy/);
    assert.equal(failing.current(), undefined);
  });

  it('applies updates in arrival order even when they overlap', async () => {
    const order: number[] = [];
    const binder = createTwinConfigBinder<Cfg>({
      schema,
      apply: async (cfg) => {
        await new Promise((r) => setTimeout(r, cfg.maxInFlight === 1 ? 30 : 0));
        order.push(cfg.maxInFlight);
      },
      report: () => Promise.resolve(),
      logger: silent,
    });
    await Promise.all([binder.handle({ kind: 'full', properties: { $version: 1, maxInFlight: 1 } }), binder.handle({ kind: 'patch', properties: { $version: 2, maxInFlight: 2 } })]);
    assert.deepEqual(order, [1, 2]);
    assert.equal(binder.current()!.maxInFlight, 2);
  });

  it('mergePatch follows RFC 7386', () => {
    assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: [1] }, f: 'x' }), { a: 1, b: { d: 3, e: [1] }, f: 'x' });
  });
});

describe('shared/config binder: no secret in reported properties', () => {
  const urlSchema = {
    type: 'object',
    additionalProperties: false,
    properties: { models: { type: 'object', default: {}, additionalProperties: { type: 'object', properties: { uri: { type: 'string' } } } } },
  } as const;
  const sas = 'https://acct.blob.core.windows.net/models/cls/3/model.onnx?sv=2024-05-04&se=2030-01-01&sr=b&sp=r&sig=AbCdEf0123456789%2Bsecret%3D';

  it('reports URLs in the effective configuration without their query string; the module still gets the whole URL', async () => {
    const reports: ConfigReport[] = [];
    let applied: { models: Record<string, { uri: string }> } | undefined;
    const binder = createTwinConfigBinder<{ models: Record<string, { uri: string }> }>({
      schema: urlSchema,
      apply: (cfg) => ((applied = cfg), Promise.resolve()),
      report: (p) => (reports.push(p.config), Promise.resolve()),
      logger: silent,
    });
    await binder.handle({ kind: 'full', properties: { models: { cls: { uri: sas } }, $version: 1 } });
    assert.equal(applied?.models['cls']?.uri, sas, 'the module receives the real URL');
    const reported = JSON.stringify(reports.at(-1));
    assert.doesNotMatch(reported, /sig=|sv=2024|secret/);
    assert.equal((reports.at(-1)!.effective['models'] as Record<string, { uri: string }>)['cls']!.uri, 'https://acct.blob.core.windows.net/models/cls/3/model.onnx?[query hidden]');
    assert.doesNotMatch(JSON.stringify(binder.lastReport()), /sig=/);
  });

  it('reports a rejected or failed apply without the URL query either', async () => {
    const reports: ConfigReport[] = [];
    const binder = createTwinConfigBinder<{ models: Record<string, { uri: string }> }>({
      schema: urlSchema,
      apply: (cfg) => Promise.reject(new Error(`download of ${cfg.models['cls']?.uri ?? ''} failed`)),
      report: (p) => (reports.push(p.config), Promise.resolve()),
      logger: silent,
    });
    await binder.handle({ kind: 'full', properties: { models: { cls: { uri: sas } }, $version: 2 } });
    assert.equal(reports.at(-1)!.status, 'rejected');
    assert.doesNotMatch(JSON.stringify(reports.at(-1)), /sig=/);
    assert.match(reports.at(-1)!.problems[0]!, /model\.onnx\?\[query hidden\] failed/);
  });

  it('redactUrl drops the query and user information, and leaves other text alone', () => {
    assert.equal(redactUrl('https://user:pw@host.example:8443/a/b?x=1#frag'), 'https://host.example:8443/a/b?[query hidden]');
    assert.equal(redactUrl('https://host.example/a/b'), 'https://host.example/a/b');
    assert.equal(redactUrl('https://u:p@host.example/a'), 'https://host.example/a');
    assert.equal(redactUrlsInText(`see ${sas} and then "${sas}"`), 'see https://acct.blob.core.windows.net/models/cls/3/model.onnx?[query hidden] and then "https://acct.blob.core.windows.net/models/cls/3/model.onnx?[query hidden]"');
    assert.equal(redactUrlsInText('no url here: a=b?c'), 'no url here: a=b?c');
  });
});
