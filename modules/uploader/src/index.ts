import type { ModuleDefinition } from '@edgeml/shared';
import { createUploaderApp, MODULE_NAME } from './app.js';
import { buildUploaderConfig, UPLOADER_CONFIG_SCHEMA, type UploaderConfig } from './config.js';

export {
  createUploaderApp,
  MODULE_NAME,
  UPLOADER_ENV,
  FLUSH_PAYLOAD_SCHEMA,
  RETRY_QUARANTINED_PAYLOAD_SCHEMA,
  type ItemPayload,
  type PartAck,
  type SinkState,
  type UploaderAppOptions,
} from './app.js';
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
export { createBlobSink, blockId, parseSas, sasProblems, type BlobSinkOptions } from './blob-sink.js';
export { createDirectorySink, type DirectorySink, type DirectorySinkOptions } from './dir-sink.js';
export { md5Base64, type UploadRequest, type UploadResult, type UploadSink } from './sink.js';
export { RateLimiter } from './throttle.js';

/** The uploader as the shared runtime runs it (`runModule(uploaderModule, …)` in main.ts). */
export const uploaderModule: ModuleDefinition<UploaderConfig> = {
  name: MODULE_NAME,
  configSchema: UPLOADER_CONFIG_SCHEMA,
  buildConfig: buildUploaderConfig,
  createApp: (deps) => createUploaderApp(deps),
};
