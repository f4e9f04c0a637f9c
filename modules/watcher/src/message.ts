import path from 'node:path';
import { SCHEMAS, deterministicMessageId, type FileMessage } from '@edgeml/shared';
import { extensionOf, kindOf } from './kinds.js';

/** What {@link buildFileMessage} needs of a ledger item. */
export interface EmittableItem {
  readonly id: string;
  /** Relative to the inbox. */
  readonly path: string;
  readonly sizeBytes: number;
  readonly mtimeMs: number;
  readonly attempts: number;
  readonly detectedAt: number;
  readonly stableAt: number;
  /** Parts already acknowledged as uploaded (from the ledger), sent as `doneParts`. */
  readonly doneParts?: readonly string[];
}

/**
 * The `files` message for an item, pure. `messageId` is a function of the content id only, so a
 * re-emission is recognisable as the same file (`attempt` counts up); `detectedAt` comes from the
 * ledger, written once, so re-emissions never change date-based names downstream.
 */
export function buildFileMessage(item: EmittableItem, nowMs: number, inboxPrefix = 'inbox'): { body: FileMessage; properties: Record<string, string> } {
  const name = path.posix.basename(item.path);
  const extension = extensionOf(name);
  const kind = kindOf(name);
  const detectedAt = new Date(item.detectedAt).toISOString();
  const body: FileMessage = {
    schema: SCHEMAS.file,
    id: item.id,
    messageId: deterministicMessageId(SCHEMAS.file, item.id),
    attempt: Math.max(1, item.attempts),
    ...(item.doneParts !== undefined && item.doneParts.length > 0 ? { doneParts: [...item.doneParts].sort().slice(0, 32) } : {}),
    source: {
      path: `${inboxPrefix}/${item.path}`,
      sha256: item.id,
      sizeBytes: item.sizeBytes,
      detectedAt,
      name,
      extension,
      kind,
      mtimeMs: Math.max(0, item.mtimeMs),
    },
    detectedAt,
    stableAt: new Date(item.stableAt).toISOString(),
    createdAt: new Date(nowMs).toISOString(),
  };
  return { body, properties: { schema: SCHEMAS.file, kind, extension, sizeBytes: String(item.sizeBytes) } };
}
