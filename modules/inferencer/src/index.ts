export { inferencerModule } from './module.js';
export { checkInferencerRuntime } from './self-check.js';
export {
  INFERENCER_MODULE_NAME,
  createInferencerApp,
  signatureMismatch,
  tensorMismatch,
  type InferencerApp,
  type InferencerAppOptions,
} from './app.js';
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
export { SYSTEM_CLOCK, createAdmission, createBatcher, type Admission, type BatchInfo, type Batcher, type BatcherClock, type BatcherOptions, type BatchedResult } from './batcher.js';
export {
  MANIFEST_FILE,
  MODEL_FILE,
  MODEL_MANIFEST_SCHEMA,
  bundledModels,
  describeUri,
  installBundledModels,
  readManifest,
  stageModel,
  storeDir,
  validateManifest,
  type BundledModel,
  type InstalledModel,
  type ModelManifest,
  type StagedModel,
} from './model-store.js';
// The tensor file format is a shared contract; re-exported for tests and benchmarks.
export { decodeNpy, encodeNpy, type NpyArray } from '@edgeml/shared';
export { CLS_PROFILE_SPEC, DET_PROFILE_SPEC, DEFAULT_PROFILES } from './profiles.js';
export { postprocess } from './postprocess/index.js';
export { classify, looksLikeProbabilities, paddleCls, softmax } from './postprocess/classification.js';
export { rawSummary } from './postprocess/raw.js';
export { convexHull, dbBoxes, minAreaRect, paddleDet, rectCorners, toSource, unclip, type DetectedBox, type Point, type RotatedRect } from './postprocess/paddle-det.js';
export type { ClassificationSpec, ItemTensor, PaddleClsSpec, PaddleDetSpec, PostprocessContext, PostprocessResult, PostprocessorSpec, RawSpec } from './postprocess/types.js';
export { ORT_VERSION, openSession, resetCudaProbe, type ExecutionProviderChoice, type ModelSession, type SessionOptions, type TensorSignature } from './session.js';
