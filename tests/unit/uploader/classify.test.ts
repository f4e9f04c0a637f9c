import assert from 'node:assert/strict';
import { EdgeMLError } from '@edgeml/shared';
import { classifyFailure } from '@edgeml/uploader';

const rest = (statusCode: number | undefined, code?: string): Error => Object.assign(new Error('rest'), { name: 'RestError', statusCode, code });
const errno = (code: string): Error => Object.assign(new Error(code), { code });

describe('uploader classifyFailure (the one transient-vs-fatal decision)', () => {
  const cases: [string, unknown, string, string][] = [
    ['connection refused', errno('ECONNREFUSED'), 'unavailable', 'SINK_UNAVAILABLE'],
    ['SDK send error without status', rest(undefined, 'REQUEST_SEND_ERROR'), 'unavailable', 'SINK_UNAVAILABLE'],
    ['503 ServerBusy', rest(503, 'ServerBusy'), 'unavailable', 'SINK_UNAVAILABLE'],
    ['429 throttled', rest(429), 'unavailable', 'SINK_UNAVAILABLE'],
    ['500 InternalError', rest(500, 'InternalError'), 'transient', 'SINK_UNAVAILABLE'],
    ['408 timeout', rest(408), 'transient', 'SINK_UNAVAILABLE'],
    ['400 Md5Mismatch (corrupted in transit)', rest(400, 'Md5Mismatch'), 'transient', 'SINK_UNAVAILABLE'],
    ['403 AuthorizationPermissionMismatch (read-only SAS)', rest(403, 'AuthorizationPermissionMismatch'), 'permission', 'SINK_PERMISSION_DENIED'],
    ['403 AuthenticationFailed (expired SAS)', rest(403, 'AuthenticationFailed'), 'permission', 'SINK_PERMISSION_DENIED'],
    ['404 ContainerNotFound', rest(404, 'ContainerNotFound'), 'permission', 'CONFIG_INVALID'],
    ['409 BlobAlreadyExists', rest(409, 'BlobAlreadyExists'), 'conflict', 'SINK_CONFLICT'],
    ['400 InvalidHeaderValue', rest(400, 'InvalidHeaderValue'), 'fatal', 'INTERNAL'],
    ['413 too large', rest(413), 'fatal', 'FILE_TOO_LARGE'],
    ['our SINK_CONFLICT', new EdgeMLError('SINK_CONFLICT', 'x'), 'conflict', 'SINK_CONFLICT'],
    ['our ABORTED', new EdgeMLError('ABORTED', 'x'), 'aborted', 'ABORTED'],
    ['AbortError', Object.assign(new Error('a'), { name: 'AbortError' }), 'aborted', 'ABORTED'],
    ['file changed since queued', new EdgeMLError('INPUT_MALFORMED', 'x'), 'fatal', 'INPUT_MALFORMED'],
    ['file gone', new EdgeMLError('FILE_NOT_FOUND', 'x'), 'fatal', 'FILE_NOT_FOUND'],
    ['directory sink read-only', errno('EROFS'), 'permission', 'SINK_PERMISSION_DENIED'],
    ['directory sink full', errno('ENOSPC'), 'unavailable', 'SINK_UNAVAILABLE'],
    ['EdgeMLError wrapping a socket error', new EdgeMLError('INTERNAL', 'x', { cause: errno('ECONNRESET') }), 'unavailable', 'SINK_UNAVAILABLE'],
    ['fetch failure with a socket cause', Object.assign(new TypeError('fetch failed'), { cause: errno('ECONNRESET') }), 'unavailable', 'SINK_UNAVAILABLE'],
    ['something unknown', new Error('??'), 'transient', 'INTERNAL'],
    ['a thrown string', 'boom', 'transient', 'INTERNAL'],
  ];
  for (const [what, err, kind, code] of cases) {
    it(`${what} → ${kind} (${code})`, () => {
      const c = classifyFailure(err);
      assert.equal(c.kind, kind);
      assert.equal(c.code, code);
      assert.match(c.reason, /^[a-z0-9_]+$/, 'metric label is low-cardinality snake case');
    });
  }
});
