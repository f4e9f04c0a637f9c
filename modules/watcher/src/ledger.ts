/**
 * The durable, write-ahead ledger: SQLite in WAL mode with `synchronous=FULL`, so every committed
 * transaction survives kill -9 and power loss (the file and its versions: ledger-schema.ts).
 *
 * The tables:
 * - `items`, one row per content id (SHA-256): state, attempts, timestamps, expected parts, the
 *   per-part acknowledgements (table `acks`) and leases (table `leases`). Same content is one item,
 *   whatever its path.
 * - `paths`, the persisted inventory: what each inbox path held when last seen (size, mtime, id),
 *   so a restart neither re-hashes nor re-emits what it already knows.
 *
 * Write-ahead: an emission is committed (state `emitted`, attempt counted, `sent = 0`) before the
 * message goes out and marked `sent` after the hub accepted it; a crash in between re-sends the
 * same attempt (same messageId) on restart.
 */
import { EdgeMLError } from '@edgeml/shared';
import { holdState, mergeAck, unionParts, uploadedParts, type ItemState, type PartAck, type PartLease } from './item-state.js';
import { openLedgerDatabase, type Database, type Statement } from './ledger-schema.js';
import {
  toItemRecord,
  type AckResult,
  type AckRow,
  type DeadLetterReason,
  type Deferral,
  type IncomingAck,
  type ItemRecord,
  type ItemRow,
  type LeaseRow,
  type LedgerCounts,
  type PathRecord,
  type RecordOutcome,
  type StableFile,
} from './ledger-records.js';

export type { AckResult, DeadLetterReason, Deferral, IncomingAck, ItemRecord, LedgerCounts, PathRecord, RecordOutcome, StableFile } from './ledger-records.js';

/** When a deferral does not say how long to wait. */
export const DEFAULT_RETRY_AFTER_MS = 30_000;

/** Sorts after any real epoch-ms time in SQL (an absent time). */
const NEVER = 9e15;

/**
 * Opens (creating when absent) the ledger at `file`.
 * @throws EdgeMLError STATE_CORRUPT when the file is not a ledger this version can read
 */
export class Ledger {
  readonly file: string;
  readonly #db: Database;
  readonly #s: Record<string, Statement>;
  #closed = false;

  private constructor(file: string, db: Database) {
    this.file = file;
    this.#db = db;
    this.#s = {
      // One statement per item read (the hot path reads an item per file): its acks and leases as JSON arrays.
      item: db.prepare(
        `SELECT i.*,
           (SELECT json_group_array(json_object('part', part, 'outcome', outcome, 'module', module, 'code', code, 'reason', reason, 'at', at))
              FROM (SELECT * FROM acks a WHERE a.id = i.id ORDER BY at, part)) AS acks_json,
           (SELECT json_group_array(json_object('part', part, 'module', module, 'expires_at', expires_at))
              FROM (SELECT * FROM leases l WHERE l.id = i.id ORDER BY part)) AS leases_json
         FROM items i WHERE i.id = ?`,
      ),
      insertItem: db.prepare(
        `INSERT INTO items (id, path, size_bytes, mtime_ms, state, attempts, detected_at, stable_at, sent, expected_parts, reasons)
         VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, 0, '[]', '[]')`,
      ),
      revive: db.prepare(
        `UPDATE items SET state = 'pending', path = ?, size_bytes = ?, mtime_ms = ?, stable_at = ?, attempts = 0, sent = 0, finished_at = NULL, retry_at = NULL,
         held = 0, lease_expiry = NULL WHERE id = ?`,
      ),
      upsertPath: db.prepare(
        `INSERT INTO paths (path, size_bytes, mtime_ms, id, seen_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(path) DO UPDATE SET size_bytes = excluded.size_bytes, mtime_ms = excluded.mtime_ms, id = excluded.id, seen_at = excluded.seen_at`,
      ),
      path: db.prepare('SELECT path, size_bytes, mtime_ms, id FROM paths WHERE path = ?'),
      allPaths: db.prepare('SELECT p.path, p.size_bytes, p.mtime_ms, p.id, i.state FROM paths p LEFT JOIN items i ON i.id = p.id'),
      pathsForId: db.prepare('SELECT path, size_bytes, mtime_ms, id FROM paths WHERE id = ? ORDER BY path'),
      deletePath: db.prepare('DELETE FROM paths WHERE path = ?'),
      pending: db.prepare(`SELECT id FROM items WHERE state = 'pending' ORDER BY stable_at, rowid LIMIT ?`),
      emit: db.prepare(
        `UPDATE items SET state = 'emitted', attempts = attempts + 1, sent = 0, retry_at = NULL, last_emitted_at = @now, first_emitted_at = COALESCE(first_emitted_at, @now),
         clock_at = @now WHERE id = @id`,
      ),
      retry: db.prepare(`UPDATE items SET sent = 0, retry_at = NULL, last_emitted_at = @now, clock_at = @now WHERE id = @id AND state = 'emitted'`),
      defer: db.prepare(
        `UPDATE items SET retry_at = MAX(COALESCE(retry_at, 0), ?), deferrals = deferrals + 1, deferral = ? WHERE id = ? AND state = 'emitted'`,
      ),
      markSent: db.prepare(`UPDATE items SET sent = 1 WHERE id = ? AND state = 'emitted'`),
      unsent: db.prepare(`SELECT id FROM items WHERE state = 'emitted' AND sent = 0 ORDER BY last_emitted_at LIMIT ?`),
      // Due: a deferral's retry time has come, a lease ran out, or nobody holds every missing part and
      // the completion timer ran out. Must agree with timeoutDecision (item-state.ts).
      due: db.prepare(
        `SELECT id FROM items WHERE state = 'emitted' AND sent = 1
         AND (retry_at <= @now OR lease_expiry <= @now OR (retry_at IS NULL AND held = 0 AND COALESCE(clock_at, last_emitted_at, 0) <= @before))
         ORDER BY MIN(COALESCE(retry_at, ${NEVER}), COALESCE(lease_expiry, ${NEVER}), COALESCE(clock_at, last_emitted_at, 0)) LIMIT @limit`,
      ),
      nextDue: db.prepare(
        `SELECT MIN(MIN(COALESCE(retry_at, ${NEVER}), COALESCE(lease_expiry, ${NEVER}),
           CASE WHEN retry_at IS NULL AND held = 0 THEN COALESCE(clock_at, last_emitted_at, 0) + @timeout ELSE ${NEVER} END)) AS t
         FROM items WHERE state = 'emitted' AND sent = 1`,
      ),
      deferredCount: db.prepare(`SELECT COUNT(*) AS n FROM items WHERE state = 'emitted' AND retry_at IS NOT NULL`),
      heldCount: db.prepare(`SELECT COUNT(*) AS n FROM items WHERE state = 'emitted' AND held = 1`),
      setParts: db.prepare('UPDATE items SET expected_parts = ? WHERE id = ?'),
      upsertAck: db.prepare(
        `INSERT INTO acks (id, part, outcome, module, code, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id, part) DO UPDATE SET outcome = excluded.outcome, module = excluded.module, code = excluded.code, reason = excluded.reason, at = excluded.at`,
      ),
      // A renewal never shortens a lease (renewals may arrive out of order).
      upsertLease: db.prepare(
        `INSERT INTO leases (id, part, module, expires_at, renewed_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(id, part) DO UPDATE SET module = excluded.module, expires_at = MAX(leases.expires_at, excluded.expires_at), renewed_at = excluded.renewed_at`,
      ),
      deleteLease: db.prepare('DELETE FROM leases WHERE id = ? AND part = ?'),
      deleteLeases: db.prepare('DELETE FROM leases WHERE id = ?'),
      deleteExpiredLeases: db.prepare('DELETE FROM leases WHERE id = ? AND expires_at <= ?'),
      setHold: db.prepare('UPDATE items SET held = @held, lease_expiry = @expiry, clock_at = COALESCE(@clock, clock_at), retry_at = CASE WHEN @held = 1 THEN NULL ELSE retry_at END WHERE id = @id'),
      leaseRanOut: db.prepare(`UPDATE items SET lease_expiries = lease_expiries + @n, sent = 0, retry_at = NULL, last_emitted_at = @now, clock_at = @now WHERE id = @id`),
      setFailedPaths: db.prepare('UPDATE items SET failed_paths = ? WHERE id = ?'),
      // Reprocessing: back to `gone` with a clean slate, so the content found again becomes a new pending item.
      reset: db.prepare(
        `UPDATE items SET state = 'gone', finished_at = @now, attempts = 0, sent = 0, expected_parts = '[]', reasons = '[]', retry_at = NULL, deferrals = 0,
         deferral = NULL, held = 0, lease_expiry = NULL, failed_paths = '[]', reprocessed = reprocessed + 1 WHERE id = @id`,
      ),
      finish: db.prepare('UPDATE items SET state = ?, finished_at = ?, reasons = ?, retry_at = NULL, held = 0, lease_expiry = NULL WHERE id = ?'),
      setState: db.prepare('UPDATE items SET state = ?, finished_at = ? WHERE id = ?'),
      setItemPath: db.prepare('UPDATE items SET path = ?, size_bytes = ?, mtime_ms = ? WHERE id = ?'),
      counts: db.prepare('SELECT state, COUNT(*) AS n FROM items GROUP BY state'),
      // A source whose every missing part is held (durably accepted downstream, e.g. a result line waiting
      // in the uploader's batch window) needs nothing more from the pipeline: it leaves its slot. Counting
      // it capped the suite at maxInFlight per batch window (100 files a minute; #20).
      inFlight: db.prepare(`SELECT COUNT(*) AS n FROM items WHERE state = 'emitted' AND held = 0`),
      pendingCount: db.prepare(`SELECT COUNT(*) AS n FROM items WHERE state = 'pending'`),
      prunable: db.prepare(
        `SELECT id FROM items WHERE state IN ('completed', 'deadLettered', 'gone') AND finished_at < ?
         AND NOT EXISTS (SELECT 1 FROM paths p WHERE p.id = items.id) LIMIT ?`,
      ),
      deleteAcks: db.prepare('DELETE FROM acks WHERE id = ?'),
      deleteItem: db.prepare('DELETE FROM items WHERE id = ?'),
    };
  }

  static open(file: string): Ledger {
    try {
      return new Ledger(file, openLedgerDatabase(file));
    } catch (err: unknown) {
      throw new EdgeMLError('STATE_CORRUPT', `cannot open the watcher ledger ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  getItem(id: string): ItemRecord | undefined {
    const row = this.#s['item']!.get(id) as (ItemRow & { acks_json: string; leases_json: string }) | undefined;
    if (row === undefined) return undefined;
    return toItemRecord(row, JSON.parse(row.acks_json) as AckRow[], JSON.parse(row.leases_json) as LeaseRow[]);
  }

  #mustItem(id: string): ItemRecord {
    const item = this.getItem(id);
    if (item === undefined) throw new EdgeMLError('INTERNAL', `ledger item ${id} vanished`);
    return item;
  }

  getPath(relPath: string): PathRecord | undefined {
    const r = this.#s['path']!.get(relPath) as { path: string; size_bytes: number; mtime_ms: number; id: string } | undefined;
    return r === undefined ? undefined : { path: r.path, sizeBytes: r.size_bytes, mtimeMs: r.mtime_ms, id: r.id };
  }

  /** The whole persisted inventory with each item's state, for a scan to compare against. */
  allPaths(): Map<string, PathRecord> {
    const out = new Map<string, PathRecord>();
    for (const r of this.#s['allPaths']!.all() as { path: string; size_bytes: number; mtime_ms: number; id: string; state: ItemState | null }[]) {
      out.set(r.path, { path: r.path, sizeBytes: r.size_bytes, mtimeMs: r.mtime_ms, id: r.id, ...(r.state === null ? {} : { state: r.state }) });
    }
    return out;
  }

  pathsForId(id: string): PathRecord[] {
    return (this.#s['pathsForId']!.all(id) as { path: string; size_bytes: number; mtime_ms: number; id: string }[]).map((r) => ({
      path: r.path,
      sizeBytes: r.size_bytes,
      mtimeMs: r.mtime_ms,
      id: r.id,
    }));
  }

  /** Runs `fn` in one transaction (one commit, one fsync, however many rows it changes). */
  batch<R>(fn: () => R): R {
    return this.#db.transaction(fn)();
  }

  /**
   * Runs `fn` in one transaction committed without its own fsync (`synchronous = NORMAL`): it
   * becomes durable with the next fully synced commit (which fsyncs the whole WAL, these frames
   * included) or checkpoint. Only for records whose loss on power failure costs redone work, never
   * a broken promise: stable files not yet emitted (found and hashed again from the inbox) and
   * sends confirmed (sent again with the same message id; consumers de-duplicate). Inside an outer
   * transaction it simply joins it.
   */
  #relaxed<R>(fn: () => R): R {
    if (this.#db.inTransaction) return this.#db.transaction(fn)();
    this.#db.pragma('synchronous = NORMAL');
    try {
      return this.#db.transaction(fn)();
    } finally {
      this.#db.pragma('synchronous = FULL');
    }
  }

  forgetPath(relPath: string): void {
    this.#s['deletePath']!.run(relPath);
  }

  /**
   * Records stable, hashed files in one transaction: the path's inventory row, and a new `pending`
   * item for content never seen (or seen and `gone`). Known content is not emitted again, except
   * dead-lettered content when `reviveDeadLettered` (the twin's `deadLetterRedrop: process`): it is
   * reset and processed anew.
   */
  recordStable(files: readonly StableFile[], nowMs: number, options: { readonly reviveDeadLettered?: boolean } = {}): RecordOutcome[] {
    // Relaxed: nothing has been promised about these files yet; the emission's commit makes them durable.
    return this.#relaxed(() =>
      files.map((f): RecordOutcome => {
        this.#s['upsertPath']!.run(f.path, f.sizeBytes, f.mtimeMs, f.id, nowMs);
        const existing = this.getItem(f.id);
        if (existing === undefined) {
          this.#s['insertItem']!.run(f.id, f.path, f.sizeBytes, f.mtimeMs, f.detectedAt, f.stableAt);
          return { outcome: 'new', item: this.#mustItem(f.id) };
        }
        const redrop = existing.state === 'deadLettered' && options.reviveDeadLettered === true;
        if (redrop) this.#reset(f.id, nowMs);
        if (existing.state === 'gone' || redrop) {
          this.#s['deleteLeases']!.run(f.id);
          this.#s['revive']!.run(f.path, f.sizeBytes, f.mtimeMs, f.stableAt, f.id);
          return { outcome: 'revived', item: this.#mustItem(f.id), revivedFrom: redrop ? 'deadLettered' : 'gone' };
        }
        return { outcome: 'known', item: existing };
      }),
    );
  }

  /**
   * Write-ahead half of an emission: up to `limit` pending items become `emitted` with the attempt
   * counted and `sent = 0`, committed before anything is sent.
   */
  takeForEmission(limit: number, nowMs: number): ItemRecord[] {
    if (limit <= 0) return [];
    const tx = this.#db.transaction((n: number) => {
      const ids = (this.#s['pending']!.all(n) as { id: string }[]).map((r) => r.id);
      for (const id of ids) this.#s['emit']!.run({ now: nowMs, id });
      return ids.map((id) => this.#mustItem(id));
    });
    return tx(limit);
  }

  /** Counts a new attempt for an emitted item whose completion timed out (committed before the send). */
  markReemit(id: string, nowMs: number): ItemRecord {
    this.#s['emit']!.run({ now: nowMs, id });
    return this.#mustItem(id);
  }

  /** Offers a deferred item again: sent again, the attempt not counted (a deferral is not a failure). */
  markRetry(id: string, nowMs: number): ItemRecord {
    this.#s['retry']!.run({ now: nowMs, id });
    return this.#mustItem(id);
  }

  /**
   * Handles leases of an emitted item that ran out by `nowMs` (their holder stopped renewing): they
   * are removed and the item is offered again (sent again, the attempt not counted; the completion
   * timer starts again). Returns the item and the leases that ran out, or undefined when the item is
   * not in flight.
   */
  expireLeases(id: string, nowMs: number): { item: ItemRecord; expired: PartLease[] } | undefined {
    const tx = this.#db.transaction(() => {
      const item = this.getItem(id);
      if (item?.state !== 'emitted') return undefined;
      const expired = item.leases.filter((l) => l.expiresAt <= nowMs);
      this.#s['deleteExpiredLeases']!.run(id, nowMs);
      this.#s['leaseRanOut']!.run({ n: expired.length, now: nowMs, id });
      this.#refreshHold(id, nowMs);
      return { item: this.#mustItem(id), expired };
    });
    return tx();
  }

  /** Confirms sends (relaxed: a confirmation lost to a power cut re-sends the same message id). */
  markSent(ids: readonly string[]): void {
    this.#relaxed(() => {
      for (const id of ids) this.#s['markSent']!.run(id);
    });
  }

  /** Emitted items whose send was not confirmed (a crash or a failed send): send them again. */
  unsent(limit: number): ItemRecord[] {
    return (this.#s['unsent']!.all(limit) as { id: string }[]).map((r) => this.#mustItem(r.id));
  }

  /**
   * Emitted and sent items that are due at `nowMs`: deferred ones whose `retryAt` has come, those
   * with a lease that ran out, and those nobody holds whose completion timer started at or before
   * `clockBeforeMs` (their completion timed out).
   */
  dueForTimeout(clockBeforeMs: number, nowMs: number, limit: number): ItemRecord[] {
    return (this.#s['due']!.all({ now: nowMs, before: clockBeforeMs, limit }) as { id: string }[]).map((r) => this.#mustItem(r.id));
  }

  /** When the next item becomes due (see {@link dueForTimeout}), or undefined when none is in flight. */
  nextDueAt(completionTimeoutMs: number): number | undefined {
    const r = this.#s['nextDue']!.get({ timeout: completionTimeoutMs }) as { t: number | null };
    return r.t === null || r.t >= NEVER ? undefined : r.t;
  }

  /** Items in flight that wait for a deferral's retry time. */
  deferredCount(): number {
    return (this.#s['deferredCount']!.get() as { n: number }).n;
  }

  /** Items in flight whose every missing part is held under a lease. */
  heldCount(): number {
    return (this.#s['heldCount']!.get() as { n: number }).n;
  }

  /** Recomputes whether every missing part is held; leaving that state restarts the completion timer. */
  #refreshHold(id: string, nowMs: number): void {
    const item = this.#mustItem(id);
    const hold = holdState(item, nowMs);
    const clock = item.held && !hold.held ? nowMs : null;
    this.#s['setHold']!.run({ held: hold.held ? 1 : 0, expiry: hold.nextExpiryAt, clock, id });
  }

  /**
   * Applies one acknowledgement in one transaction: a final outcome is merged and may move the item
   * to `completed` or `deadLettered`; `deferred` sets a retry time; `held` grants or renews a lease.
   */
  applyAck(id: string, ack: IncomingAck, expectedParts: readonly string[], retryAfterMs?: number): AckResult {
    const tx = this.#db.transaction((): AckResult => {
      const item = this.getItem(id);
      if (item === undefined) return { result: 'unknown' };
      if (item.state === 'deadLettered' && ack.outcome === 'uploaded') return this.#lateUpload(item, { ...ack, outcome: ack.outcome }, expectedParts);
      if (item.state === 'completed' || item.state === 'deadLettered') return { result: 'alreadyFinal', item };
      if (ack.outcome === 'deferred') return this.#defer(item, ack, retryAfterMs);
      if (ack.outcome === 'held') return this.#hold(item, ack, expectedParts);
      return this.#merge(item, { ...ack, outcome: ack.outcome }, expectedParts);
    });
    return tx();
  }

  #defer(item: ItemRecord, ack: IncomingAck, retryAfterMs: number | undefined): AckResult {
    // Not final: nothing is merged. Only an item in flight whose part nobody has uploaded or holds waits for a retry.
    const held = item.leases.some((l) => l.part === ack.part && l.expiresAt > ack.at);
    if (item.state !== 'emitted' || held || uploadedParts(item.acks).includes(ack.part)) return { result: 'deferralIgnored', item };
    // Repeated deferrals back off (×2 each, up to ×16): a bottleneck that lasts must not have every
    // in-flight file re-run through the pipeline every retryAfterMs.
    const retryAt = ack.at + (retryAfterMs ?? DEFAULT_RETRY_AFTER_MS) * 2 ** Math.min(item.deferrals, 4);
    const deferral: Deferral = { part: ack.part, module: ack.module, code: ack.code ?? 'INTERNAL', reason: ack.reason ?? 'deferred without a reason', at: ack.at };
    this.#s['defer']!.run(retryAt, JSON.stringify(deferral), item.id);
    const after = this.#mustItem(item.id);
    return { result: 'deferred', item: after, retryAt: after.retryAt ?? retryAt };
  }

  #hold(item: ItemRecord, ack: IncomingAck, expectedParts: readonly string[]): AckResult {
    if (item.state !== 'emitted' || uploadedParts(item.acks).includes(ack.part)) return { result: 'leaseIgnored', item };
    const expected = unionParts(item.expectedParts, expectedParts, ack.part);
    if (expected.length !== item.expectedParts.length) this.#s['setParts']!.run(JSON.stringify(expected), item.id);
    this.#s['upsertLease']!.run(item.id, ack.part, ack.module, ack.leaseExpiresAt ?? ack.at, ack.at);
    this.#refreshHold(item.id, ack.at);
    const after = this.#mustItem(item.id);
    return { result: 'held', item: after, expiresAt: after.leases.find((l) => l.part === ack.part)?.expiresAt ?? ack.at };
  }

  #merge(item: ItemRecord, ack: PartAck, expectedParts: readonly string[]): AckResult {
    const { id } = item;
    const merge = mergeAck(item, ack, expectedParts);
    if (merge.changed) {
      this.#s['setParts']!.run(JSON.stringify(merge.expectedParts), id);
      const a = merge.acks.find((x) => x.part === ack.part)!;
      this.#s['upsertAck']!.run(id, a.part, a.outcome, a.module, a.code ?? null, a.reason ?? null, a.at);
    }
    // A settled part is nobody's to hold any more.
    this.#s['deleteLease']!.run(id, ack.part);
    if (merge.verdict === 'completed') this.#finish(id, 'completed', [], ack.at);
    else if (merge.verdict === 'deadLettered') {
      const reasons: DeadLetterReason[] = merge.acks
        .filter((a) => a.outcome === 'deadLettered')
        .map((a) => ({ part: a.part, module: a.module, code: a.code ?? 'INTERNAL', reason: a.reason ?? 'dead-lettered without a reason' }));
      this.#finish(id, 'deadLettered', reasons, ack.at);
    } else this.#refreshHold(id, ack.at);
    return { result: 'merged', merge, item: this.#mustItem(id) };
  }

  /**
   * An `uploaded` for a dead-lettered source (the uploader retried a quarantined part, or a part
   * uploaded after the watcher gave up): recorded, replacing the same module's dead letter of that
   * part; when every expected part is then uploaded the source completes after all.
   */
  #lateUpload(item: ItemRecord, ack: PartAck, expectedParts: readonly string[]): AckResult {
    const merge = mergeAck(item, ack, expectedParts, { supersedeDeadLetter: true });
    if (!merge.changed) return { result: 'alreadyFinal', item };
    this.#s['setParts']!.run(JSON.stringify(merge.expectedParts), item.id);
    this.#s['upsertAck']!.run(item.id, ack.part, ack.outcome, ack.module, ack.code ?? null, ack.reason ?? null, ack.at);
    if (merge.verdict !== 'completed') return { result: 'alreadyFinal', item: this.#mustItem(item.id) };
    this.#s['finish']!.run('completed', ack.at, '[]', item.id);
    return { result: 'merged', merge, item: this.#mustItem(item.id) };
  }

  /** Notes where a dead-lettered input (or its record alone) went, relative to `failed/`. */
  addFailedPath(id: string, failedRel: string): void {
    const item = this.getItem(id);
    if (item === undefined || item.failedPaths.includes(failedRel)) return;
    this.#s['setFailedPaths']!.run(JSON.stringify([...item.failedPaths, failedRel]), id);
  }

  /** The input at `failedRel` left `failed/` (reprocessed, or handled after a late completion). */
  removeFailedPath(id: string, failedRel: string): void {
    const item = this.getItem(id);
    if (item === undefined || !item.failedPaths.includes(failedRel)) return;
    this.#s['setFailedPaths']!.run(JSON.stringify(item.failedPaths.filter((p) => p !== failedRel)), id);
  }

  /**
   * Resets a finished item for reprocessing: state `gone`, no attempts, acknowledgements, leases or
   * reasons, so the same content found in the inbox again is a new pending item. Returns false when
   * the item is unknown or still in the pipeline (pending or in flight: nothing to reset).
   */
  resetForReprocess(id: string, nowMs: number): boolean {
    const tx = this.#db.transaction(() => {
      const item = this.getItem(id);
      if (item === undefined || item.state === 'pending' || item.state === 'emitted') return false;
      this.#reset(id, nowMs);
      return true;
    });
    return tx();
  }

  #reset(id: string, nowMs: number): void {
    this.#s['deleteAcks']!.run(id);
    this.#s['deleteLeases']!.run(id);
    this.#s['reset']!.run({ now: nowMs, id });
  }

  #finish(id: string, state: 'completed' | 'deadLettered', reasons: readonly DeadLetterReason[], nowMs: number): void {
    this.#s['deleteLeases']!.run(id);
    this.#s['finish']!.run(state, nowMs, JSON.stringify(reasons), id);
  }

  markDeadLettered(id: string, reasons: readonly DeadLetterReason[], nowMs: number): ItemRecord {
    this.#finish(id, 'deadLettered', reasons, nowMs);
    return this.#mustItem(id);
  }

  markGone(id: string, nowMs: number): void {
    this.#s['setState']!.run('gone', nowMs, id);
  }

  /** The content now lives at another inbox path (the old one was renamed or overwritten). */
  moveItem(id: string, to: PathRecord): void {
    this.#s['setItemPath']!.run(to.path, to.sizeBytes, to.mtimeMs, id);
  }

  /**
   * Forgets up to `limit` finished items (completed, dead-lettered, gone) that finished before
   * `finishedBeforeMs` and whose content no inbox path holds any more. Returns how many.
   */
  prune(finishedBeforeMs: number, limit = 10_000): number {
    const tx = this.#db.transaction(() => {
      const ids = (this.#s['prunable']!.all(finishedBeforeMs, limit) as { id: string }[]).map((r) => r.id);
      for (const id of ids) {
        this.#s['deleteAcks']!.run(id);
        this.#s['deleteLeases']!.run(id);
        this.#s['deleteItem']!.run(id);
      }
      return ids.length;
    });
    return tx();
  }

  counts(): LedgerCounts {
    const c = { pending: 0, emitted: 0, completed: 0, deadLettered: 0, gone: 0 };
    for (const r of this.#s['counts']!.all() as { state: ItemState; n: number }[]) c[r.state] = r.n;
    return c;
  }

  /**
   * Emitted sources that still hold a `maxInFlight` slot: every emitted one except those whose
   * missing parts are all held under a live lease (`heldCount()`).
   */
  inFlight(): number {
    return (this.#s['inFlight']!.get() as { n: number }).n;
  }

  pendingCount(): number {
    return (this.#s['pendingCount']!.get() as { n: number }).n;
  }

  /** The durability settings in force (`journalMode` 'wal', `synchronous` 2 = FULL for a file ledger). */
  durability(): { journalMode: string; synchronous: number } {
    return {
      journalMode: String(this.#db.pragma('journal_mode', { simple: true })),
      synchronous: Number(this.#db.pragma('synchronous', { simple: true })),
    };
  }

  /** Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}
