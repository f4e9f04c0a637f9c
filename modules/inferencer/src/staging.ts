/**
 * The tensor files this module holds in the shared staging area, and their removal once every
 * message naming a file is done with it: the result sent (edgeHub persisted it), or the tensor
 * dead-lettered, deferred or refused. Nothing else needs a tensor: a re-emission of its source
 * makes the transformer write it again, under the same name. Counted per file, so a duplicate still
 * in flight keeps the file until it finishes too.
 */
import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { isWithin, type Logger } from '@edgeml/shared';
import { StagingJanitor } from './staging-janitor.js';

export class StagingFiles {
  #root: string;
  readonly #logger: Logger;
  readonly #held = new Map<string, number>();
  #removed = 0;
  #removedBytes = 0;
  readonly #janitor = new StagingJanitor();

  /** @param root the staging directory (`<data>/staging`); files elsewhere are never removed. */
  constructor(root: string, logger: Logger) {
    this.#root = root;
    this.#logger = logger;
  }

  /** Creates the staging directory if needed and resolves it as tensor paths are resolved (symlinks followed). */
  async prepare(): Promise<void> {
    await mkdir(this.#root, { recursive: true });
    this.#root = await realpath(this.#root);
  }

  /** True for a file inside the staging directory (the suite's own area). */
  contains(file: string): boolean {
    return file !== this.#root && isWithin(this.#root, file);
  }

  /** Files held by messages in flight. */
  get held(): number {
    return this.#held.size;
  }

  /** Files removed so far (and their bytes, as declared by their messages). */
  get removed(): { files: number; bytes: number } {
    return { files: this.#removed, bytes: this.#removedBytes };
  }

  /** A message in flight names `file` (absolute, resolved). */
  hold(file: string): void {
    this.#held.set(file, (this.#held.get(file) ?? 0) + 1);
  }

  /**
   * The message is done with `file`. The file is removed when no other message holds it and it
   * lies in staging, together with its directory once that is empty (the transformer stages per
   * content id: staging/<id>/…). The removal runs on the staging janitor's thread
   * (staging-janitor.ts). Never throws (a file that cannot be removed is logged).
   */
  async release(file: string, sizeBytes: number): Promise<void> {
    const n = (this.#held.get(file) ?? 1) - 1;
    if (n > 0) {
      this.#held.set(file, n);
      return;
    }
    this.#held.delete(file);
    if (!this.contains(file)) return;
    const dir = path.dirname(file);
    const error = await this.#janitor.remove(file, dir !== this.#root && isWithin(this.#root, dir) ? dir : undefined);
    if (error !== null) {
      this.#logger.warn({ file, error }, 'could not remove a tensor file from staging');
      return;
    }
    this.#removed++;
    this.#removedBytes += sizeBytes;
  }

  /** Waits for the removals under way, then stops the janitor's thread. */
  close(): Promise<void> {
    return this.#janitor.close();
  }
}
