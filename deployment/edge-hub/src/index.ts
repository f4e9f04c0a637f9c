/** @edgeml/edge-hub: the local edgeHub-compatible broker and its route engine. Explicit exports only. */
export {
  createEdgeHub,
  EDGE_HUB_DEFAULTS,
  type EdgeHub,
  type EdgeHubOptions,
  type EdgeHubStats,
  type InjectedMessage,
  type UpstreamRecord,
} from './hub.js';
export { startWorkloadApi } from './workload.js';
export { ModuleConnections } from './connections.js';
export { ForwardQueue, REMOVAL_DELAY_MS } from './forward-queue.js';
export { openHubStore, type HubStore, type NewMessage, type StoredMessage } from './store.js';
export { createHubMetrics, type HubMetrics } from './metrics.js';
export { certificateSerial, ensureTlsMaterial, type TlsMaterial } from './certs.js';
export {
  decodePropertyBag,
  encodeInputBag,
  inputTopic,
  parseEventTopic,
  parseTopicQuery,
  splitProperties,
  INCOMING_SYSTEM_PROPERTIES,
  OUTGOING_SYSTEM_PROPERTIES,
  type BagResult,
  type EventTopic,
} from './property-bag.js';
export {
  createModuleSasToken,
  encodeUriComponentStrict,
  hmacSha256Base64,
  parseClientId,
  parseUsername,
  verifyModuleSasToken,
  SAS_MAX_CLOCK_SKEW_SECS,
  type ModuleIdentity,
  type ParsedUsername,
  type SasVerdict,
} from './sas.js';
export { classifyPublish, subscriptionFeature, IOTHUB_FILTERS, type PublishKind, type SubscriptionFeature } from './topics.js';
export { applyMergePatch, mergePatchBetween, twinPatchProblems, MAX_TWIN_PATCH_BYTES } from './twins.js';
export {
  compileRoutes,
  ROUTE_DEFAULTS,
  ROUTE_ERROR_CODES,
  RouteCompileError,
  RouteConfigError,
  RouteError,
  formatProblem,
  isRouteError,
  BUILTIN_FUNCTION_NAMES,
  compileCondition,
  compileRoute,
  messageSourcePath,
  routeEndpoints,
  type RouteOptions,
  type RouteErrorCode,
  type RoutePosition,
  type RouteProblem,
  type CompiledCondition,
  type CompiledRoute,
  type CompiledRouteTable,
  type RouteConditionResult,
  type RouteEndpoint,
  type RouteEndpointSummary,
  type RouteMatch,
  type RouteMessage,
  type RouteMessageKind,
  type RouteMessageSource,
  type RouteSource,
  type RouteSourceSelector,
  type RouteWarning,
  type StoreAndForwardConfig,
} from './routes/index.js';
