import { EdgeMLError, errorCode, isEdgeMLError } from '@edgeml/shared';

/**
 * Codes the transformer puts on dead letters (completion `code`, alert `code`): the shared
 * ERROR_CODES it uses. README.md lists them; a test keeps the two in step.
 */
export const DEAD_LETTER_CODES = {
  MESSAGE_INVALID: 'The input message is not valid JSON or not an edgeml.file/v1 message (on detections / orientations: not an edgeml.inference.result/v1, or an orientation without its crop link).',
  MESSAGE_TOO_LARGE: 'The input message is over 256 KiB.',
  PATH_OUTSIDE_ROOT: "The message's path leaves the share (traversal, absolute path, symlink escape).",
  FILE_NOT_FOUND: 'The file named by the message is gone.',
  FILE_UNREADABLE: 'The file exists but cannot be read.',
  FILE_NOT_REGULAR: 'The path names a directory, device or other non-regular file.',
  FILE_TOO_LARGE: 'The file is over image.maxFileSizeBytes / table.maxFileSizeBytes.',
  CONTENT_CHANGED: "The file's SHA-256 no longer matches the message id (it was rewritten after the watcher hashed it).",
  INPUT_MALFORMED: 'The content cannot be decoded: empty, truncated, corrupt, not an image, not UTF-8 text, bad CSV quoting, a bad row under raggedRows=fail.',
  INPUT_TOO_COMPLEX: 'The content exceeds a safety limit: pixels (limitInputPixels), columns (maxColumns), record size (maxRecordBytes).',
  UNSUPPORTED_KIND: 'A file of kind `other` while unknownKinds is deadLetter.',
  INTERNAL: 'An unexpected failure (a bug); the log line carries the stack.',
} as const;

export type DeadLetterCode = keyof typeof DEAD_LETTER_CODES;

/** The content no longer hashes to the message id (rewritten after the watcher hashed it). */
export function contentChanged(message: string): EdgeMLError {
  return new EdgeMLError('CONTENT_CHANGED', message);
}

/** The dead-letter code for any thrown value. */
export function deadLetterCodeOf(err: unknown): DeadLetterCode {
  const code = isEdgeMLError(err) ? errorCode(err) : 'INTERNAL';
  return code in DEAD_LETTER_CODES ? (code as DeadLetterCode) : 'INTERNAL';
}
