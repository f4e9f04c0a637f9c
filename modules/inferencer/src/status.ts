/**
 * What the inferencer says about itself: Prometheus metrics, the counts behind `getStatus` and the
 * periodic `status` reported property, and the `runtime` + `models` reported properties.
 */
import { Counter, Gauge, Histogram, type Registry } from '@edgeml/shared';
import type { BatchInfo } from './batcher.js';
import { profileOfKey } from './execution.js';

const TIME_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Counters of the module's life, reported as they are. */
export interface InferencerCounts {
  received: number;
  results: number;
  deadLettered: number;
  deferred: number;
  /** Not taken because the module was stopping or a result could not be sent: the watcher re-emits. */
  retried: number;
  swaps: number;
  swapFailures: number;
}

export function createCounts(): InferencerCounts {
  return { received: 0, results: 0, deadLettered: 0, deferred: 0, retried: 0, swaps: 0, swapFailures: 0 };
}

/** Live values the gauges read when scraped. */
export interface GaugeSources {
  queueDepth(): number;
  admittedItems(): number;
  admittedBytes(): number;
  stagingHeld(): number;
}

export function createInferencerMetrics(registry: Registry, sources: GaugeSources) {
  return {
    queueDepth: new Gauge({ name: 'edgeml_inferencer_queue_depth_items', help: 'Tensors waiting for a batch', registers: [registry], collect() { this.set(sources.queueDepth()); } }),
    admittedItems: new Gauge({ name: 'edgeml_inferencer_admitted_items', help: 'Tensors admitted (queued or running)', registers: [registry], collect() { this.set(sources.admittedItems()); } }),
    admittedBytes: new Gauge({ name: 'edgeml_inferencer_admitted_bytes', help: 'Tensor bytes admitted (queued or running)', registers: [registry], collect() { this.set(sources.admittedBytes()); } }),
    stagingHeld: new Gauge({ name: 'edgeml_inferencer_staging_files_held', help: 'Tensor files in staging named by messages in flight', registers: [registry], collect() { this.set(sources.stagingHeld()); } }),
    stagingRemoved: new Counter({ name: 'edgeml_inferencer_staging_removed_bytes_total', help: 'Bytes of tensor files removed from staging once used', registers: [registry] }),
    batchSize: new Histogram({ name: 'edgeml_inferencer_batch_size_items', help: 'Tensors per model run', labelNames: ['profile'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [registry] }),
    queueTime: new Histogram({ name: 'edgeml_inferencer_queue_time_seconds', help: 'Time a tensor waited for its batch', labelNames: ['profile'], buckets: TIME_BUCKETS_S, registers: [registry] }),
    inferTime: new Histogram({ name: 'edgeml_inferencer_inference_time_seconds', help: 'Model run time per batch', labelNames: ['profile', 'provider'], buckets: TIME_BUCKETS_S, registers: [registry] }),
    postprocessTime: new Histogram({ name: 'edgeml_inferencer_postprocess_time_seconds', help: 'Post-processing time per batch (in the session worker)', labelNames: ['profile'], buckets: TIME_BUCKETS_S, registers: [registry] }),
    results: new Counter({ name: 'edgeml_inferencer_results_total', help: 'Results sent, by profile and label', labelNames: ['profile', 'label'], registers: [registry] }),
    failures: new Counter({ name: 'edgeml_inferencer_failures_total', help: 'Tensors not turned into a result, by reason', labelNames: ['code'], registers: [registry] }),
    deferred: new Counter({ name: 'edgeml_inferencer_deferred_total', help: 'Tensors handed back to the watcher to offer again later, by reason (OVERLOADED: the intake bound was reached)', labelNames: ['code'], registers: [registry] }),
    swaps: new Counter({ name: 'edgeml_inferencer_model_swaps_total', help: 'Model loads by outcome', labelNames: ['profile', 'outcome'], registers: [registry] }),
  };
}

export type InferencerMetrics = ReturnType<typeof createInferencerMetrics>;

/** Records one model run: its size and each item's wait for it, per profile. */
export function observeBatch(metrics: InferencerMetrics, info: BatchInfo): void {
  const profile = profileOfKey(info.key);
  metrics.batchSize.observe({ profile }, info.size);
  for (const q of info.queueMs) metrics.queueTime.observe({ profile }, q / 1000);
}
