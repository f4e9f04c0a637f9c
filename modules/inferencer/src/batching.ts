/**
 * The batching in force for one model, from three sources in order: the twin's model entry, the
 * model manifest's hint for the provider the model actually runs on (measured defaults, see
 * models/bundled.ts), and the twin's global `maxBatchSize`, which caps everything. Pure.
 */
import type { InferencerConfig, ModelEntry } from './config.js';
import type { ModelManifest } from './models/manifest.js';
import type { ExecutionProviderName } from './session/types.js';

export interface Batching {
  /** Largest batch run (1 for a model whose batch dimension is fixed at 1). */
  readonly maxBatchSize: number;
  /** Sizes dispatched as soon as they can be formed, ascending, each ≤ maxBatchSize. */
  readonly preferredBatchSizes: readonly number[];
}

export function effectiveBatching(
  model: { readonly entry: ModelEntry; readonly manifest: ModelManifest; readonly provider: ExecutionProviderName; readonly fixedBatchOne: boolean },
  config: Pick<InferencerConfig, 'maxBatchSize'>,
): Batching {
  if (model.fixedBatchOne) return { maxBatchSize: 1, preferredBatchSizes: [] };
  const hint = model.manifest.batching?.[model.provider] ?? {};
  const own = model.entry.maxBatchSize ?? hint.maxBatchSize ?? config.maxBatchSize;
  const maxBatchSize = Math.max(1, Math.min(config.maxBatchSize, own));
  const preferred = model.entry.preferredBatchSizes ?? hint.preferredBatchSizes ?? [];
  return { maxBatchSize, preferredBatchSizes: [...new Set(preferred.filter((p) => p >= 1 && p <= maxBatchSize))].sort((a, b) => a - b) };
}

/** The batch sizes a model is warmed up at: the largest first, then every preferred size. */
export function warmupBatchSizes(batching: Batching): number[] {
  return [...new Set([batching.maxBatchSize, ...batching.preferredBatchSizes])].sort((a, b) => b - a);
}
