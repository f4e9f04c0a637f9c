import type Database from 'better-sqlite3';
import type { QueueClass } from './config.js';
import type { ItemState, QueueItem, ResultRow } from './queue-types.js';

/**
 * The queue file's tables and how a row becomes a value. One file holds the items, the result
 * lines waiting to be batched, the completions waiting to be sent (outbox) and a ledger of what
 * was already uploaded. `renew_at` (items and result lines) is when the part's lease must be
 * renewed (half of the lease its last `held` announced): the renewal picks those due, earliest
 * first (the column is added in place to older files, where it is 0: due at once).
 */

export interface ItemRow {
  seq: number;
  key: string;
  cls: QueueClass;
  size_bytes: number;
  enqueued_at: number;
  state: ItemState;
  attempts: number;
  next_attempt_at: number;
  last_code: string | null;
  last_reason: string | null;
  payload: string;
  renew_at: number;
}

export interface ResultDbRow {
  message_id: string;
  window_key: number;
  received_at: number;
  size_bytes: number;
  line: string;
  ack: string;
  renew_at: number;
}

const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS items (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL UNIQUE,
  cls TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  enqueued_at INTEGER NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_code TEXT,
  last_reason TEXT,
  payload TEXT NOT NULL,
  renew_at INTEGER NOT NULL DEFAULT 0,
  priority INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS items_pick ON items (cls, state, seq);
CREATE TABLE IF NOT EXISTS results (
  message_id TEXT PRIMARY KEY,
  window_key INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  size_bytes INTEGER NOT NULL,
  batch_seq INTEGER,
  line TEXT NOT NULL,
  ack TEXT NOT NULL,
  renew_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS results_open ON results (batch_seq, window_key);
CREATE TABLE IF NOT EXISTS done (
  key TEXT PRIMARY KEY,
  blob_name TEXT NOT NULL,
  md5 TEXT NOT NULL,
  sink TEXT NOT NULL,
  content_sha256 TEXT,
  completed_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS done_age ON done (completed_at);
CREATE TABLE IF NOT EXISTS images (
  id TEXT PRIMARY KEY,
  image TEXT NOT NULL,
  seen_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS images_age ON images (seen_at);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`;

export function toItem<P>(row: ItemRow): QueueItem<P> {
  return {
    seq: row.seq,
    key: row.key,
    cls: row.cls,
    sizeBytes: row.size_bytes,
    enqueuedAtMs: row.enqueued_at,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAtMs: row.next_attempt_at,
    lastCode: row.last_code,
    lastReason: row.last_reason,
    payload: JSON.parse(row.payload) as P,
  };
}

export function toResult<A>(row: ResultDbRow): ResultRow<A> {
  return { messageId: row.message_id, windowKey: row.window_key, receivedAtMs: row.received_at, sizeBytes: row.size_bytes, line: row.line, ack: JSON.parse(row.ack) as A };
}

/** Creates the tables, or brings an older file up to date (columns added in place). */
export function applySchema(db: Database.Database): void {
  db.exec(SCHEMA_SQL);
  for (const table of ['items', 'results']) {
    const columns = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
    if (!columns.includes('renew_at')) db.exec(`ALTER TABLE ${table} ADD COLUMN renew_at INTEGER NOT NULL DEFAULT 0`);
    if (table === 'items' && !columns.includes('priority')) db.exec(`ALTER TABLE items ADD COLUMN priority INTEGER NOT NULL DEFAULT 0`);
  }
  db.exec(`CREATE INDEX IF NOT EXISTS items_renew ON items (renew_at);
CREATE INDEX IF NOT EXISTS results_renew ON results (renew_at);`)
}
