import type { ArtifactKind } from '@edgeml/shared';
import { templateProblems } from './names.js';

/**
 * The uploader's desired properties. Names follow Azure Blob Storage on IoT Edge's
 * `deviceToCloudUploadProperties` where they mean the same thing (`uploadOn`, `uploadOrder`,
 * `deleteAfterUpload`) so a deployment can migrate by copying values; see README "Twin settings".
 * Credentials are never here: they come from the environment (EDGEML_STORAGE_CONNECTION_STRING,
 * EDGEML_STORAGE_CONTAINER_SAS_URL, or a file named by their _FILE forms; see credentials.ts).
 */

/** Queue classes in priority order: results go before artifacts, artifacts before raw data. */
export const QUEUE_CLASSES = ['results', 'artifacts', 'raw'] as const;
export type QueueClass = (typeof QUEUE_CLASSES)[number];

export type QuotaPolicy = 'rejectNew' | 'evictOldest';
export type UploadOrder = 'oldestFirst' | 'newestFirst';

export interface ClassConfig {
  /** Bytes the class may hold queued (files referenced in staging, result lines). */
  readonly quotaBytes: number;
  readonly maxItems: number;
  /** What happens when a new item does not fit: refuse it, or drop the oldest queued items. */
  readonly policy: QuotaPolicy;
  readonly uploadOrder: UploadOrder;
}

export interface UploaderConfig {
  readonly uploadOn: boolean;
  readonly sink: 'blob' | 'directory';
  readonly containerName: string;
  readonly createContainer: boolean;
  readonly blobNameTemplate: string;
  readonly resultsBlobNameTemplate: string;
  readonly deleteAfterUpload: boolean;
  readonly concurrency: number;
  readonly bandwidthBytesPerSecond: number;
  readonly maxAttempts: number;
  readonly retry: { readonly initialDelayMs: number; readonly maxDelayMs: number; readonly jitterRatio: number };
  readonly sdkRetry: { readonly maxTries: number; readonly tryTimeoutInMs: number; readonly retryDelayInMs: number; readonly maxRetryDelayInMs: number };
  readonly singleUploadMaxBytes: number;
  readonly blockSizeBytes: number;
  readonly blockConcurrency: number;
  readonly results: { readonly batchMaxItems: number; readonly batchMaxBytes: number; readonly batchWindowMs: number; readonly batchIdleMs: number };
  readonly classes: Readonly<Record<QueueClass, ClassConfig>>;
  readonly quotaWarnRatio: number;
  /** How long the watcher waits before offering again an item refused by a full `rejectNew` quota. */
  readonly quotaRetryAfterMs: number;
  readonly directory: { readonly path: string; readonly deleteAfterMinutes: number; readonly sweepIntervalMs: number };
  readonly statusReportIntervalMs: number;
  /** While the sink is paused, when its access check runs again (backoff from initial to max). */
  readonly sinkProbe: { readonly initialDelayMs: number; readonly maxDelayMs: number };
  /** How often a credentials file (`…_FILE`) is read again to pick up a rotated secret. */
  readonly credentialsRefreshIntervalMs: number;
  /** Shortest lease of a `held` part (the completion's `leaseMs`); renewed when half of it has passed. */
  readonly leaseMs: number;
  /** Cap on lease renewals per second; a backlog too large for it gets longer leases instead. */
  readonly leaseRenewMaxPerSecond: number;
  /** Labelled image datasets and hard examples (datasets.ts, hard-examples.ts). */
  readonly datasets: {
    readonly enabled: boolean;
    /** Prefix of every `image_url`; empty: the sink's own URL of the container (or directory). */
    readonly imageUrlPrefix: string;
    readonly hardExamples: { readonly enabled: boolean; readonly minConfidence: number; readonly maxPerHour: number };
  };
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Every default in one place; the schema below and the README table are built from / checked against it. */
export const UPLOADER_DEFAULTS = {
  uploadOn: true,
  sink: 'blob',
  containerName: 'edgeml',
  createContainer: true,
  blobNameTemplate: '{dataset}/{deviceId}/{yyyy}/{MM}/{dd}/{id}/{part}.{ext}',
  resultsBlobNameTemplate: 'results/{deviceId}/{yyyy}/{MM}/{dd}/{HH}/{windowStart}-{batchId}.jsonl',
  deleteAfterUpload: true,
  concurrency: 4,
  bandwidthBytesPerSecond: 0,
  maxAttempts: 10,
  retry: { initialDelayMs: 2_000, maxDelayMs: 300_000, jitterRatio: 0.5 },
  sdkRetry: { maxTries: 3, tryTimeoutInMs: 120_000, retryDelayInMs: 1_000, maxRetryDelayInMs: 15_000 },
  singleUploadMaxBytes: 16 * MiB,
  blockSizeBytes: 8 * MiB,
  blockConcurrency: 4,
  // batchIdleMs: a window that no line joined for 2 s is sealed, so the sources whose results it holds
  // complete within seconds once the flow pauses (#18: the local demo's 13 files sat at "1/13" for the
  // whole 60 s window); a steady flow still fills windows up to batchWindowMs / batchMaxItems.
  results: { batchMaxItems: 1_000, batchMaxBytes: 4 * MiB, batchWindowMs: 60_000, batchIdleMs: 2_000 },
  classes: {
    results: { quotaBytes: 256 * MiB, maxItems: 1_000_000, policy: 'rejectNew', uploadOrder: 'oldestFirst' },
    artifacts: { quotaBytes: 8 * GiB, maxItems: 100_000, policy: 'rejectNew', uploadOrder: 'oldestFirst' },
    raw: { quotaBytes: 8 * GiB, maxItems: 100_000, policy: 'rejectNew', uploadOrder: 'oldestFirst' },
  },
  quotaWarnRatio: 0.8,
  quotaRetryAfterMs: 30_000,
  directory: { path: '', deleteAfterMinutes: 0, sweepIntervalMs: 600_000 },
  statusReportIntervalMs: 60_000,
  sinkProbe: { initialDelayMs: 2_000, maxDelayMs: 60_000 },
  credentialsRefreshIntervalMs: 30_000,
  leaseMs: 3_600_000,
  leaseRenewMaxPerSecond: 10,
  datasets: { enabled: true, imageUrlPrefix: '', hardExamples: { enabled: true, minConfidence: 0.5, maxPerHour: 100 } },
} as const;

const int = (minimum: number, maximum: number, dflt: number, description: string) =>
  ({ type: 'integer', minimum, maximum, default: dflt, description }) as const;

const classSchema = (d: ClassConfig) =>
  ({
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      quotaBytes: int(0, Number.MAX_SAFE_INTEGER, d.quotaBytes, 'Bytes this class may hold queued.'),
      maxItems: int(1, 100_000_000, d.maxItems, 'Items this class may hold queued.'),
      policy: {
        enum: ['rejectNew', 'evictOldest'],
        default: d.policy,
        description: 'When full: rejectNew defers the new item (its source stays and is offered again; nothing is dropped); evictOldest dead-letters the oldest queued ones.',
      },
      uploadOrder: { enum: ['oldestFirst', 'newestFirst'], default: d.uploadOrder, description: 'Order within the class (IoT Edge: uploadOrder).' },
    },
  }) as const;

/** Desired-properties JSON Schema: every property has a default, unknown keys are refused. */
export const UPLOADER_CONFIG_SCHEMA = {
  $id: 'https://edgeml.example/schemas/uploader.config.json',
  type: 'object',
  additionalProperties: false,
  properties: {
    uploadOn: { type: 'boolean', default: UPLOADER_DEFAULTS.uploadOn, description: 'Upload at all; false keeps queueing (IoT Edge: uploadOn).' },
    sink: { enum: ['blob', 'directory'], default: UPLOADER_DEFAULTS.sink, description: 'blob: Azure Blob Storage; directory: an Azure Stack Edge cloud share.' },
    containerName: {
      type: 'string',
      pattern: '^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$',
      default: UPLOADER_DEFAULTS.containerName,
      description: 'Container when a connection string is used (a container SAS URL names its own).',
    },
    createContainer: { type: 'boolean', default: UPLOADER_DEFAULTS.createContainer, description: 'Create the container at start when the credentials allow it.' },
    blobNameTemplate: { type: 'string', minLength: 4, maxLength: 512, default: UPLOADER_DEFAULTS.blobNameTemplate },
    resultsBlobNameTemplate: { type: 'string', minLength: 4, maxLength: 512, default: UPLOADER_DEFAULTS.resultsBlobNameTemplate },
    deleteAfterUpload: { type: 'boolean', default: UPLOADER_DEFAULTS.deleteAfterUpload, description: 'Delete staging files once uploaded (IoT Edge: deleteAfterUpload). Share files are never deleted.' },
    concurrency: int(1, 64, UPLOADER_DEFAULTS.concurrency, 'Items uploaded at once.'),
    bandwidthBytesPerSecond: int(0, Number.MAX_SAFE_INTEGER, UPLOADER_DEFAULTS.bandwidthBytesPerSecond, 'Upload cap over all items; 0 = none.'),
    maxAttempts: int(1, 1_000, UPLOADER_DEFAULTS.maxAttempts, 'Attempts per item before quarantine (attempts count only when the sink answered).'),
    retry: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        initialDelayMs: int(10, 3_600_000, UPLOADER_DEFAULTS.retry.initialDelayMs, 'First backoff delay.'),
        maxDelayMs: int(10, 86_400_000, UPLOADER_DEFAULTS.retry.maxDelayMs, 'Backoff cap.'),
        jitterRatio: { type: 'number', minimum: 0, maximum: 1, default: UPLOADER_DEFAULTS.retry.jitterRatio },
      },
    },
    sdkRetry: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: "The storage SDK's own retry policy (per request), configured rather than stacked.",
      properties: {
        maxTries: int(1, 20, UPLOADER_DEFAULTS.sdkRetry.maxTries, 'Tries per request.'),
        tryTimeoutInMs: int(1_000, 3_600_000, UPLOADER_DEFAULTS.sdkRetry.tryTimeoutInMs, 'Per-try timeout.'),
        retryDelayInMs: int(1, 600_000, UPLOADER_DEFAULTS.sdkRetry.retryDelayInMs, 'First SDK retry delay.'),
        maxRetryDelayInMs: int(1, 3_600_000, UPLOADER_DEFAULTS.sdkRetry.maxRetryDelayInMs, 'SDK retry delay cap.'),
      },
    },
    singleUploadMaxBytes: int(0, 256 * MiB, UPLOADER_DEFAULTS.singleUploadMaxBytes, 'Files up to this size go in one Put Blob; larger ones in blocks.'),
    blockSizeBytes: int(64 * 1024, 4000 * MiB, UPLOADER_DEFAULTS.blockSizeBytes, 'Block size for block uploads.'),
    blockConcurrency: int(1, 32, UPLOADER_DEFAULTS.blockConcurrency, 'Blocks of one file in flight at once.'),
    results: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        batchMaxItems: int(1, 100_000, UPLOADER_DEFAULTS.results.batchMaxItems, 'Result lines per JSON-lines blob.'),
        batchMaxBytes: int(1_024, 256 * MiB, UPLOADER_DEFAULTS.results.batchMaxBytes, 'Bytes per JSON-lines blob.'),
        batchWindowMs: int(0, 86_400_000, UPLOADER_DEFAULTS.results.batchWindowMs, 'Time window of a batch (by source detectedAt); also the longest a line waits.'),
        batchIdleMs: int(0, 86_400_000, UPLOADER_DEFAULTS.results.batchIdleMs, 'A window no line joined for this long is sealed and uploaded (0: only by window, count or bytes).'),
      },
    },
    classes: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        results: classSchema(UPLOADER_DEFAULTS.classes.results),
        artifacts: classSchema(UPLOADER_DEFAULTS.classes.artifacts),
        raw: classSchema(UPLOADER_DEFAULTS.classes.raw),
      },
    },
    quotaWarnRatio: { type: 'number', minimum: 0.1, maximum: 1, default: UPLOADER_DEFAULTS.quotaWarnRatio, description: 'Usage ratio that raises a warning before a quota bites.' },
    quotaRetryAfterMs: int(1_000, 3_600_000, UPLOADER_DEFAULTS.quotaRetryAfterMs, 'After a rejectNew refusal, how long the watcher waits before offering the source again.'),
    directory: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        path: { type: 'string', maxLength: 1024, default: UPLOADER_DEFAULTS.directory.path, description: 'Sub-directory of the data root\'s cloudshare/ to write into.' },
        deleteAfterMinutes: int(0, 5_256_000, UPLOADER_DEFAULTS.directory.deleteAfterMinutes, 'Retention in the directory sink; 0 keeps files forever.'),
        sweepIntervalMs: int(1_000, 86_400_000, UPLOADER_DEFAULTS.directory.sweepIntervalMs, 'How often retention runs.'),
      },
    },
    statusReportIntervalMs: int(1_000, 86_400_000, UPLOADER_DEFAULTS.statusReportIntervalMs, 'Period of the `status` reported property.'),
    sinkProbe: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'While uploads are paused (credentials refused, sink unreachable), the access check is retried with this backoff.',
      properties: {
        initialDelayMs: int(10, 3_600_000, UPLOADER_DEFAULTS.sinkProbe.initialDelayMs, 'First check after the pause.'),
        maxDelayMs: int(10, 3_600_000, UPLOADER_DEFAULTS.sinkProbe.maxDelayMs, 'Longest wait between checks: at most this long after the sink is back, uploads resume.'),
      },
    },
    credentialsRefreshIntervalMs: int(1_000, 3_600_000, UPLOADER_DEFAULTS.credentialsRefreshIntervalMs, 'How often a credentials file (EDGEML_STORAGE_*_FILE) is read again; a new secret takes effect without a restart.'),
    leaseMs: int(1_000, 86_400_000, UPLOADER_DEFAULTS.leaseMs, 'Shortest lease of a queued part announced to the watcher with `held`; renewed when half of it has passed, for as long as the part is queued.'),
    leaseRenewMaxPerSecond: int(1, 10_000, UPLOADER_DEFAULTS.leaseRenewMaxPerSecond, 'Most lease renewals per second; a backlog that would need more gets longer leases (2 x parts / this, up to 24 h).'),
    datasets: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Labelled image datasets (AutoML JSON lines beside each results batch) and the to-label dataset of hard examples.',
      properties: {
        enabled: { type: 'boolean', default: UPLOADER_DEFAULTS.datasets.enabled, description: 'Write the image dataset lines (and hard examples) with each results batch.' },
        imageUrlPrefix: {
          type: 'string',
          maxLength: 1024,
          pattern: '^$|^(https://|azureml://)[^?#]*/$',
          default: UPLOADER_DEFAULTS.datasets.imageUrlPrefix,
          description: 'Prefix of image_url (ends with /), e.g. azureml://subscriptions/<s>/resourcegroups/<rg>/workspaces/<ws>/datastores/<ds>/paths/; empty: the sink URL of the container.',
        },
        hardExamples: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: 'boolean', default: UPLOADER_DEFAULTS.datasets.hardExamples.enabled, description: 'Flag hard examples into the to-label dataset.' },
            minConfidence: {
              type: 'number',
              minimum: 0,
              maximum: 1,
              default: UPLOADER_DEFAULTS.datasets.hardExamples.minConfidence,
              description: 'Below this score (classification: the top score; detection: the lowest box score) a result is a hard example.',
            },
            maxPerHour: int(0, 1_000_000, UPLOADER_DEFAULTS.datasets.hardExamples.maxPerHour, 'Hard examples sent per rolling hour; more are counted, not sent.'),
          },
        },
      },
    },
  },
} as const;

/**
 * Cross-field checks the schema cannot express, then the typed config. Called by the twin binder
 * after schema validation (defaults filled in), so every field is present.
 */
export function buildUploaderConfig(validated: Record<string, unknown>): { config: UploaderConfig } | { problems: string[] } {
  const cfg = validated as unknown as UploaderConfig;
  const problems: string[] = [];
  problems.push(...templateProblems(cfg.blobNameTemplate, 'artifact').map((p) => `/blobNameTemplate: ${p}`));
  problems.push(...templateProblems(cfg.resultsBlobNameTemplate, 'results').map((p) => `/resultsBlobNameTemplate: ${p}`));
  if (cfg.retry.maxDelayMs < cfg.retry.initialDelayMs) problems.push('/retry: maxDelayMs must be at least initialDelayMs');
  if (cfg.sinkProbe.maxDelayMs < cfg.sinkProbe.initialDelayMs) problems.push('/sinkProbe: maxDelayMs must be at least initialDelayMs');
  if (cfg.sdkRetry.maxRetryDelayInMs < cfg.sdkRetry.retryDelayInMs) problems.push('/sdkRetry: maxRetryDelayInMs must be at least retryDelayInMs');
  if (cfg.singleUploadMaxBytes > 0 && cfg.blockSizeBytes > 4000 * MiB) problems.push('/blockSizeBytes: at most 4000 MiB');
  const dir = cfg.directory.path;
  if (dir.startsWith('/') || dir.split(/[\\/]/).includes('..') || dir.includes('\0')) problems.push('/directory/path: must be a relative path without ".."');
  return problems.length > 0 ? { problems } : { config: cfg };
}

/** Which queue class an artifact belongs to. */
export function classOfArtifact(kind: ArtifactKind): QueueClass {
  return kind === 'raw' ? 'raw' : 'artifacts';
}
