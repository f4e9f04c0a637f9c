export { watcherModule } from './module.js';
export { createWatcherApp, WATCHER_MODULE_NAME, type WatcherApp, type WatcherAppOptions, type ShareEventResult } from './app.js';
export {
  WATCHER_CONFIG_SCHEMA,
  WATCHER_CONFIG_DEFAULTS,
  buildWatcherConfig,
  parseWatcherConfig,
  type WatcherConfig,
  type AfterCompletionAction,
  type DeadLetterRedropPolicy,
} from './config.js';
export { createPathFilter, compileGlobs, type PathFilter, type PathFilterOptions, type FilterVerdict, type FilterReason } from './patterns.js';
export { StabilityTracker, checkIntervalMs, type StabilityOptions, type StabilityVerdict, type FileObservation } from './stability.js';
export {
  ITEM_STATES,
  isTerminal,
  mergeAck,
  unionParts,
  uploadedParts,
  holdState,
  doneParts,
  timeoutDecision,
  type ItemState,
  type PartAck,
  type AckSnapshot,
  type AckMerge,
  type AckVerdict,
  type TimeoutDecision,
  type FinalOutcome,
  type PartLease,
  type LeaseSnapshot,
  type HoldState,
  type TimedItem,
} from './item-state.js';
export { Ledger, DEFAULT_RETRY_AFTER_MS, type ItemRecord, type PathRecord, type StableFile, type RecordOutcome, type AckResult, type IncomingAck, type DeadLetterReason, type LedgerCounts } from './ledger.js';
export { SCHEMA_VERSION as LEDGER_SCHEMA_VERSION } from './ledger-schema.js';
export { KIND_EXTENSIONS, kindOf, extensionOf } from './kinds.js';
export { buildFileMessage, type EmittableItem } from './message.js';
export { classifyEntry, walkInbox, absoluteIn, relativePosix, MAX_WALK_DEPTH, type EntryClass, type WalkEntry, type WalkResult } from './inventory.js';
export { Reconciler, type ReconcilerOptions } from './reconciler.js';
export { Acknowledgements, leaseExpiresAt, type AcknowledgementsOptions, type CompletionResult } from './acknowledgements.js';
export { Candidates, EARLY_HASH_MAX_BYTES, type EarlyHash } from './candidates.js';
export { createChokidarSource, type EventSource, type EventSourceOptions } from './chokidar-source.js';
export { CompletionTimer, missingParts, type CompletionTimerOptions } from './completion-timer.js';
export { Dispositions, type DispositionsOptions } from './dispositions.js';
export { Emission, type EmissionOptions } from './emission.js';
export { Intake, type IntakeOptions, type Candidate } from './intake.js';
export { hashInboxFile, type HashFile, type HashedFile } from './hash-file.js';
export { HashSlots } from './hash-slots.js';
export { InventoryScan, EventFlood, FLOOD_EVENTS, FLOOD_QUIET_MS, type InventoryScanOptions, type ScanSummary } from './inventory-scan.js';
export { createLimitedLog, type LimitedLog } from './limited-log.js';
export { Reprocessor, REPROCESS_PAYLOAD_SCHEMA, type ReprocessorOptions, type ReprocessRequest, type ReprocessReport, type ReprocessEntry, type ReprocessOutcome } from './reprocess.js';
export { listDeadLetters, readDeadLetterRecord, inboxRelOf, RECORD_SUFFIX, type DeadLetterRecord, type DeadLetterEntry } from './share-ops.js';
export { DiskBudget, statVolume, stagingUsage, RESUME_FACTOR, type DiskBudgetOptions, type DiskStatus, type StagingStatus, type StagingUsage, type StatVolume, type VolumeStats } from './disk-budget.js';
export { Inputs, type InputsOptions, type CompletedInputResult } from './inputs.js';
export { ReportedStatus, type ReportedStatusOptions } from './reported-status.js';
export { watcherStatus, updateGauges, type StatusSources } from './status.js';
export { createWatcherMetrics, type WatcherMetrics } from './metrics.js';
export { WATCHER_ERROR_CODES } from './errors.js';
export { watcherSelfCheck } from './self-check.js';
