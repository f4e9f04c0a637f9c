/**
 * What happens to inbox files once their fate is known: a completed input is kept, moved to
 * `processed/` or deleted; a dead-lettered one goes to `failed/` with its `.error.json` and an
 * alert; refused entries (symlinks, devices) go to `failed/` too. Every operation runs under a
 * per-path lock, so the intake never examines a file while it is being moved.
 */
import { lstat, rm } from 'node:fs/promises';
import { sendAlert, type DataPaths, type EdgeClient, type ErrorCode, type Logger } from '@edgeml/shared';
import type { WatcherConfig } from './config.js';
import { absoluteIn, relativePosix } from './inventory.js';
import type { DeadLetterReason, ItemRecord, Ledger, PathRecord } from './ledger.js';
import type { LimitedLog } from './limited-log.js';
import type { WatcherMetrics } from './metrics.js';
import { deadLetterFile, freeDestination, inboxRelOf, moveFile, moveToProcessed, readDeadLetterRecord, type DeadLetterDocument } from './share-ops.js';

export interface DispositionsOptions {
  readonly paths: DataPaths;
  readonly inboxReal: string;
  readonly ledger: Ledger;
  readonly edge: EdgeClient;
  readonly log: Logger;
  readonly limited: LimitedLog;
  readonly metrics: WatcherMetrics;
  readonly now: () => number;
  readonly config: () => WatcherConfig;
}

/** Refused entries remembered as unmovable, at most (then forgotten and tried again). */
const MAX_STUCK = 10_000;

export class Dispositions {
  readonly #o: DispositionsOptions;
  /** Paths with a file operation under way (move, delete, dead letter). */
  readonly #busy = new Set<string>();
  /** Refused entries that could not be moved away: reported once, not on every walk. */
  readonly #stuck = new Set<string>();

  constructor(options: DispositionsOptions) {
    this.#o = options;
  }

  /** Whether a file operation on `rel` is under way (the intake leaves it alone meanwhile). */
  isBusy(rel: string): boolean {
    return this.#busy.has(rel);
  }

  #abs(rel: string): string {
    return absoluteIn(this.#o.inboxReal, rel);
  }

  #shareRel(rel: string): string {
    return `${relativePosix(this.#o.paths.share, this.#o.paths.inbox)}/${rel}`;
  }

  #alertTime = (): Date => new Date(this.#o.now());

  async #withPathLock(rel: string, fn: () => Promise<void>): Promise<void> {
    if (this.#busy.has(rel)) return;
    this.#busy.add(rel);
    try {
      await fn();
    } finally {
      this.#busy.delete(rel);
    }
  }

  /** Paths of the item that still hold its content (size and mtime as recorded); the others are forgotten. */
  async #matchingPaths(item: ItemRecord, only?: readonly string[]): Promise<PathRecord[]> {
    const rows = this.#o.ledger.pathsForId(item.id).filter((r) => only === undefined || only.includes(r.path));
    const out: PathRecord[] = [];
    for (const row of rows) {
      const st = await lstat(this.#abs(row.path)).catch(() => undefined);
      if (st?.isFile() === true && st.size === row.sizeBytes && st.mtimeMs === row.mtimeMs) out.push(row);
      else this.#o.ledger.forgetPath(row.path);
    }
    return out;
  }

  /** The after-completion action (`keep`, `move`, `delete`) on every inbox path (or `only` these) holding the item. */
  async afterCompletion(item: ItemRecord, only?: readonly string[]): Promise<void> {
    const { afterCompletion: action, markerMode, markerSuffix } = this.#o.config();
    if (action === 'keep') return;
    for (const row of await this.#matchingPaths(item, only)) {
      await this.#withPathLock(row.path, async () => {
        const abs = this.#abs(row.path);
        const marker = abs + markerSuffix;
        try {
          if (action === 'move') {
            const dest = await moveToProcessed(this.#o.paths.processed, row.path, abs);
            if (markerMode) await moveFile(marker, dest + markerSuffix).catch(() => undefined);
          } else {
            await rm(abs, { force: true });
            if (markerMode) await rm(marker, { force: true });
          }
          this.#o.ledger.forgetPath(row.path);
        } catch (err: unknown) {
          this.#o.limited(`after:${row.path}`, 'warn', { err, path: row.path, action }, 'after-completion action failed; retried on the next inventory');
        }
      });
    }
  }

  /**
   * A dead-lettered source completed after all (a late `uploaded`, e.g. after the uploader's
   * `retryQuarantined`): its inputs leave `failed/` as the completion policy says — `keep` puts them
   * back at their inbox path (a free name when taken; recorded so they are not hashed again), `move`
   * into `processed/`, `delete` deletes them — and their `.error.json` records are removed.
   */
  async completeFromFailed(item: ItemRecord): Promise<void> {
    const { failed, processed } = this.#o.paths;
    const { afterCompletion: action, markerMode, markerSuffix } = this.#o.config();
    for (const failedRel of item.failedPaths) {
      const abs = absoluteIn(failed, failedRel);
      const record = `${abs}.error.json`;
      try {
        const st = await lstat(abs).catch(() => undefined);
        if (st?.isFile() === true) {
          const rel = inboxRelOf(await readDeadLetterRecord(record), failedRel);
          if (action === 'keep') {
            const dest = await freeDestination(this.#o.inboxReal, rel, [markerSuffix]);
            const destRel = relativePosix(this.#o.inboxReal, dest);
            await this.#withPathLock(destRel, async () => {
              await moveFile(abs, dest);
              if (markerMode) await moveFile(abs + markerSuffix, dest + markerSuffix).catch(() => undefined);
              const now = this.#o.now();
              this.#o.ledger.recordStable([{ path: destRel, sizeBytes: st.size, mtimeMs: st.mtimeMs, id: item.id, detectedAt: item.detectedAt, stableAt: now }], now);
            });
          } else if (action === 'move') {
            const dest = await moveToProcessed(processed, rel, abs);
            if (markerMode) await moveFile(abs + markerSuffix, dest + markerSuffix).catch(() => undefined);
          } else {
            await rm(abs, { force: true });
            if (markerMode) await rm(abs + markerSuffix, { force: true });
          }
        }
        await rm(record, { force: true });
        this.#o.ledger.removeFailedPath(item.id, failedRel);
      } catch (err: unknown) {
        this.#o.limited(`late:${failedRel}`, 'warn', { err, failedPath: failedRel, action }, 'a late-completed input could not leave failed/; it stays there');
      }
    }
  }

  /** Dead-letters a source: an alert, then every inbox path holding it to failed/ with the reasons. */
  async deadLetter(item: ItemRecord): Promise<void> {
    const code = item.reasons[0]?.code ?? 'INTERNAL';
    this.#o.metrics.deadLettered.inc({ code });
    this.#o.log.warn({ id: item.id, path: item.path, reasons: item.reasons, attempts: item.attempts }, 'source dead-lettered');
    await sendAlert(
      this.#o.edge,
      this.#o.log,
      {
        severity: 'error',
        code,
        message: `input ${item.path} dead-lettered: ${item.reasons.map((r) => `${r.part ?? 'source'}: ${r.code} ${r.reason}`).join('; ')}`.slice(0, 4_000),
        id: item.id,
        details: { path: item.path, attempts: item.attempts, reasons: item.reasons.slice(0, 16) },
      },
      this.#alertTime,
    );
    await this.deadLetterFiles(item);
  }

  /** Moves the inbox paths (or `only` these) holding a dead-lettered item to failed/, each with its record. */
  async deadLetterFiles(item: ItemRecord, only?: readonly string[]): Promise<void> {
    const { failed } = this.#o.paths;
    const { markerMode, markerSuffix } = this.#o.config();
    const rows = await this.#matchingPaths(item, only);
    const doc = (rel: string): DeadLetterDocument => ({
      code: item.reasons[0]?.code ?? 'INTERNAL',
      reasons: item.reasons,
      source: this.#shareRel(rel),
      id: item.id,
      attempts: item.attempts,
      detectedAt: new Date(item.detectedAt).toISOString(),
      deadLetteredAt: new Date(this.#o.now()).toISOString(),
    });
    if (rows.length === 0 && only === undefined) {
      // The input is gone from the inbox; the evidence still goes to failed/.
      try {
        this.#o.ledger.addFailedPath(item.id, relativePosix(failed, await deadLetterFile(failed, item.path, undefined, doc(item.path))));
      } catch (err: unknown) {
        this.#o.limited(`dead:${item.path}`, 'error', { err, path: item.path }, 'could not write a dead-letter record');
      }
      return;
    }
    for (const row of rows) {
      await this.#withPathLock(row.path, async () => {
        const abs = this.#abs(row.path);
        try {
          const dest = await deadLetterFile(failed, row.path, abs, doc(row.path));
          if (markerMode) await moveFile(abs + markerSuffix, dest + markerSuffix).catch(() => undefined);
          this.#o.ledger.batch(() => {
            this.#o.ledger.forgetPath(row.path);
            this.#o.ledger.addFailedPath(item.id, relativePosix(failed, dest));
          });
        } catch (err: unknown) {
          this.#o.limited(`dead:${row.path}`, 'error', { err, path: row.path }, 'could not move a dead-lettered input to failed/; retried on the next inventory');
        }
      });
    }
  }

  /** Dead-letters an inbox entry that never became an item (unreadable). */
  async deadLetterPath(rel: string, code: ErrorCode, reasons: DeadLetterReason[]): Promise<void> {
    await this.#withPathLock(rel, async () => {
      try {
        await deadLetterFile(this.#o.paths.failed, rel, this.#abs(rel), { code, reasons, source: this.#shareRel(rel), deadLetteredAt: new Date(this.#o.now()).toISOString() });
      } catch (err: unknown) {
        this.#o.limited(`dead:${rel}`, 'error', { err, path: rel }, 'could not move an input to failed/');
        return;
      }
      this.#o.metrics.deadLettered.inc({ code });
      this.#o.log.warn({ path: rel, code, reasons }, 'input dead-lettered');
      await sendAlert(this.#o.edge, this.#o.log, { severity: 'error', code, message: `input ${rel} dead-lettered: ${reasons.map((r) => r.reason).join('; ')}`, details: { path: rel } }, this.#alertTime);
    });
  }

  /** Symlinks, devices and escapes: never followed, moved to failed/ with the reason. */
  async refuse(rel: string, code: 'PATH_OUTSIDE_ROOT' | 'FILE_NOT_REGULAR', reason: string): Promise<void> {
    if (this.#stuck.has(rel)) return;
    await this.#withPathLock(rel, async () => {
      this.#o.metrics.refused.inc({ code });
      this.#o.log.warn({ path: rel, code, reason }, 'inbox entry refused');
      try {
        await deadLetterFile(this.#o.paths.failed, rel, this.#abs(rel), { code, reasons: [{ code, reason }], source: this.#shareRel(rel), deadLetteredAt: new Date(this.#o.now()).toISOString() });
      } catch (err: unknown) {
        this.#stuck.add(rel);
        if (this.#stuck.size > MAX_STUCK) this.#stuck.clear();
        this.#o.log.error({ err, path: rel }, 'could not move a refused entry to failed/; it stays and is ignored until restart');
      }
      await sendAlert(this.#o.edge, this.#o.log, { severity: 'warning', code, message: `inbox entry ${rel} refused: ${reason}`, details: { path: rel } }, this.#alertTime);
    });
  }
}
