export { aggregatorModule, aggregatorSelfCheck } from './module.js';
export { AGGREGATOR_MODULE_NAME, createAggregatorApp, type AggregatorApp } from './app.js';
export { AGGREGATOR_CONFIG_SCHEMA, AGGREGATOR_DEFAULTS, buildAggregatorConfig, type AggregatorConfig } from './config.js';
export { Gatherings, type AddOutcome, type GatherOptions, type Reading, type Run } from './gather.js';
export { buildChainResult, chainResultProperties, readingOf } from './result.js';
export { HAND_BACK_RETRY_MS, Intake, type IntakeOptions } from './intake.js';
export { Outputs } from './outputs.js';
export { createAggregatorMetrics, type AggregatorCounts, type AggregatorMetrics } from './status.js';
