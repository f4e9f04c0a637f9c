/**
 * The durable, write-ahead ledger: SQLite in WAL mode with `synchronous=FULL`, so every committed
 * transaction survives kill -9 and power loss. The only file that loads better-sqlite3.
 *
 * Two tables carry the state:
 * - `items`, one row per content id (SHA-256): state, attempts, timestamps, expected parts and the
 *   per-part acknowledgements (table `acks`). Same content is one item, whatever its path.
 * - `paths`, the persisted inventory: what each inbox path held when last seen (size, mtime, id),
 *   so a restart neither re-hashes nor re-emits what it already knows.
 *
 * Write-ahead: an emission is committed (state `emitted`, attempt counted, `sent = 0`) before the
 * message goes out and marked `sent` after the hub accepted it; a crash in between re-sends the
 * same attempt (same messageId) on restart.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { EdgeMLError } from '@edgeml/shared';
import { mergeAck, uploadedParts, type AckMerge, type ItemState, type PartAck } from './item-state.js';

/** The slice of better-sqlite3's API used here (it ships no types and is CommonJS). */
interface Statement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface Database {
  prepare(sql: string): Statement;
  exec(sql: string): void;
  pragma(source: string, options?: { simple: boolean }): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
  close(): void;
}
type DatabaseConstructor = new (filename: string, options?: { timeout?: number }) => Database;

let DatabaseCtor: DatabaseConstructor | undefined;
function loadSqlite(): DatabaseConstructor {
  DatabaseCtor ??= createRequire(import.meta.url)('better-sqlite3') as DatabaseConstructor;
  return DatabaseCtor;
}

/** 2 added `retry_at`, `deferrals` and `deferral` (deferred acknowledgements); a version-1 ledger is upgraded in place. */
const SCHEMA_VERSION = 2;

export interface ItemRecord {
  readonly id: string;
  /** Path relative to the inbox (POSIX). */
  readonly path: string;
  readonly sizeBytes: number;
  readonly mtimeMs: number;
  readonly state: ItemState;
  readonly attempts: number;
  /** Epoch ms. `detectedAt` is written once, when the content is first recorded. */
  readonly detectedAt: number;
  readonly stableAt: number;
  readonly firstEmittedAt: number | null;
  readonly lastEmittedAt: number | null;
  readonly sent: boolean;
  readonly finishedAt: number | null;
  readonly expectedParts: readonly string[];
  readonly acks: readonly PartAck[];
  /** Why the item was dead-lettered. */
  readonly reasons: readonly DeadLetterReason[];
  /** Set while a module deferred a part: when to offer the source again (epoch ms). */
  readonly retryAt: number | null;
  /** Deferred acknowledgements received over the item's life (they do not count as attempts). */
  readonly deferrals: number;
  /** The latest deferral, for status and logs. */
  readonly deferral: Deferral | null;
}

export interface Deferral {
  readonly part: string;
  readonly module: string;
  readonly code: string;
  readonly reason: string;
  readonly at: number;
}

export interface DeadLetterReason {
  readonly code: string;
  readonly reason: string;
  readonly part?: string;
  readonly module?: string;
}

export interface PathRecord {
  readonly path: string;
  readonly sizeBytes: number;
  readonly mtimeMs: number;
  readonly id: string;
  /** The item's state, when read with {@link Ledger.allPaths}. */
  readonly state?: ItemState;
}

export interface StableFile {
  readonly path: string;
  readonly sizeBytes: number;
  readonly mtimeMs: number;
  readonly id: string;
  readonly detectedAt: number;
  readonly stableAt: number;
}

export type RecordOutcome = { readonly outcome: 'new' | 'revived'; readonly item: ItemRecord } | { readonly outcome: 'known'; readonly item: ItemRecord };

export type AckResult =
  | { readonly result: 'unknown' }
  | { readonly result: 'alreadyFinal'; readonly item: ItemRecord }
  /** A deferral that changed nothing: the item is not in flight, or the part is already uploaded. */
  | { readonly result: 'deferralIgnored'; readonly item: ItemRecord }
  | { readonly result: 'deferred'; readonly item: ItemRecord; readonly retryAt: number }
  | { readonly result: 'merged'; readonly merge: AckMerge; readonly item: ItemRecord };

interface ItemRow {
  id: string;
  path: string;
  size_bytes: number;
  mtime_ms: number;
  state: ItemState;
  attempts: number;
  detected_at: number;
  stable_at: number;
  first_emitted_at: number | null;
  last_emitted_at: number | null;
  sent: number;
  finished_at: number | null;
  expected_parts: string;
  reasons: string;
  retry_at: number | null;
  deferrals: number;
  deferral: string | null;
}
interface AckRow {
  part: string;
  outcome: PartAck['outcome'];
  module: string;
  code: string | null;
  reason: string | null;
  at: number;
}

/** When a deferral does not say how long to wait. */
export const DEFAULT_RETRY_AFTER_MS = 30_000;

export interface LedgerCounts {
  readonly pending: number;
  readonly emitted: number;
  readonly completed: number;
  readonly deadLettered: number;
  readonly gone: number;
}

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
      item: db.prepare('SELECT * FROM items WHERE id = ?'),
      acks: db.prepare('SELECT part, outcome, module, code, reason, at FROM acks WHERE id = ? ORDER BY at, part'),
      insertItem: db.prepare(
        `INSERT INTO items (id, path, size_bytes, mtime_ms, state, attempts, detected_at, stable_at, sent, expected_parts, reasons)
         VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, 0, '[]', '[]')`,
      ),
      revive: db.prepare(
        `UPDATE items SET state = 'pending', path = ?, size_bytes = ?, mtime_ms = ?, stable_at = ?, attempts = 0, sent = 0, finished_at = NULL, retry_at = NULL WHERE id = ?`,
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
        `UPDATE items SET state = 'emitted', attempts = attempts + 1, sent = 0, retry_at = NULL, last_emitted_at = ?, first_emitted_at = COALESCE(first_emitted_at, ?) WHERE id = ?`,
      ),
      retry: db.prepare(`UPDATE items SET sent = 0, retry_at = NULL, last_emitted_at = ? WHERE id = ? AND state = 'emitted'`),
      defer: db.prepare(
        `UPDATE items SET retry_at = MAX(COALESCE(retry_at, 0), ?), deferrals = deferrals + 1, deferral = ? WHERE id = ? AND state = 'emitted'`,
      ),
      markSent: db.prepare(`UPDATE items SET sent = 1 WHERE id = ? AND state = 'emitted'`),
      unsent: db.prepare(`SELECT id FROM items WHERE state = 'emitted' AND sent = 0 ORDER BY last_emitted_at LIMIT ?`),
      due: db.prepare(
        `SELECT id FROM items WHERE state = 'emitted' AND sent = 1 AND (retry_at <= ? OR (retry_at IS NULL AND last_emitted_at <= ?))
         ORDER BY COALESCE(retry_at, last_emitted_at) LIMIT ?`,
      ),
      deferredCount: db.prepare(`SELECT COUNT(*) AS n FROM items WHERE state = 'emitted' AND retry_at IS NOT NULL`),
      setParts: db.prepare('UPDATE items SET expected_parts = ? WHERE id = ?'),
      upsertAck: db.prepare(
        `INSERT INTO acks (id, part, outcome, module, code, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id, part) DO UPDATE SET outcome = excluded.outcome, module = excluded.module, code = excluded.code, reason = excluded.reason, at = excluded.at`,
      ),
      finish: db.prepare('UPDATE items SET state = ?, finished_at = ?, reasons = ?, retry_at = NULL WHERE id = ?'),
      setState: db.prepare('UPDATE items SET state = ?, finished_at = ? WHERE id = ?'),
      setItemPath: db.prepare('UPDATE items SET path = ?, size_bytes = ?, mtime_ms = ? WHERE id = ?'),
      counts: db.prepare('SELECT state, COUNT(*) AS n FROM items GROUP BY state'),
      inFlight: db.prepare(`SELECT COUNT(*) AS n FROM items WHERE state = 'emitted'`),
      pendingCount: db.prepare(`SELECT COUNT(*) AS n FROM items WHERE state = 'pending'`),
      prunable: db.prepare(
        `SELECT id FROM items WHERE state IN ('completed', 'deadLettered', 'gone') AND finished_at < ?
         AND NOT EXISTS (SELECT 1 FROM paths p WHERE p.id = items.id) LIMIT ?`,
      ),
      deleteAcks: db.prepare('DELETE FROM acks WHERE id = ?'),
      deleteItem: db.prepare('DELETE FROM items WHERE id = ?'),
      nextDue: db.prepare(`SELECT MIN(last_emitted_at) AS t FROM items WHERE state = 'emitted' AND sent = 1`),
    };
  }

  static open(file: string): Ledger {
    mkdirSync(path.dirname(file), { recursive: true });
    const Ctor = loadSqlite();
    let db: Database | undefined;
    try {
      db = new Ctor(file, { timeout: 5_000 });
      // WAL + FULL: a commit returns after the WAL is fsync'd (durable across power loss), and
      // readers never block the writer. An fsync per commit is the cost, so stable files and
      // emissions are committed in batches, not one transaction per file.
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) throw new Error(`ledger schema version ${version} is newer than this watcher (${SCHEMA_VERSION})`);
      db.exec(`
        CREATE TABLE IF NOT EXISTS items (
          id TEXT PRIMARY KEY,
          path TEXT NOT NULL,
          size_bytes INTEGER NOT NULL,
          mtime_ms REAL NOT NULL,
          state TEXT NOT NULL,
          attempts INTEGER NOT NULL,
          detected_at INTEGER NOT NULL,
          stable_at INTEGER NOT NULL,
          first_emitted_at INTEGER,
          last_emitted_at INTEGER,
          sent INTEGER NOT NULL,
          finished_at INTEGER,
          expected_parts TEXT NOT NULL,
          reasons TEXT NOT NULL,
          retry_at INTEGER,
          deferrals INTEGER NOT NULL DEFAULT 0,
          deferral TEXT
        );
        CREATE INDEX IF NOT EXISTS items_state ON items (state, sent, last_emitted_at);
        CREATE TABLE IF NOT EXISTS acks (
          id TEXT NOT NULL REFERENCES items (id),
          part TEXT NOT NULL,
          outcome TEXT NOT NULL,
          module TEXT NOT NULL,
          code TEXT,
          reason TEXT,
          at INTEGER NOT NULL,
          PRIMARY KEY (id, part)
        );
        CREATE TABLE IF NOT EXISTS paths (
          path TEXT PRIMARY KEY,
          size_bytes INTEGER NOT NULL,
          mtime_ms REAL NOT NULL,
          id TEXT NOT NULL,
          seen_at INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS paths_id ON paths (id);
      `);
      // Upgrade a version-1 ledger (CREATE TABLE IF NOT EXISTS left its items table as it was).
      const columns = new Set((db.prepare('PRAGMA table_info(items)').all() as { name: string }[]).map((c) => c.name));
      if (!columns.has('retry_at')) db.exec('ALTER TABLE items ADD COLUMN retry_at INTEGER');
      if (!columns.has('deferrals')) db.exec('ALTER TABLE items ADD COLUMN deferrals INTEGER NOT NULL DEFAULT 0');
      if (!columns.has('deferral')) db.exec('ALTER TABLE items ADD COLUMN deferral TEXT');
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      return new Ledger(file, db);
    } catch (err: unknown) {
      db?.close();
      throw new EdgeMLError('STATE_CORRUPT', `cannot open the watcher ledger ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  #item(row: ItemRow | undefined): ItemRecord | undefined {
    if (row === undefined) return undefined;
    const acks = (this.#s['acks']!.all(row.id) as AckRow[]).map(
      (a): PartAck => ({
        part: a.part,
        outcome: a.outcome,
        module: a.module,
        at: a.at,
        ...(a.code === null ? {} : { code: a.code }),
        ...(a.reason === null ? {} : { reason: a.reason }),
      }),
    );
    return {
      id: row.id,
      path: row.path,
      sizeBytes: row.size_bytes,
      mtimeMs: row.mtime_ms,
      state: row.state,
      attempts: row.attempts,
      detectedAt: row.detected_at,
      stableAt: row.stable_at,
      firstEmittedAt: row.first_emitted_at,
      lastEmittedAt: row.last_emitted_at,
      sent: row.sent === 1,
      finishedAt: row.finished_at,
      expectedParts: JSON.parse(row.expected_parts) as string[],
      acks,
      reasons: JSON.parse(row.reasons) as DeadLetterReason[],
      retryAt: row.retry_at,
      deferrals: row.deferrals,
      deferral: row.deferral === null ? null : (JSON.parse(row.deferral) as Deferral),
    };
  }

  getItem(id: string): ItemRecord | undefined {
    return this.#item(this.#s['item']!.get(id) as ItemRow | undefined);
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

  forgetPath(relPath: string): void {
    this.#s['deletePath']!.run(relPath);
  }

  /**
   * Records stable, hashed files in one transaction: the path's inventory row, and a new `pending`
   * item for content never seen (or seen and `gone`). Known content is not emitted again.
   */
  recordStable(files: readonly StableFile[], nowMs: number): RecordOutcome[] {
    const tx = this.#db.transaction((batch: readonly StableFile[]) =>
      batch.map((f): RecordOutcome => {
        this.#s['upsertPath']!.run(f.path, f.sizeBytes, f.mtimeMs, f.id, nowMs);
        const existing = this.getItem(f.id);
        if (existing === undefined) {
          this.#s['insertItem']!.run(f.id, f.path, f.sizeBytes, f.mtimeMs, f.detectedAt, f.stableAt);
          return { outcome: 'new', item: this.#mustItem(f.id) };
        }
        if (existing.state === 'gone') {
          this.#s['revive']!.run(f.path, f.sizeBytes, f.mtimeMs, f.stableAt, f.id);
          return { outcome: 'revived', item: this.#mustItem(f.id) };
        }
        return { outcome: 'known', item: existing };
      }),
    );
    return tx(files);
  }

  /**
   * Write-ahead half of an emission: up to `limit` pending items become `emitted` with the attempt
   * counted and `sent = 0`, committed before anything is sent.
   */
  takeForEmission(limit: number, nowMs: number): ItemRecord[] {
    if (limit <= 0) return [];
    const tx = this.#db.transaction((n: number) => {
      const ids = (this.#s['pending']!.all(n) as { id: string }[]).map((r) => r.id);
      for (const id of ids) this.#s['emit']!.run(nowMs, nowMs, id);
      return ids.map((id) => this.#mustItem(id));
    });
    return tx(limit);
  }

  /** Counts a new attempt for an emitted item whose completion timed out (committed before the send). */
  markReemit(id: string, nowMs: number): ItemRecord {
    this.#s['emit']!.run(nowMs, nowMs, id);
    return this.#mustItem(id);
  }

  /** Offers a deferred item again: sent again, the attempt not counted (a deferral is not a failure). */
  markRetry(id: string, nowMs: number): ItemRecord {
    this.#s['retry']!.run(nowMs, id);
    return this.#mustItem(id);
  }

  markSent(ids: readonly string[]): void {
    const tx = this.#db.transaction((list: readonly string[]) => {
      for (const id of list) this.#s['markSent']!.run(id);
    });
    tx(ids);
  }

  /** Emitted items whose send was not confirmed (a crash or a failed send): send them again. */
  unsent(limit: number): ItemRecord[] {
    return (this.#s['unsent']!.all(limit) as { id: string }[]).map((r) => this.#mustItem(r.id));
  }

  /**
   * Emitted and sent items that are due: deferred ones whose `retryAt` has come, and the others last
   * emitted at or before `emittedBeforeMs` (their completion timed out).
   */
  dueForTimeout(emittedBeforeMs: number, nowMs: number, limit: number): ItemRecord[] {
    return (this.#s['due']!.all(nowMs, emittedBeforeMs, limit) as { id: string }[]).map((r) => this.#mustItem(r.id));
  }

  /** Items in flight that wait for a deferral's retry time. */
  deferredCount(): number {
    return (this.#s['deferredCount']!.get() as { n: number }).n;
  }

  /** Earliest `lastEmittedAt` among sent, unacknowledged items (for scheduling), or undefined. */
  earliestEmission(): number | undefined {
    const r = this.#s['nextDue']!.get() as { t: number | null };
    return r.t ?? undefined;
  }

  /**
   * Merges a part's acknowledgement into the item and, when that finishes it, moves it to
   * `completed` or `deadLettered` — all in one transaction.
   */
  applyAck(id: string, ack: PartAck, expectedParts: readonly string[], retryAfterMs?: number): AckResult {
    const tx = this.#db.transaction((): AckResult => {
      const item = this.getItem(id);
      if (item === undefined) return { result: 'unknown' };
      if (item.state === 'completed' || item.state === 'deadLettered') return { result: 'alreadyFinal', item };
      if (ack.outcome === 'deferred') {
        // Not final: nothing is merged. Only an item in flight whose part is still missing waits for a retry.
        if (item.state !== 'emitted' || uploadedParts(item.acks).includes(ack.part)) return { result: 'deferralIgnored', item };
        // Repeated deferrals back off (×2 each, up to ×16): a bottleneck that lasts (an uplink down for
        // hours) must not have every in-flight file re-run through the pipeline every retryAfterMs.
        const retryAt = ack.at + (retryAfterMs ?? DEFAULT_RETRY_AFTER_MS) * 2 ** Math.min(item.deferrals, 4);
        const deferral: Deferral = { part: ack.part, module: ack.module, code: ack.code ?? 'INTERNAL', reason: ack.reason ?? 'deferred without a reason', at: ack.at };
        this.#s['defer']!.run(retryAt, JSON.stringify(deferral), id);
        const after = this.#mustItem(id);
        return { result: 'deferred', item: after, retryAt: after.retryAt ?? retryAt };
      }
      const merge = mergeAck(item, ack, expectedParts);
      if (merge.changed) {
        this.#s['setParts']!.run(JSON.stringify(merge.expectedParts), id);
        const a = merge.acks.find((x) => x.part === ack.part)!;
        this.#s['upsertAck']!.run(id, a.part, a.outcome, a.module, a.code ?? null, a.reason ?? null, a.at);
      }
      if (merge.verdict === 'completed') this.#s['finish']!.run('completed', ack.at, '[]', id);
      else if (merge.verdict === 'deadLettered') {
        const reasons: DeadLetterReason[] = merge.acks
          .filter((a) => a.outcome === 'deadLettered')
          .map((a) => ({ part: a.part, module: a.module, code: a.code ?? 'INTERNAL', reason: a.reason ?? 'dead-lettered without a reason' }));
        this.#s['finish']!.run('deadLettered', ack.at, JSON.stringify(reasons), id);
      }
      return { result: 'merged', merge, item: this.#mustItem(id) };
    });
    return tx();
  }

  markDeadLettered(id: string, reasons: readonly DeadLetterReason[], nowMs: number): ItemRecord {
    this.#s['finish']!.run('deadLettered', nowMs, JSON.stringify(reasons), id);
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
