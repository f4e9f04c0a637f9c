import type { ModuleDefinition } from '@edgeml/shared';
import { createUploaderApp } from './app.js';
import { MODULE_NAME } from './context.js';
import { buildUploaderConfig, UPLOADER_CONFIG_SCHEMA, type UploaderConfig } from './config.js';

export { createUploaderApp, type UploaderApp, type UploaderAppOptions } from './app.js';
export { MODULE_NAME, type ItemPayload, type PartAck } from './context.js';
export { FLUSH_PAYLOAD_SCHEMA, RETRY_QUARANTINED_PAYLOAD_SCHEMA } from './methods.js';
export { UPLOADER_ENV, type SinkFactory, type SinkStateName } from './sink-state.js';
export {
  QUEUE_CLASSES,
  UPLOADER_CONFIG_SCHEMA,
  UPLOADER_DEFAULTS,
  buildUploaderConfig,
  classOfArtifact,
  type ClassConfig,
  type QueueClass,
  type QuotaPolicy,
  type UploadOrder,
  type UploaderConfig,
} from './config.js';
export { classifyFailure, type Classified, type FailureKind } from './classify.js';
export { datasetFolder, datasetOf, datasetOfArtifact, decodeColumns, encodeColumns, mltableDocument, renderMLTable, type MLTableInput, type TableColumn } from './mltable.js';
export { DatasetFiles, COLUMNS_METADATA_KEY } from './dataset-files.js';
export { TEMPLATE_PLACEHOLDERS, MAX_BLOB_NAME_LENGTH, compactUtc, renderBlobName, safeSegment, templateProblems, type NameValues } from './names.js';
export {
  DurableQueue,
  checkSqliteLoads,
  type ClassUsage,
  type DoneRecord,
  type EnqueueOutcome,
  type Evicted,
  type ItemState,
  type QueueItem,
  type QueueOptions,
  type ResultRow,
} from './queue.js';
export { createBlobSink, blockId, type BlobSink, type BlobSinkOptions } from './blob-sink.js';
export { parseSas, sasForbidsReads, sasProblems, type SasGrant } from './sas.js';
export { CREDENTIAL_ENV, credentialVariablesSet, readStorageCredentials, type CredentialKind, type StorageCredentials } from './credentials.js';
export { createDirectorySink, type DirectorySink, type DirectorySinkOptions } from './dir-sink.js';
export { md5Base64, type UploadRequest, type UploadResult, type UploadSink } from './sink.js';
export { RateLimiter } from './throttle.js';
export { LeaseRenewer, MAX_LEASE_MS } from './leases.js';
export type { Held } from './queue-leases.js';
// The parts createUploaderApp wires, for tests that build one part around fakes.
export { Acknowledger } from './acks.js';
export { createLogOnce, Settings, type UploaderContext, type UploadQueue } from './context.js';
export { UploaderMetrics } from './metrics.js';
export { Quarantine } from './quarantine.js';
export { QueuePolicy } from './queue-policy.js';
export { SinkState, type PauseCause } from './sink-state.js';
export { UploadLoop } from './upload-loop.js';
export { DatasetWriter, type DatasetBatch } from './datasets.js';
export { HardExampleQuota, hardExampleReasons } from './hard-examples.js';
export {
  automlLine,
  confidenceOf,
  datasetBlobName,
  imageUrl,
  predictionOf,
  DATASET_FOLDERS,
  DATASET_PARTITION_FORMAT,
  IMAGE_DATASET_FOLDER,
  TO_LABEL_DATASET_FOLDER,
  type AutomlBox,
  type AutomlLine,
  type ImageRef,
  type Prediction,
} from './dataset-lines.js';

/** The uploader as the shared runtime runs it (`runModule(uploaderModule, …)` in main.ts). */
export const uploaderModule: ModuleDefinition<UploaderConfig> = {
  name: MODULE_NAME,
  configSchema: UPLOADER_CONFIG_SCHEMA,
  buildConfig: buildUploaderConfig,
  createApp: (deps) => createUploaderApp(deps),
};
