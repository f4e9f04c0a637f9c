import { SCHEMAS, assertValidMessage, type ModuleDefinition } from '@edgeml/shared';
import { createAggregatorApp } from './app.js';
import { AGGREGATOR_CONFIG_SCHEMA, buildAggregatorConfig, type AggregatorConfig } from './config.js';
import { Gatherings } from './gather.js';
import { buildChainResult } from './result.js';

/** The aggregator as the shared runtime runs it (`runModule(aggregatorModule, …)`). */
export const aggregatorModule: ModuleDefinition<AggregatorConfig> = {
  name: 'aggregator',
  configSchema: AGGREGATOR_CONFIG_SCHEMA,
  buildConfig: buildAggregatorConfig,
  createApp: (deps) => createAggregatorApp(deps),
};

/**
 * `--self-check` beyond config defaults: a plan and its one reading gathered into a result that
 * passes its contract (the contract validators and every import load). Returns the problems.
 */
export function aggregatorSelfCheck(): string[] {
  try {
    const zero = '0'.repeat(64);
    const source = { path: 'inbox/self-check.png', sha256: zero, sizeBytes: 1, detectedAt: new Date(0).toISOString() };
    const model = { name: 'self-check', version: '1', sha256: zero };
    const parts = ['chain:ocr'];
    const g = new Gatherings({ maxRuns: () => 1, gatherTimeoutMs: () => 1000, nowMs: () => 0 });
    const box = { points: [[0, 0], [10, 0], [10, 5], [0, 5]] as [number, number][], bbox: { x: 0, y: 0, width: 10, height: 5 } };
    g.addPlan({
      schema: SCHEMAS.crops,
      id: zero,
      messageId: 'self-check',
      source,
      part: 'chain:ocr',
      expectedParts: parts,
      chain: { name: 'ocr', run: 'r', orientation: null, reader: 'rec' },
      detection: { part: 'result:det', messageId: 'd', model },
      crops: [{ index: 0, row: 0, ...box, score: 1, width: 10, height: 5, rotated90: false }],
      droppedBoxes: 0,
      createdAt: source.detectedAt,
    });
    const outcome = g.addReading({
      schema: SCHEMAS.result,
      id: zero,
      messageId: 'r0',
      source,
      part: 'chain:ocr',
      expectedParts: parts,
      model,
      runtime: { provider: 'cpu', batchSize: 1, queueMs: 0, inferMs: 0 },
      outputs: { text: 'ok', confidence: 1 },
      chain: { name: 'ocr', run: 'r', step: 'read', index: 0, count: 1 },
      createdAt: source.detectedAt,
    });
    if (outcome.kind !== 'complete') return [`gathering: a one-crop run is ${outcome.kind} after its plan and reading`];
    const result = buildChainResult(outcome.run, { minConfidence: 0.5, now: new Date(0) });
    assertValidMessage(result);
    return result.text === 'ok' ? [] : [`result text ${JSON.stringify(result.text)}`];
  } catch (err: unknown) {
    return [`self-check: ${(err as Error).message}`];
  }
}
