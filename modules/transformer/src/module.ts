import { tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow';
import type { ModuleDefinition } from '@edgeml/shared';
import { createTransformerApp } from './app.js';
import { TRANSFORMER_CONFIG_SCHEMA, buildTransformerConfig, type TransformerConfig } from './config.js';
import { PADDLE_CLS_SPEC } from '@edgeml/shared';
import { planResize } from './image/geometry.js';
import { encodeRgb, probeImage } from './image/sharp.js';
import { TensorWorkerPool, createInlineTensorEncoder } from './image/tensor-pool.js';
import { createDuckDbEngine } from './table/duckdb.js';

/** The transformer as the shared runtime runs it (`runModule(transformerModule, …)`). */
export const transformerModule: ModuleDefinition<TransformerConfig> = {
  name: 'transformer',
  configSchema: TRANSFORMER_CONFIG_SCHEMA,
  buildConfig: buildTransformerConfig,
  createApp: (deps) => createTransformerApp(deps),
};

/**
 * `--self-check` beyond config defaults: sharp's native addon decodes and encodes an image, a tensor
 * worker thread starts (its entry file ships beside this one) and builds the same tensor file as the
 * main thread, apache-arrow round-trips a table, and DuckDB's native addon loads and answers a query. Returns the problems (empty when fine).
 */
export async function transformerSelfCheck(): Promise<string[]> {
  const problems: string[] = [];
  try {
    const png = await encodeRgb({ data: new Uint8Array([255, 0, 0, 0, 255, 0]), width: 2, height: 1 }, 'png');
    const probe = await probeImage(png, 100);
    if (probe.width !== 2 || probe.height !== 1) problems.push(`sharp: probe returned ${probe.width}×${probe.height}`);
  } catch (err: unknown) {
    problems.push(`sharp: ${(err as Error).message}`);
  }
  const pool = new TensorWorkerPool({ threads: 1 });
  try {
    const plan = planResize(4, 2, PADDLE_CLS_SPEC);
    const pixels = { data: new Uint8Array(plan.resizeWidth * plan.resizeHeight * 3).fill(200), width: plan.resizeWidth, height: plan.resizeHeight };
    const [onWorker, inline] = await Promise.all([pool.encode(pixels, plan, PADDLE_CLS_SPEC), createInlineTensorEncoder().encode(pixels, plan, PADDLE_CLS_SPEC)]);
    if (onWorker.sha256 !== inline.sha256) problems.push('tensor worker: its tensor file differs from the main thread\'s');
  } catch (err: unknown) {
    problems.push(`tensor worker: ${(err as Error).message}`);
  } finally {
    await pool.close();
  }
  try {
    const t = tableFromIPC(tableToIPC(tableFromArrays({ a: new BigInt64Array([1n, 2n]) }), 'file'));
    if (t.numRows !== 2 || String(t.schema.fields[0]?.type) !== 'Int64' || t.getChild('a')?.get(1) !== 2n) {
      problems.push('apache-arrow: round trip failed');
    }
  } catch (err: unknown) {
    problems.push(`apache-arrow: ${(err as Error).message}`);
  }
  const engine = createDuckDbEngine(() => ({ memoryLimitBytes: 64 * 1024 * 1024, threads: 1 }));
  try {
    const session = await engine.session();
    try {
      const [row] = await session.all('SELECT 40 + 2 AS answer');
      if (Number(row?.['answer']) !== 42) problems.push('duckdb: SELECT 40 + 2 did not answer 42');
    } finally {
      session.close();
    }
  } catch (err: unknown) {
    problems.push(`duckdb: ${(err as Error).message}`);
  } finally {
    engine.close();
  }
  return problems;
}
