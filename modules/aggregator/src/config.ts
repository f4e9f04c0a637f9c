/**
 * Desired properties of the aggregator: JSON Schema (defaults, additionalProperties:false) and the
 * frozen typed configuration built from it. The shared twin binder merges, validates, applies or
 * rejects, and reports.
 */

/** Defaults in one place (the schema below takes them from here). */
export const AGGREGATOR_DEFAULTS = {
  // PaddleOCR's drop_score: a line read with less confidence is kept in `items` but not in `text`.
  minConfidence: 0.5,
  // A run that has heard nothing for this long lost a message on the way (a module restarted
  // mid-run): it is handed back to the watcher, which offers the source again at once.
  gatherTimeoutMs: 120_000,
  // One run is a few hundred bytes plus its readings (a few hundred bytes each).
  maxRuns: 1024,
  statusReportIntervalMs: 60_000,
} as const;

export const AGGREGATOR_CONFIG_SCHEMA = {
  $id: 'https://edgeml.example/schemas/aggregator.desired.json',
  title: 'aggregator desired properties',
  type: 'object',
  additionalProperties: false,
  properties: {
    minConfidence: { type: 'number', minimum: 0, maximum: 1, default: AGGREGATOR_DEFAULTS.minConfidence, description: 'Items read with a lower confidence (or score) are not accepted: listed, but not in the text.' },
    gatherTimeoutMs: { type: 'integer', minimum: 1_000, maximum: 86_400_000, default: AGGREGATOR_DEFAULTS.gatherTimeoutMs, description: 'A run that heard nothing for this long is handed back to the watcher (deferred).' },
    maxRuns: { type: 'integer', minimum: 1, maximum: 100_000, default: AGGREGATOR_DEFAULTS.maxRuns, description: 'Runs gathered at once; beyond, the quietest is handed back.' },
    statusReportIntervalMs: { type: 'integer', minimum: 1_000, maximum: 86_400_000, default: AGGREGATOR_DEFAULTS.statusReportIntervalMs, description: 'Period of the status reported property.' },
  },
} as const;

export interface AggregatorConfig {
  readonly minConfidence: number;
  readonly gatherTimeoutMs: number;
  readonly maxRuns: number;
  readonly statusReportIntervalMs: number;
}

/** The schema says everything; nothing crosses fields. */
export function buildAggregatorConfig(validated: Record<string, unknown>): { config: AggregatorConfig } {
  return { config: validated as unknown as AggregatorConfig };
}
