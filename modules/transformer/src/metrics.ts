import { Counter, Gauge, Histogram, type Registry } from '@edgeml/shared';

/** Prometheus series of the transformer (`edgeml_transformer_*`, units in names). */
export interface TransformerMetrics {
  /** Items by kind (image, table, other, invalid) and outcome (forwarded, deadLettered, shed, duplicate, sendFailed). */
  readonly items: Counter<'kind' | 'outcome'>;
  readonly inputBytes: Counter<'kind'>;
  /** Bytes written to staging, by output (tensor, artifact). */
  readonly outputBytes: Counter<'output'>;
  readonly stageSeconds: Histogram<'stage'>;
  readonly failures: Counter<'code'>;
  /** Chain work by event: detections (cropped), crops, orientations, ignored. */
  readonly chain: Counter<'event'>;
  readonly inFlight: Gauge;
  readonly queued: Gauge;
}

export function createTransformerMetrics(registry: Registry): TransformerMetrics {
  const registers = [registry];
  return {
    items: new Counter({ name: 'edgeml_transformer_items_total', help: 'Input items by kind and outcome.', labelNames: ['kind', 'outcome'], registers }),
    inputBytes: new Counter({ name: 'edgeml_transformer_input_bytes_total', help: 'Bytes of source files processed, by kind.', labelNames: ['kind'], registers }),
    outputBytes: new Counter({ name: 'edgeml_transformer_output_bytes_total', help: 'Bytes written to staging, by output.', labelNames: ['output'], registers }),
    stageSeconds: new Histogram({
      name: 'edgeml_transformer_stage_duration_seconds',
      help: 'Time per stage (resolve, read, hash, probe, decode, resize, normalize, write, artifact, table_infer, table_convert, table_features, crop, turn, send).',
      labelNames: ['stage'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120, 600],
      registers,
    }),
    failures: new Counter({ name: 'edgeml_transformer_failures_total', help: 'Dead letters by reason code.', labelNames: ['code'], registers }),
    chain: new Counter({ name: 'edgeml_transformer_chain_events_total', help: 'Inference chain work: detections cropped, crops made, orientation steps, results no chain waited for.', labelNames: ['event'], registers }),
    inFlight: new Gauge({ name: 'edgeml_transformer_items_in_flight', help: 'Items being processed now.', registers }),
    queued: new Gauge({ name: 'edgeml_transformer_items_queued', help: 'Items waiting for a processing slot.', registers }),
  };
}

/** Runs `fn`, observing its duration under `stage` (whether it succeeds or throws). */
export async function timeStage<T>(metrics: TransformerMetrics, stage: string, fn: () => Promise<T> | T): Promise<T> {
  const end = metrics.stageSeconds.startTimer({ stage });
  try {
    return await fn();
  } finally {
    end();
  }
}
