import { isEdgeMLError, type ErrorCode } from '@edgeml/shared';

/**
 * The one place that decides what a failure means. Everything that can go wrong while uploading
 * (SDK RestErrors, Node socket errors, our own EdgeMLErrors, file-system errors) comes through here.
 *
 * - `unavailable`: the sink did not answer (connection refused, DNS, reset, throttled 503/429).
 *   The whole queue backs off; the item is **not** charged an attempt, so an outage of any length
 *   never quarantines good items.
 * - `transient`: the sink answered with a failure worth retrying (500, 408, MD5 mismatch in transit).
 *   The item is charged an attempt; after `maxAttempts` it is quarantined so the queue moves on.
 * - `permission`: credentials lack rights (401/403, expired or read-only SAS). Never retried;
 *   the item is quarantined at once and the sink is marked fatal.
 * - `conflict`: different content already under the same name. Quarantined with an alert.
 * - `fatal`: the item itself is bad (file gone, changed, too large, refused as invalid). Quarantined.
 * - `aborted`: the module is stopping; the item goes back to the queue untouched.
 */
export type FailureKind = 'unavailable' | 'transient' | 'permission' | 'conflict' | 'fatal' | 'aborted';

export interface Classified {
  readonly kind: FailureKind;
  readonly code: ErrorCode;
  /** Short, stable, low-cardinality label for metrics (`failures_total{reason}`). */
  readonly reason: string;
}

const NETWORK_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EPIPE',
  'ECONNABORTED',
  'ESOCKETTIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'REQUEST_SEND_ERROR',
]);

const FATAL_ITEM_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'FILE_NOT_FOUND',
  'FILE_UNREADABLE',
  'FILE_NOT_REGULAR',
  'FILE_TOO_LARGE',
  'PATH_OUTSIDE_ROOT',
  'INPUT_MALFORMED',
  'MESSAGE_INVALID',
  'MESSAGE_TOO_LARGE',
  'QUOTA_EXCEEDED',
  'CONFIG_INVALID',
]);

const PERMISSION_SERVICE_CODES = new Set([
  'AuthorizationPermissionMismatch',
  'AuthorizationFailure',
  'AuthenticationFailed',
  'AuthorizationResourceTypeMismatch',
  'AuthorizationServiceMismatch',
  'AuthorizationSourceIPMismatch',
  'AuthorizationProtocolMismatch',
  'InsufficientAccountPermissions',
]);

function field(err: unknown, name: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[name] : undefined;
}

/** Classifies any thrown value. Pure; safe across duplicate package copies (duck-typed). */
export function classifyFailure(err: unknown): Classified {
  if (isEdgeMLError(err)) {
    const code = err.code;
    if (code === 'ABORTED') return { kind: 'aborted', code, reason: 'aborted' };
    if (code === 'SINK_PERMISSION_DENIED') return { kind: 'permission', code, reason: 'permission' };
    if (code === 'SINK_CONFLICT') return { kind: 'conflict', code, reason: 'conflict' };
    if (code === 'SINK_UNAVAILABLE') return { kind: 'unavailable', code, reason: 'unavailable' };
    if (code === 'TIMEOUT') return { kind: 'transient', code, reason: 'timeout' };
    if (FATAL_ITEM_CODES.has(code)) return { kind: 'fatal', code, reason: code.toLowerCase() };
    // An EdgeMLError wrapping a lower-level failure: judge the cause when it says more.
    if (err.cause !== undefined) {
      const inner = classifyFailure(err.cause);
      if (inner.code !== 'INTERNAL') return inner;
    }
    return { kind: 'transient', code, reason: code.toLowerCase() };
  }
  const name = field(err, 'name');
  if (name === 'AbortError') return { kind: 'aborted', code: 'ABORTED', reason: 'aborted' };

  const statusCode = field(err, 'statusCode');
  const code = field(err, 'code');
  if (typeof statusCode === 'number') {
    if (statusCode === 401 || statusCode === 403) return { kind: 'permission', code: 'SINK_PERMISSION_DENIED', reason: 'permission' };
    if (statusCode === 404) {
      if (code === 'ContainerNotFound') return { kind: 'permission', code: 'CONFIG_INVALID', reason: 'container_not_found' };
      return { kind: 'transient', code: 'SINK_UNAVAILABLE', reason: 'http_404' };
    }
    if (statusCode === 409 || statusCode === 412) return { kind: 'conflict', code: 'SINK_CONFLICT', reason: 'conflict' };
    if (statusCode === 429 || statusCode === 503 || statusCode === 502 || statusCode === 504) {
      return { kind: 'unavailable', code: 'SINK_UNAVAILABLE', reason: `http_${statusCode}` };
    }
    if (statusCode === 408 || statusCode >= 500) return { kind: 'transient', code: 'SINK_UNAVAILABLE', reason: `http_${statusCode}` };
    if (statusCode === 400 && (code === 'Md5Mismatch' || code === 'Crc64Mismatch')) return { kind: 'transient', code: 'SINK_UNAVAILABLE', reason: 'checksum_mismatch' };
    if (statusCode === 413) return { kind: 'fatal', code: 'FILE_TOO_LARGE', reason: 'http_413' };
    return { kind: 'fatal', code: 'INTERNAL', reason: `http_${statusCode}` };
  }
  if (typeof code === 'string') {
    if (NETWORK_ERRNOS.has(code)) return { kind: 'unavailable', code: 'SINK_UNAVAILABLE', reason: 'network' };
    if (PERMISSION_SERVICE_CODES.has(code)) return { kind: 'permission', code: 'SINK_PERMISSION_DENIED', reason: 'permission' };
    if (code === 'ENOENT') return { kind: 'fatal', code: 'FILE_NOT_FOUND', reason: 'file_not_found' };
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return { kind: 'permission', code: 'SINK_PERMISSION_DENIED', reason: 'permission' };
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO' || code === 'ESTALE') return { kind: 'unavailable', code: 'SINK_UNAVAILABLE', reason: code.toLowerCase() };
  }
  // Undici/fetch wrap socket errors in `cause`.
  const cause = field(err, 'cause');
  if (cause !== undefined && cause !== err) {
    const inner = classifyFailure(cause);
    if (inner.code !== 'INTERNAL') return inner;
  }
  return { kind: 'transient', code: 'INTERNAL', reason: 'unknown' };
}
