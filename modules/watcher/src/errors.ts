import { ERROR_CODES, type ErrorCode } from '@edgeml/shared';

/**
 * The shared error codes the watcher itself raises, logs, alerts or writes into `.error.json`
 * (dead letters received from other modules carry their own codes through). README.md lists
 * exactly these; a test keeps the two in step.
 */
export const WATCHER_ERROR_CODES = Object.freeze(
  (
    [
      'CONFIG_INVALID',
      'MESSAGE_INVALID',
      'MESSAGE_TOO_LARGE',
      'PATH_OUTSIDE_ROOT',
      'FILE_NOT_REGULAR',
      'FILE_UNREADABLE',
      'TIMEOUT',
      'DISK_LOW',
      'EDGE_SEND_FAILED',
      'TWIN_UPDATE_FAILED',
      'METHOD_PAYLOAD_INVALID',
      'STATE_CORRUPT',
      'ABORTED',
      'INTERNAL',
    ] as const satisfies readonly ErrorCode[]
  ).map((code) => ({ code, description: ERROR_CODES[code] })),
);
