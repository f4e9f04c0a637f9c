export { ERROR_CODES, EdgeMLError, ConfigError, isEdgeMLError, errorCode, errorMessage, type ErrorCode } from './errors.js';
export { BACKOFF_DEFAULTS, backoffDelayMs, sleep, retry, type BackoffOptions, type RetryOptions, type RetryVerdict } from './retry.js';
export { createLogger, createRepeatLimiter, redactSecrets, redactDeep, routeAzureSdkLogs, type Logger, type CreateLoggerOptions } from './logging.js';
export { Counter, Gauge, Histogram, Registry, createMetricsRegistry, startOpsServer, DEFAULT_METRICS_PORT, type HealthState, type OpsServer } from './metrics.js';
export { DEFAULT_DATA_ROOT, dataPaths, resolveInside, resolveInsideSync, isWithin, toRelative, type DataPaths } from './paths.js';
export { sha256File, sha256, writeFileAtomic, writeStreamHashed, fsyncDir, moveFile, TEMP_FILE_PREFIX, type HashedWriteOptions } from './files.js';
export { startWorker } from './workers.js';
export { ActivityWindow, type ActivitySummary, type ActivityWindowOptions } from './activity.js';
export { MODULE_ENDPOINTS, MODULE_NAMES, type ModuleName, type InputName, type OutputName } from './contracts/endpoints.js';
export {
  SCHEMAS,
  type SchemaId,
  type FileKind,
  type SourceRef,
  type PartName,
  type FileMessage,
  type TensorDType,
  type TensorLayout,
  type PreprocessingInfo,
  type PreprocessingSpec,
  type TablePreprocessingSpec,
  type ImageGeometry,
  type TensorMessage,
  type ArtifactKind,
  type ArtifactMessage,
  type InferenceResultMessage,
  type ResultComparison,
  type HardExampleReason,
  type HardExampleMessage,
  type CompletionOutcome,
  type CompletionMessage,
  type AlertSeverity,
  type AlertMessage,
  type RolloutMessage,
  type RolloutModelRef,
  type ShareFileEvent,
  type AnyMessage,
} from './contracts/messages.js';
export {
  MESSAGE_SCHEMAS,
  FILE_MESSAGE_SCHEMA,
  TENSOR_MESSAGE_SCHEMA,
  ARTIFACT_MESSAGE_SCHEMA,
  RESULT_MESSAGE_SCHEMA,
  COMPLETION_MESSAGE_SCHEMA,
  ALERT_MESSAGE_SCHEMA,
  HARD_EXAMPLE_MESSAGE_SCHEMA,
  ROLLOUT_MESSAGE_SCHEMA,
  CROPS_MESSAGE_SCHEMA,
  CHAIN_RESULT_MESSAGE_SCHEMA,
  SHARE_FILE_EVENT_SCHEMA,
} from './contracts/schemas.js';
export { MAX_MESSAGE_BYTES, parseMessage, assertValidMessage, parseShareFileEvent, decodeJsonBody, formatSchemaErrors } from './contracts/validate.js';
export { encodeNpy, encodeNpyHeader, decodeNpy, parseNpyHeader, NPY_MAX_HEADER_BYTES, type NpyArray, type NpyHeader } from './contracts/npy.js';
export { PADDLE_CLS_SPEC, PADDLE_DET_SPEC, PADDLE_REC_SPEC, TELEMETRY_ANOMALY_SPEC } from './contracts/profiles.js';
export {
  CHAIN_NAME_PATTERN,
  CHAIN_STEPS,
  MAX_CHAIN_CROPS,
  chainOfPart,
  chainPart,
  profileOfPart,
  type ChainBox,
  type ChainItem,
  type ChainLink,
  type ChainResultMessage,
  type ChainStep,
  type CropsMessage,
  type ModelRef,
  type OrientationDecision,
  type PendingTensor,
  type PlannedCrop,
  type Point,
} from './contracts/chains.js';
export { canonicalJson, configHash, preprocessingSignature, deterministicMessageId } from './contracts/ids.js';
export { buildCompletion, completionOutput, type PartRef, type CompletionDetails } from './contracts/completion.js';
export {
  MAX_REPORTED_PATCH_BYTES,
  reportedPatchProblems,
  type EdgeClient,
  type OutgoingMessage,
  type IncomingMessage,
  type InputHandler,
  type MethodHandler,
  type MethodResponse,
  type DesiredUpdate,
  type ConnectionListener,
} from './edge/types.js';
export { createMemoryEdgeClient, bodyToBuffer, type MemoryEdgeClient, type SentMessage } from './edge/memory.js';
export { createEdgeClientFromEnvironment, MODULE_CLIENT_DEFAULTS, type ModuleClientOptions } from './edge/module-client.js';
export { QUERY_HIDDEN, redactUrl, redactUrlsDeep, redactUrlsInText } from './config/redact-urls.js';
export { createTwinConfigBinder, mergePatch, stripTwinMetadata, type ConfigReport, type ConfigStatus, type TwinConfigBinder, type TwinConfigBinderOptions } from './config/binder.js';
export { jsonMethod, EMPTY_PAYLOAD_SCHEMA, MAX_METHOD_PAYLOAD_BYTES } from './methods.js';
export { sendAlert } from './alerts.js';
export { runModule, installProcessHandlers, selfCheck, type ModuleApp, type ModuleDeps, type ModuleDefinition, type RunOptions, type RunningModule } from './lifecycle.js';
export { connectEdgeClient, selectedTransport, loadTopicPlan, EDGE_TRANSPORTS, type EdgeTransport } from './edge/connect.js';
export { parseMqtt5Settings, MQTT5_DEFAULTS, type Mqtt5Settings, type Mqtt5Auth } from './edge/mqtt5-settings.js';
export { createMqtt5Connection, SAT_AUTH_METHOD, type Mqtt5Connection, type Mqtt5ConnectionOptions, type Mqtt5Publication, type Mqtt5Received, type Mqtt5MessageProperties } from './edge/mqtt5-connection.js';
export { createMqtt5EdgeClient, MESSAGE_ID_PROPERTY, CONTENT_ENCODING_PROPERTY, STATUS_PROPERTY, SOURCE_ID_PROPERTY, type Mqtt5EdgeClientOptions } from './edge/mqtt5-client.js';
export { createMqtt5Operator, type Mqtt5Operator, type MethodAnswer } from './edge/mqtt5-operator.js';
export { createConfigFileSource, parseConfigDocument, type ConfigFileSource, type ConfigFileSourceOptions } from './edge/config-file-source.js';
export {
  DEFAULT_TOPIC_PREFIX,
  planTopics,
  routesFromDocument,
  inputForTopic,
  topicMatches,
  outputTopic,
  methodTopic,
  instanceMethodTopic,
  statusTopic,
  responseTopic,
  type TopicPlan,
  type InputSubscription,
  type UpstreamRoute,
} from './edge/topics.js';
export { createFileLease, createFileLeaseStore, FILE_LEASE_DEFAULTS, type FileLeaseOptions } from './lease/file-lease.js';
export { createLeaderElector, LEASE_DEFAULTS, type LeaseStore, type LeaseObservation, type ElectorOptions } from './lease/elector.js';
export { createKubernetesLease, createKubernetesLeaseStore, inClusterApi, SERVICE_ACCOUNT_DIR, type KubernetesApi } from './lease/kubernetes-lease.js';
export { leaseFromEnvironment } from './lease/from-env.js';
export type { LeaderLease } from './lease/types.js';
export {
  createRegistryClient,
  parseChallenge,
  registryCredentialsFromEnv,
  plainHttpFor,
  isLoopbackRegistry,
  parseReference,
  formatReference,
  manifestReferenceOf,
  referenceProblems,
  isDigest,
  isTag,
  isRepository,
  isRegistryHost,
  ANNOTATIONS,
  EMPTY_DESCRIPTOR,
  MANIFEST_ACCEPT,
  MODEL_PACKAGE_FILES,
  MODEL_PACKAGE_TYPES,
  OCI_MEDIA_TYPES,
  buildPackageManifest,
  locatePackage,
  packageAnnotations,
  extractModelFiles,
  safeMemberName,
  layoutSource,
  readLayoutIndex,
  unpackLayoutTar,
  writeLayoutTar,
  registrySource,
  pullModelPackage,
  pushModelPackage,
  exportToLayout,
  type BlobSource,
  type FetchedManifest,
  type RegistryClient,
  type RegistryClientOptions,
  type RegistryCredentials,
  type OciReference,
  type OciDescriptor,
  type OciIndex,
  type OciManifest,
  type BuiltManifest,
  type ImageLayer,
  type LocatedPackage,
  type ModelProvenance,
  type PackageIdentity,
  type ExtractLimits,
  type ExtractedFiles,
  type LayoutBlob,
  type ContentSource,
  type PullLimits,
  type PulledPackage,
  type PushRequest,
  type PushResult,
} from './oci/index.js';
