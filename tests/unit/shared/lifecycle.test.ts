import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMemoryEdgeClient, runModule, selfCheck, createLogger, type ModuleApp, type ModuleDefinition } from '@edgeml/shared';
import { Writable } from 'node:stream';

interface Cfg {
  readonly batch: number;
}

function definition(events: string[]): ModuleDefinition<Cfg> {
  return {
    name: 'probe',
    configSchema: { type: 'object', additionalProperties: false, properties: { batch: { type: 'integer', minimum: 1, default: 4 } } },
    createApp: (): ModuleApp<Cfg> => {
      let cfg: Cfg | undefined;
      return {
        configure: (c) => ((cfg = c), events.push(`configure:${c.batch}`), Promise.resolve()),
        start: () => (events.push('start'), Promise.resolve()),
        stop: () => (events.push('stop'), Promise.resolve()),
        status: () => ({ batch: cfg?.batch ?? null }),
        ready: () => ({ ready: true, reasons: [] }),
      };
    },
  };
}

describe('shared/lifecycle runModule', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(path.join(tmpdir(), 'edgeml-life-'))));
  after(() => rm(dir, { recursive: true, force: true }));
  const env = () => ({ EDGEML_DATA_ROOT: dir, EDGEML_METRICS_PORT: '0', EDGEML_LOG_LEVEL: 'silent' });

  it('configures from the twin before start, applies live patches, rejects bad ones, and stops once', async () => {
    const events: string[] = [];
    const edge = createMemoryEdgeClient({ moduleId: 'probe', initialDesired: { batch: 8 } });
    const running = await runModule(definition(events), { env: env(), argv: [], connect: () => Promise.resolve(edge) });
    assert.deepEqual(events, ['configure:8', 'start']);
    assert.equal((edge.reported['config'] as { status: string }).status, 'applied');

    edge.pushDesired({ kind: 'patch', properties: { $version: 2, batch: 0, extra: 1 } });
    await new Promise((r) => setTimeout(r, 20));
    const cfg = edge.reported['config'] as { status: string; problems: string[]; effective: { batch: number }; desiredVersion: number };
    assert.equal(cfg.status, 'rejected');
    assert.equal(cfg.desiredVersion, 2);
    assert.equal(cfg.problems.length, 2);
    assert.equal(cfg.effective.batch, 8);

    const status = await edge.invoke('getStatus', null);
    assert.equal(status.status, 200);
    assert.equal((status.payload as { batch: number }).batch, 8);
    const bad = await edge.invoke('getStatus', { unexpected: true });
    assert.equal(bad.status, 400);

    const health = await fetch(`http://127.0.0.1:${running.ops.port}/health/ready`);
    assert.equal(health.status, 200);
    await Promise.all([running.stop('test'), running.stop('again')]);
    assert.deepEqual(events, ['configure:8', 'start', 'stop']);
    assert.equal(edge.opened, false);
  });

  it('falls back to defaults when the twin at start is invalid, and says so in reported properties', async () => {
    const events: string[] = [];
    const edge = createMemoryEdgeClient({ initialDesired: { batch: 'many' } });
    const running = await runModule(definition(events), { env: env(), argv: [], connect: () => Promise.resolve(edge) });
    assert.deepEqual(events, ['configure:4', 'start']);
    assert.equal((edge.reported['config'] as { status: string }).status, 'rejected');
    await running.stop('test');
  });

  it('selfCheck validates the defaults', () => {
    const silent = createLogger({ name: 't', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    assert.deepEqual(selfCheck(definition([]), silent), []);
    assert.equal(selfCheck({ ...definition([]), configSchema: { type: 'object', required: ['x'] } }, silent).length, 1);
  });
});
