/**
 * One error class for the whole suite, with a machine-readable `code` and the original `cause`.
 * Codes are SCREAMING_SNAKE, each documented in README.md ("Error codes"); a test keeps the
 * README table and {@link ERROR_CODES} identical.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 'A configuration document (twin desired properties or environment) failed validation.',
  MESSAGE_INVALID: 'An input message is not valid JSON or does not match its contract schema.',
  MESSAGE_TOO_LARGE: 'A message body or reported-properties patch exceeds the hub limit.',
  PATH_OUTSIDE_ROOT: 'A path resolves outside the directory it must stay in (traversal or symlink escape).',
  FILE_NOT_FOUND: 'A referenced file does not exist.',
  FILE_UNREADABLE: 'A referenced file exists but cannot be read.',
  FILE_NOT_REGULAR: 'A path names a directory, device, socket or other non-regular file.',
  FILE_TOO_LARGE: 'A file exceeds the configured maximum size.',
  CONTENT_CHANGED: "A file's SHA-256 no longer matches its content id (it was rewritten after it was hashed).",
  INPUT_MALFORMED: 'File content cannot be decoded (truncated, corrupt or of the wrong format).',
  INPUT_TOO_COMPLEX: 'File content exceeds a safety limit (pixels, columns, nesting).',
  UNSUPPORTED_KIND: 'A file kind that the module is configured not to handle.',
  EDGE_CONNECT_FAILED: 'The module could not open its connection to edgeHub.',
  EDGE_SEND_FAILED: 'A message could not be sent to edgeHub.',
  TWIN_UPDATE_FAILED: 'Reported properties could not be updated.',
  METHOD_PAYLOAD_INVALID: 'A direct method payload is not valid for that method.',
  MODEL_INVALID: 'A model file or manifest is corrupt, mismatched or has the wrong signature.',
  MODEL_DOWNLOAD_FAILED: 'A model could not be downloaded.',
  REGISTRY_UNAUTHORIZED: 'An OCI registry refused the credentials (401/403), or none were configured for a registry that needs them.',
  REGISTRY_NOT_FOUND: 'An OCI registry has no such repository, tag, manifest or blob (404).',
  REGISTRY_THROTTLED: 'An OCI registry kept answering 429 Too Many Requests after the retries.',
  REGISTRY_UNAVAILABLE: 'An OCI registry did not answer (connection refused, timeout, 5xx) after the retries.',
  DIGEST_MISMATCH: 'Content fetched by digest (a manifest, a blob, a layer member) does not hash to that digest, or its size differs.',
  ARTIFACT_INVALID: 'An OCI artifact or image is not a model package: no model manifest or model file, unknown media types, a malformed manifest.',
  ROLLOUT_ROLLED_BACK: 'A candidate model was rolled back: it disagreed with the live model, failed, or was slower beyond its thresholds.',
  EXECUTION_PROVIDER_UNAVAILABLE: 'The requested ONNX Runtime execution provider cannot be loaded.',
  INFERENCE_FAILED: 'The model failed to run on an input.',
  TENSOR_MISMATCH: 'A tensor does not fit the model (shape, dtype or preprocessing signature).',
  SINK_PERMISSION_DENIED: 'The upload sink refuses writes (credentials lack rights).',
  SINK_UNAVAILABLE: 'The upload sink cannot be reached (transient).',
  SINK_CONFLICT: 'The sink already holds different content under the same name.',
  QUOTA_EXCEEDED: 'An upload quota is full: a new item is deferred (rejectNew) or the oldest queued ones are dropped (evictOldest); also an item larger than the whole quota.',
  OVERLOADED: "A module's work queue is full; the item is deferred and offered again later.",
  DISK_LOW: 'Free space on the data volume is below its watermark: intake defers until it is back above.',
  STATE_CORRUPT: 'Durable state could not be read back.',
  TIMEOUT: 'An operation did not finish within its deadline.',
  ABORTED: 'An operation was cancelled because the module is stopping.',
  ROUTE_COMPILE_ERROR: 'A route in the $edgeHub desired properties does not compile.',
  UNAUTHORIZED: 'A client presented invalid or mismatched credentials.',
  LEASE_LOST: 'A singleton module lost its leader lease (not renewed in time, or taken over); it stops so that only the new leader works.',
  INTERNAL: 'An unexpected failure; the log carries the cause.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

const MARK = Symbol.for('@edgeml/error');

export class EdgeMLError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EdgeMLError';
    this.code = code;
    this.details = options?.details === undefined ? undefined : Object.freeze({ ...options.details });
    Object.defineProperty(this, MARK, { value: true });
  }
}

/** A configuration error lists every problem found, not just the first. */
export class ConfigError extends EdgeMLError {
  readonly problems: readonly string[];
  constructor(message: string, problems: readonly string[]) {
    super('CONFIG_INVALID', `${message}: ${problems.join('; ')}`);
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
  }
}

/** True for an EdgeMLError, also across duplicate copies of this package (symbol mark, not instanceof). */
export function isEdgeMLError(value: unknown): value is EdgeMLError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARK] === true;
}

/** The error's code when it carries one of ours, otherwise INTERNAL. */
export function errorCode(value: unknown): ErrorCode {
  return isEdgeMLError(value) ? value.code : 'INTERNAL';
}

/** A one-line human message for any thrown value. */
export function errorMessage(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
