import { tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow';
import type { ModuleDefinition } from '@edgeml/shared';
import { createTransformerApp } from './app.js';
import { TRANSFORMER_CONFIG_SCHEMA, buildTransformerConfig, type TransformerConfig } from './config.js';
import { encodeRgb, probeImage } from './image/sharp.js';

/** The transformer as the shared runtime runs it (`runModule(transformerModule, …)`). */
export const transformerModule: ModuleDefinition<TransformerConfig> = {
  name: 'transformer',
  configSchema: TRANSFORMER_CONFIG_SCHEMA,
  buildConfig: buildTransformerConfig,
  createApp: createTransformerApp,
};

/**
 * `--self-check` beyond config defaults: sharp's native addon decodes and encodes an image, and
 * apache-arrow round-trips a table. Returns the problems (empty when fine).
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
  try {
    const t = tableFromIPC(tableToIPC(tableFromArrays({ a: new BigInt64Array([1n, 2n]) }), 'file'));
    if (t.numRows !== 2 || String(t.schema.fields[0]?.type) !== 'Int64' || t.getChild('a')?.get(1) !== 2n) {
      problems.push('apache-arrow: round trip failed');
    }
  } catch (err: unknown) {
    problems.push(`apache-arrow: ${(err as Error).message}`);
  }
  return problems;
}
