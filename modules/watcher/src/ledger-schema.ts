/**
 * The ledger's SQLite file: opening it durably (WAL, `synchronous=FULL`), its tables, and the
 * in-place upgrade of older versions. The only file that loads better-sqlite3.
 *
 * Versions: 1 the first; 2 added `retry_at`, `deferrals`, `deferral` (deferred acknowledgements);
 * 3 added leases (table `leases`; `clock_at`, `held`, `lease_expiry`, `lease_expiries` on items)
 * and reprocessing (`failed_paths`, `reprocessed`). Each upgrade only adds, so an older ledger
 * opens with every row kept.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** The slice of better-sqlite3's API used here (it ships no types and is CommonJS). */
export interface Statement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
export interface Database {
  prepare(sql: string): Statement;
  exec(sql: string): void;
  pragma(source: string, options?: { simple: boolean }): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
  readonly inTransaction: boolean;
  close(): void;
}
type DatabaseConstructor = new (filename: string, options?: { timeout?: number }) => Database;

let DatabaseCtor: DatabaseConstructor | undefined;
function loadSqlite(): DatabaseConstructor {
  DatabaseCtor ??= createRequire(import.meta.url)('better-sqlite3') as DatabaseConstructor;
  return DatabaseCtor;
}

export const SCHEMA_VERSION = 3;

const TABLES = `
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
    deferral TEXT,
    clock_at INTEGER,
    held INTEGER NOT NULL DEFAULT 0,
    lease_expiry INTEGER,
    lease_expiries INTEGER NOT NULL DEFAULT 0,
    failed_paths TEXT NOT NULL DEFAULT '[]',
    reprocessed INTEGER NOT NULL DEFAULT 0
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
  CREATE TABLE IF NOT EXISTS leases (
    id TEXT NOT NULL REFERENCES items (id),
    part TEXT NOT NULL,
    module TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    renewed_at INTEGER NOT NULL,
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
`;

/** Columns added to `items` after version 1, with their definitions (CREATE TABLE IF NOT EXISTS leaves an old table as it was). */
const ADDED_ITEM_COLUMNS: readonly (readonly [string, string])[] = [
  ['retry_at', 'INTEGER'],
  ['deferrals', 'INTEGER NOT NULL DEFAULT 0'],
  ['deferral', 'TEXT'],
  ['clock_at', 'INTEGER'],
  ['held', 'INTEGER NOT NULL DEFAULT 0'],
  ['lease_expiry', 'INTEGER'],
  ['lease_expiries', 'INTEGER NOT NULL DEFAULT 0'],
  ['failed_paths', "TEXT NOT NULL DEFAULT '[]'"],
  ['reprocessed', 'INTEGER NOT NULL DEFAULT 0'],
];

/**
 * Opens (creating when absent) and upgrades the ledger database at `file`.
 * @throws Error when the file is not a ledger this version can read (the caller wraps it)
 */
export function openLedgerDatabase(file: string): Database {
  mkdirSync(path.dirname(file), { recursive: true });
  const Ctor = loadSqlite();
  const db = new Ctor(file, { timeout: 5_000 });
  try {
    // WAL + FULL: a commit returns after the WAL is fsync'd (durable across power loss), and
    // readers never block the writer. An fsync per commit is the cost, so stable files and
    // emissions are committed in batches, not one transaction per file.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw new Error(`ledger schema version ${version} is newer than this watcher (${SCHEMA_VERSION})`);
    db.transaction(() => {
      db.exec(TABLES);
      const columns = new Set((db.prepare('PRAGMA table_info(items)').all() as { name: string }[]).map((c) => c.name));
      for (const [name, definition] of ADDED_ITEM_COLUMNS) if (!columns.has(name)) db.exec(`ALTER TABLE items ADD COLUMN ${name} ${definition}`);
      // Before version 3 the completion timer ran from the last emission.
      if (!columns.has('clock_at')) db.exec('UPDATE items SET clock_at = last_emitted_at');
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
    return db;
  } catch (err: unknown) {
    db.close();
    throw err;
  }
}
