/**
 * Reprocessing dead letters (the `reprocess` method): once an operator has fixed the cause (a
 * model, a credential, a quota), the inputs in `share/failed/` go back to the inbox and their
 * ledger entries are reset, so the normal detection picks them up as new work. Selected by content
 * id, by path in `failed/`, or every dead letter since a time.
 *
 * Order, for a crash at any point: the ledger reset is committed first (a crash then leaves the
 * input in `failed/` with its record, and the method can simply be called again), then the input
 * moves back (power-safe `moveFile`), then its record is removed.
 */
import { lstat, rm, writeFile } from 'node:fs/promises';
import { EdgeMLError, errorMessage, isWithin, type DataPaths, type Logger } from '@edgeml/shared';
import type { WatcherConfig } from './config.js';
import { absoluteIn, relativePosix } from './inventory.js';
import type { Ledger } from './ledger.js';
import type { WatcherMetrics } from './metrics.js';
import { freeDestination, inboxRelOf, listDeadLetters, moveFile, readDeadLetterRecord, RECORD_SUFFIX, type DeadLetterEntry } from './share-ops.js';

/** The method's payload: exactly one selector. */
export type ReprocessRequest = { readonly id: string } | { readonly path: string } | { readonly since: string };

export const REPROCESS_PAYLOAD_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: {
    id: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'Content id (SHA-256) of the dead-lettered source.' },
    path: {
      type: 'string',
      minLength: 1,
      maxLength: 4096,
      // Relative, no '..' segment, no NUL, no backslash: a path inside share/failed.
      pattern: '^(?![/\\\\])(?!(.*/)?\\.\\.(/|$))[^\\u0000\\\\]+$',
      description: "The input's path relative to share/failed (its record is <path>.error.json).",
    },
    since: {
      type: 'string',
      pattern: '^\\d{4}-\\d{2}-\\d{2}(T[0-9:.]+(Z|[+-]\\d{2}:\\d{2})?)?$',
      description: 'Every dead letter recorded at or after this ISO 8601 time (1970-01-01T00:00:00Z: all).',
    },
  },
} as const;

export type ReprocessOutcome =
  /** Back in the inbox at `inboxPath`, the ledger entry reset. */
  | 'requeued'
  /** Only the record is in `failed/` (the input had left the inbox before it was dead-lettered). */
  | 'noInput'
  /** The move failed (`error` says why); the input and its record stay in `failed/`. */
  | 'failed';

export interface ReprocessEntry {
  readonly failedPath: string;
  readonly id: string | null;
  readonly result: ReprocessOutcome;
  readonly inboxPath?: string;
  readonly error?: string;
}

export interface ReprocessReport {
  readonly matched: number;
  readonly requeued: number;
  /** At most the first {@link MAX_LISTED} entries. */
  readonly entries: readonly ReprocessEntry[];
}

const MAX_LISTED = 100;

export interface ReprocessorOptions {
  readonly paths: DataPaths;
  readonly inboxReal: string;
  readonly ledger: Ledger;
  readonly log: Logger;
  readonly metrics: WatcherMetrics;
  readonly now: () => number;
  readonly config: () => WatcherConfig;
  /** A path was put back into the inbox: check it soon. */
  readonly hint: (absPath: string) => void;
}

export class Reprocessor {
  readonly #o: ReprocessorOptions;

  constructor(options: ReprocessorOptions) {
    this.#o = options;
  }

  /**
   * Moves the selected dead letters back into the inbox and resets their ledger entries.
   * @throws EdgeMLError METHOD_PAYLOAD_INVALID for a `since` that is not a time or a `path` outside `failed/`
   */
  async reprocess(request: ReprocessRequest): Promise<ReprocessReport> {
    const selected = await this.#select(request);
    const entries: ReprocessEntry[] = [];
    let requeued = 0;
    for (const entry of selected) {
      const done = await this.#requeue(entry).catch(
        (err: unknown): ReprocessEntry => {
          this.#o.log.warn({ err, failedPath: entry.failedPath }, 'a dead letter could not be put back into the inbox');
          return { failedPath: entry.failedPath, id: entry.record?.id ?? null, result: 'failed', error: errorMessage(err) };
        },
      );
      if (done.result === 'requeued') requeued++;
      if (entries.length < MAX_LISTED) entries.push(done);
    }
    this.#o.metrics.reprocessed.inc({ via: 'method' }, requeued);
    this.#o.log.info({ request, matched: selected.length, requeued }, 'dead letters reprocessed by operator');
    return { matched: selected.length, requeued, entries };
  }

  async #select(request: ReprocessRequest): Promise<DeadLetterEntry[]> {
    const { failed } = this.#o.paths;
    if ('path' in request) {
      const rel = request.path.replace(/^failed\//, '').replace(/\.error\.json$/, '');
      const abs = absoluteIn(failed, rel);
      if (rel.includes('\u0000') || !isWithin(failed, abs) || abs === failed) {
        throw new EdgeMLError('METHOD_PAYLOAD_INVALID', `path ${JSON.stringify(request.path.slice(0, 200))} is not inside share/failed`);
      }
      const failedPath = relativePosix(failed, abs);
      const record = await readDeadLetterRecord(abs + RECORD_SUFFIX);
      const present = record !== undefined || (await lstat(abs).catch(() => undefined)) !== undefined;
      return present ? [{ failedPath, record }] : [];
    }
    if ('id' in request) {
      // The ledger knows where its inputs went; the records on disk are the fallback (an item pruned from the ledger).
      const known = this.#o.ledger.getItem(request.id)?.failedPaths ?? [];
      const all = await listDeadLetters(failed);
      return all.filter((e) => e.record?.id === request.id || known.includes(e.failedPath));
    }
    const sinceMs = Date.parse(request.since);
    if (!Number.isFinite(sinceMs)) throw new EdgeMLError('METHOD_PAYLOAD_INVALID', `since ${JSON.stringify(request.since)} is not an ISO 8601 time`);
    const all = await listDeadLetters(failed);
    return all.filter((e) => {
      const at = Date.parse(e.record?.deadLetteredAt ?? '');
      return Number.isFinite(at) && at >= sinceMs;
    });
  }

  async #requeue(entry: DeadLetterEntry): Promise<ReprocessEntry> {
    const { failed } = this.#o.paths;
    const { markerMode, markerSuffix } = this.#o.config();
    const id = entry.record?.id ?? null;
    const abs = absoluteIn(failed, entry.failedPath);
    const st = await lstat(abs).catch(() => undefined);
    if (st === undefined) return { failedPath: entry.failedPath, id, result: 'noInput' };
    if (id !== null) this.#o.ledger.resetForReprocess(id, this.#o.now());
    const rel = inboxRelOf(entry.record, entry.failedPath, relativePosix(this.#o.paths.share, this.#o.paths.inbox));
    const dest = await freeDestination(this.#o.inboxReal, rel, [markerSuffix]);
    await moveFile(abs, dest);
    if (markerMode) {
      // The writer's marker went to failed/ with the input; without one the file would never be taken again.
      await moveFile(abs + markerSuffix, dest + markerSuffix).catch(async () => writeFile(dest + markerSuffix, ''));
    }
    await rm(abs + RECORD_SUFFIX, { force: true });
    if (id !== null) this.#o.ledger.removeFailedPath(id, entry.failedPath);
    this.#o.hint(dest);
    const inboxPath = relativePosix(this.#o.inboxReal, dest);
    this.#o.log.info({ id, failedPath: entry.failedPath, inboxPath }, 'dead letter back in the inbox');
    return { failedPath: entry.failedPath, id, result: 'requeued', inboxPath };
  }
}
