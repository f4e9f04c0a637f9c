import path from 'node:path';
import type { FileKind } from '@edgeml/shared';

/** Extensions (lower case, with the dot) per kind; anything else is `other` and forwarded raw. */
export const KIND_EXTENSIONS = {
  image: ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.bmp', '.avif', '.heic', '.svg'],
  table: ['.csv', '.tsv', '.jsonl', '.ndjson'],
} as const satisfies Record<Exclude<FileKind, 'other'>, readonly string[]>;

const byExtension = new Map<string, FileKind>();
for (const [kind, list] of Object.entries(KIND_EXTENSIONS) as [FileKind, readonly string[]][]) for (const ext of list) byExtension.set(ext, kind);

/** Extensions longer than this are not extensions (the contract allows 64 characters). */
const MAX_EXTENSION_LENGTH = 32;

/** Lower-case extension with the dot (`.jpg`), or '' when the name has none (`.bashrc` has none). */
export function extensionOf(name: string): string {
  const ext = path.posix.extname(name).toLowerCase();
  return ext.length > MAX_EXTENSION_LENGTH ? '' : ext;
}

export function kindOf(name: string): FileKind {
  return byExtension.get(extensionOf(name)) ?? 'other';
}
