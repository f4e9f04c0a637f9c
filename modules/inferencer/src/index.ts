export { inferencerModule } from './module.js';
export { checkInferencerRuntime } from './self-check.js';
export { INFERENCER_MODULE_NAME, createInferencerApp, type InferencerApp, type InferencerAppOptions } from './app.js';
export {
  BUNDLED_MODEL_NAMES,
  BUNDLED_MODEL_VERSION,
  INFERENCER_CONFIG_SCHEMA,
  INFERENCER_DEFAULTS,
  PROFILE_PATTERN,
  buildInferencerConfig,
  type InferencerConfig,
  type ModelEntry,
} from './config.js';
export { createAdmission, type Admission } from './admission.js';
export { SYSTEM_CLOCK, createBatcher, type BatchInfo, type Batcher, type BatcherClock, type BatcherOptions, type BatchedResult, type PushOptions } from './batcher.js';
export { effectiveBatching, warmupBatchSizes, type Batching } from './batching.js';
export { MISSING_TENSOR_RETRY_MS, OVERLOAD_RETRY_MS } from './intake.js';
export { BYTES_PER_ELEMENT, itemShapeOf, signatureMismatch, tensorBytes, tensorMismatch } from './tensor-checks.js';
export { readTensorInto } from './tensor-file.js';
export { StagingFiles } from './staging.js';
export { StagingJanitor } from './staging-janitor.js';
export { MANIFEST_FILE, MODEL_FILE, MODEL_MANIFEST_SCHEMA, readManifest, validateManifest, type BatchingHint, type ModelManifest } from './models/manifest.js';
export { BUNDLED_BATCHING, bundledModels, installBundledModels, readBundledDictionary, type BundledModel, type InstalledModel } from './models/bundled.js';
export { STAGING_DIR, storeDir } from './models/layout.js';
export { ANOMALY_MODEL_INPUT, ANOMALY_MODEL_OUTPUT, standardizedDistanceModel, type StandardizedDistanceParams } from './models/anomaly-model.js';
export { BUNDLED_ANOMALY_PARAMS, BUNDLED_ANOMALY_THRESHOLD, anomalyManifest, bundledAnomalyModel, type GeneratedModel } from './models/bundled-anomaly.js';
export { createFileModelStore, stageModel, type ModelStore, type StageOptions, type StagedModel } from './models/store.js';
export { ModelServing, type LoadedModel, type ModelFailure, type RuntimeState } from './models/serving.js';
export { warmUp, warmupInput } from './models/warmup.js';
// The tensor file format is a shared contract; re-exported for tests and benchmarks.
export { decodeNpy, encodeNpy, type NpyArray } from '@edgeml/shared';
export { CLS_PROFILE_SPEC, DET_PROFILE_SPEC, REC_PROFILE_SPEC, DEFAULT_PROFILES } from './profiles.js';
export { POSTPROCESSOR_KINDS, postprocess, postprocessorProblems } from './postprocess/index.js';
export { classify, classificationPostprocessor, looksLikeProbabilities, softmax } from './postprocess/classification.js';
export { paddleCls, paddleClsPostprocessor } from './postprocess/paddle-cls.js';
export { ctc, ctcDecode, ctcPostprocessor, type CtcReading } from './postprocess/ctc.js';
export { rawPostprocessor, rawSummary } from './postprocess/raw.js';
export { anomalyPostprocessor, scoreRows } from './postprocess/anomaly.js';
export { convexHull, dbBoxes, minAreaRect, paddleDet, paddleDetPostprocessor, rectCorners, toSource, unclip, type DetectedBox, type Point, type RotatedRect } from './postprocess/paddle-det.js';
export type { AnomalySpec, ClassificationSpec, CtcSpec, ItemTensor, PaddleClsSpec, PaddleDetSpec, PostprocessContext, PostprocessResult, Postprocessor, PostprocessorKind, PostprocessorSpec, RawSpec } from './postprocess/types.js';
export { ORT_BACKEND, ORT_VERSION, type BackendSession, type BackendSessionOptions, type SessionBackend } from './session/ort.js';
export { CUDA_UNKNOWN, knownCuda, learnCuda, openModelSession, probeCuda, resetCudaProbe, type CudaState, type OpenedSession } from './session/open.js';
export { createSessionPool, isWorkerStopped, type ReplicaCount, type SessionPool, type SessionPoolOptions } from './session/pool.js';
export { MAX_AUTO_CPU_REPLICAS, replicaPlan, type ReplicaPlan, type ReplicaSettings } from './session/replicas.js';
export { identityModel } from './session/identity-model.js';
export { floatValueInfo, intAttribute, intsAttribute, node as onnxNode, onnxModel } from './session/onnx-proto.js';
export { BatchBuffers, runBatchOn, runFilesOn, sliceItem } from './session/batch-core.js';
export { HOLD_SHORT_RUN_MS, HOLD_WHILE_WAITING, MAX_HELD_REPLIES, RunQueue, failureReply } from './session/run-queue.js';
export type { WorkerReply, WorkerReplyValue } from './session/protocol.js';
export { BATCHES_QUEUED_PER_MODEL, BATCHES_QUEUED_SHORT_RUNS, LaneDepth } from './lane-depth.js';
export type { BatchRequest, BatchResponse, ExecutionProviderChoice, ExecutionProviderName, ModelSession, OutputTensor, SessionOptions, SessionTensor, TensorSignature } from './session/types.js';
export { ArtifactCache, ARTIFACT_INDEX_DIR, type CachedArtifact } from './models/artifact-cache.js';
export { PRELOAD_DIR, stageArtifact, type ArtifactInfo } from './models/artifact-source.js';
export { ROLLOUT_DEFAULTS, rolloutProblems, type RolloutMode, type RolloutSpec } from './rollout/config.js';
export { agrees } from './rollout/compare.js';
export { RolloutEvaluator, type RolloutDecision, type RolloutFigures, type RolloutObservation } from './rollout/evaluator.js';
export { RolloutDecisions, entryKey, type Decision } from './rollout/decisions.js';
export { RolloutManager, type ActiveRollout, type RolloutEventKind, type RolloutEvents } from './rollout/manager.js';
