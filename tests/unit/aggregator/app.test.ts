import assert from 'node:assert/strict';
import { aggregatorModule, aggregatorSelfCheck, createAggregatorApp, type AggregatorApp, type AggregatorConfig } from '@edgeml/aggregator';
import { Registry, SCHEMAS, createLogger, createMemoryEdgeClient, createTwinConfigBinder, dataPaths, selfCheck, type CompletionMessage, type CropsMessage, type MemoryEdgeClient } from '@edgeml/shared';

const ID = 'e'.repeat(64);
const source = { path: 'inbox/e.png', sha256: ID, sizeBytes: 10, detectedAt: '2026-11-24T12:00:00.000Z' };
const logger = createLogger({ name: 'test', level: 'silent' });

function config(desired: Record<string, unknown> = {}): AggregatorConfig {
  const b = createTwinConfigBinder<AggregatorConfig>({ schema: aggregatorModule.configSchema, build: aggregatorModule.buildConfig!, apply: () => Promise.resolve(), report: () => Promise.resolve(), logger });
  const r = b.validate(desired);
  if ('problems' in r) throw new Error(r.problems.join('; '));
  return r.config;
}

function plan(crops: number, run = 'run-1'): CropsMessage {
  return {
    schema: SCHEMAS.crops,
    id: ID,
    messageId: `p-${run}`,
    source,
    part: 'chain:ocr',
    expectedParts: ['artifact', 'result:det', 'chain:ocr'],
    chain: { name: 'ocr', run, orientation: null, reader: 'rec' },
    detection: { part: 'result:det', messageId: 'det', model: { name: 'det', version: '1', sha256: 'd'.repeat(64) } },
    crops: Array.from({ length: crops }, (_, index) => ({ index, row: index, points: [[0, 0], [10, 0], [10, 5], [0, 5]], bbox: { x: 0, y: 0, width: 10, height: 5 }, score: 1, width: 10, height: 5, rotated90: false })),
    droppedBoxes: 0,
    createdAt: source.detectedAt,
  };
}

describe('aggregator app (memory edge client, injected clock)', () => {
  let clock = 0;
  let edge: MemoryEdgeClient;
  let app: AggregatorApp;
  const completions = (): CompletionMessage[] => edge.sentTo('completed').map((m) => m.json as CompletionMessage);
  beforeEach(async () => {
    clock = Date.parse('2026-11-24T12:00:00.000Z');
    edge = createMemoryEdgeClient({ moduleId: 'aggregator' });
    app = createAggregatorApp({ edge, logger, registry: new Registry(), paths: dataPaths('/nonexistent'), env: {}, now: () => new Date(clock) });
    await app.configure(config({ gatherTimeoutMs: 5_000 }), undefined);
    await app.start();
  });
  afterEach(() => app.stop(AbortSignal.timeout(1000)));

  it('the defaults validate and the self-check gathers a run into a valid result', () => {
    assert.deepEqual(selfCheck(aggregatorModule, logger), []);
    assert.deepEqual(aggregatorSelfCheck(), []);
  });

  it('an image without text: the plan alone sends the per-file result, on `results`, with routing properties', async () => {
    await edge.deliver('crops', plan(0));
    const [sent] = edge.sentTo('results');
    assert.ok(sent);
    assert.equal((sent.json as { schema: string }).schema, SCHEMAS.chainResult);
    assert.deepEqual(sent.properties, { schema: SCHEMAS.chainResult, id: ID, part: 'chain:ocr', chain: 'ocr', items: '0', accepted: '0', text: '' });
    assert.equal(app.gathering(), 0);
    assert.equal((app.status()['counts'] as { results: number }).results, 1);
  });

  it('a run that hears nothing for gatherTimeoutMs is handed back to the watcher (deferred, TIMEOUT), so the source comes again at once', async () => {
    await edge.deliver('crops', plan(2));
    clock += 4_000;
    await app.sweep();
    assert.deepEqual(completions(), []);
    clock += 1_000;
    await app.sweep();
    const [c] = completions();
    assert.ok(c);
    assert.deepEqual([c.outcome, c.code, c.part, c.retryAfterMs], ['deferred', 'TIMEOUT', 'chain:ocr', 1_000]);
    assert.deepEqual(c.expectedParts, ['artifact', 'result:det', 'chain:ocr']);
    assert.match(c.reason ?? '', /misses the readings of crops 0, 1/);
    assert.equal(app.gathering(), 0);
  });

  it('stopping hands back every run still gathering', async () => {
    await edge.deliver('crops', plan(1, 'a'));
    await app.stop(AbortSignal.timeout(1000));
    assert.deepEqual(completions().map((c) => [c.outcome, c.code]), [['deferred', 'ABORTED']]);
  });

  it('malformed input: dead-lettered with the chain part it names (completion + alert), or alert only', async () => {
    await edge.deliver('readings', { ...plan(1), schema: SCHEMAS.result });
    await edge.deliver('readings', '{nope');
    const [c] = completions();
    assert.deepEqual([c?.outcome, c?.code, c?.part], ['deadLettered', 'MESSAGE_INVALID', 'chain:ocr']);
    assert.equal(completions().length, 1, 'nothing to acknowledge for a body that is not JSON');
    assert.equal(edge.sentTo('alerts').length, 2);
    // A result that is not a chain's reading (no link) is refused the same way.
    await edge.deliver('readings', { schema: SCHEMAS.result, id: ID, messageId: 'x', source, part: 'chain:ocr', expectedParts: ['chain:ocr'], model: { name: 'm', version: '1', sha256: ID }, runtime: { provider: 'cpu', batchSize: 1, queueMs: 0, inferMs: 0 }, outputs: {}, createdAt: source.detectedAt });
    assert.match(completions()[1]?.reason ?? '', /chain's last step/);
  });
});
