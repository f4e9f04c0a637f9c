/**
 * The hub's durable state in `<workDir>/hub.db` (SQLite, WAL): store-and-forward queues (one FIFO per
 * endpoint and priority), module twins, and each module's session features (which subscriptions it
 * holds), so a hub restart loses neither queued messages nor clean=false sessions.
 *
 * better-sqlite3 is synchronous: messages are in the WAL when `commit` returns, which is what lets the
 * hub PUBACK only after persisting (wire notes §11.7).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { EdgeMLError } from '@edgeml/shared';
import type { SubscriptionFeature } from './topics.js';

/** A message as stored: enough to deliver it to a module input or write it to the journal. */
export interface StoredMessage {
  readonly seq: number;
  readonly endpoint: string;
  readonly priority: number;
  readonly enqueuedAtMs: number;
  /** Undefined: never expires. */
  readonly expiresAtMs: number | undefined;
  readonly sizeBytes: number;
  readonly systemProperties: Readonly<Record<string, string>>;
  readonly properties: Readonly<Record<string, string>>;
  /** Route name and source, for metrics labels. */
  readonly routeName: string;
  readonly fromModule: string;
  readonly fromOutput: string;
  readonly body: Buffer;
}

export interface NewMessage {
  readonly endpoint: string;
  readonly priority: number;
  readonly enqueuedAtMs: number;
  readonly expiresAtMs: number | undefined;
  readonly sizeBytes: number;
  readonly systemProperties: Readonly<Record<string, string>>;
  readonly properties: Readonly<Record<string, string>>;
  readonly routeName: string;
  readonly fromModule: string;
  readonly fromOutput: string;
  readonly body: Buffer;
}

export interface TwinRow {
  readonly desired: Record<string, unknown>;
  readonly reported: Record<string, unknown>;
  readonly desiredVersion: number;
  readonly reportedVersion: number;
  readonly seedHash: string;
}

/** Where a queue's delivery order stands: messages are served by priority number, then FIFO (seq). */
export interface QueueKey {
  readonly priority: number;
  readonly seq: number;
}

export interface HubStore {
  /**
   * One transaction (all or none): inserts `inserts` and deletes the messages numbered `removals`.
   * Returns the seq of each insert, in order. This is the hub's group commit: everything that arrived
   * in one event-loop turn, and every acknowledgement, in one write.
   */
  commit(inserts: readonly NewMessage[], removals: readonly number[]): number[];
  /** Up to `limit` deliverable messages of an endpoint after `after` (all when undefined), in delivery order. */
  load(endpoint: string, nowMs: number, after: QueueKey | undefined, limit: number): StoredMessage[];
  /** Deletes expired messages and returns them (for the ttl_expiry metric). */
  removeExpired(nowMs: number): StoredMessage[];
  queues(): Array<{ endpoint: string; priority: number; length: number; bytes: number }>;
  totalBytes(): number;
  endpoints(): string[];
  getTwin(moduleId: string): TwinRow | undefined;
  putTwin(moduleId: string, twin: TwinRow): void;
  getFeatures(moduleId: string): Set<SubscriptionFeature>;
  putFeatures(moduleId: string, features: ReadonlySet<SubscriptionFeature>): void;
  close(): void;
}

/** `row` stored as number `seq`. */
export function storedMessage(row: NewMessage, seq: number): StoredMessage {
  return {
    seq,
    endpoint: row.endpoint,
    priority: row.priority,
    enqueuedAtMs: row.enqueuedAtMs,
    expiresAtMs: row.expiresAtMs,
    sizeBytes: row.sizeBytes,
    systemProperties: row.systemProperties,
    properties: row.properties,
    routeName: row.routeName,
    fromModule: row.fromModule,
    fromOutput: row.fromOutput,
    body: row.body,
  };
}

interface MessageRow {
  seq: number;
  endpoint: string;
  priority: number;
  enqueued_at: number;
  expires_at: number | null;
  size: number;
  meta: string;
  body: Buffer;
}

function toStored(row: MessageRow): StoredMessage {
  const meta = JSON.parse(row.meta) as {
    systemProperties: Record<string, string>;
    properties: Record<string, string>;
    routeName: string;
    fromModule: string;
    fromOutput: string;
  };
  return {
    seq: row.seq,
    endpoint: row.endpoint,
    priority: row.priority,
    enqueuedAtMs: row.enqueued_at,
    expiresAtMs: row.expires_at ?? undefined,
    sizeBytes: row.size,
    systemProperties: meta.systemProperties,
    properties: meta.properties,
    routeName: meta.routeName,
    fromModule: meta.fromModule,
    fromOutput: meta.fromOutput,
    body: row.body,
  };
}

/**
 * The messages table. `seq` is assigned by the store (one above the largest stored at open, then
 * counting up in this process) and is the rowid: no AUTOINCREMENT, whose `sqlite_sequence` row was
 * one more B-tree update in every insert (hub.db files written before keep opening: see
 * {@link migrateAutoincrement}).
 */
const MESSAGE_COLUMNS = `
  seq INTEGER PRIMARY KEY,
  endpoint TEXT NOT NULL,
  priority INTEGER NOT NULL,
  enqueued_at INTEGER NOT NULL,
  expires_at INTEGER,
  size INTEGER NOT NULL,
  meta TEXT NOT NULL,
  body BLOB NOT NULL
`;

/**
 * A hub.db written by an earlier version declares `seq … AUTOINCREMENT`: its queued messages are copied,
 * seq and all, into a table of today's schema, in one transaction (a kill meanwhile leaves the old table
 * as it was). Its indexes go with the old table and are created again on the new one.
 */
function migrateAutoincrement(db: Database): void {
  const row = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'messages'").get() as { sql: string } | undefined;
  if (row === undefined || !/AUTOINCREMENT/i.test(row.sql)) return;
  db.transaction(() => {
    db.exec(`
      CREATE TABLE messages_migrated (${MESSAGE_COLUMNS});
      INSERT INTO messages_migrated (seq, endpoint, priority, enqueued_at, expires_at, size, meta, body)
        SELECT seq, endpoint, priority, enqueued_at, expires_at, size, meta, body FROM messages;
      DROP TABLE messages;
      ALTER TABLE messages_migrated RENAME TO messages;
    `);
  })();
}

/**
 * Opens (creating when absent) the database file in WAL mode with today's schema, migrating an older one.
 * @throws EdgeMLError STATE_CORRUPT when it cannot be read (the handle is closed then)
 */
function openDatabase(file: string): Database {
  let db: Database | undefined;
  try {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a committed transaction survives a process kill (what "hub killed" means here);
    // only an OS crash may lose the last commits.
    db.pragma('synchronous = NORMAL');
    db.exec(`
      CREATE TABLE IF NOT EXISTS messages (${MESSAGE_COLUMNS});
    `);
    migrateAutoincrement(db);
    db.exec(`
      CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (endpoint, priority, seq);
      -- The expiry sweep runs several times a second; without this it would scan every queued message.
      CREATE INDEX IF NOT EXISTS messages_by_expiry ON messages (expires_at) WHERE expires_at IS NOT NULL;
      CREATE TABLE IF NOT EXISTS twins (
        module TEXT PRIMARY KEY,
        desired TEXT NOT NULL,
        reported TEXT NOT NULL,
        desired_version INTEGER NOT NULL,
        reported_version INTEGER NOT NULL,
        seed_hash TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS sessions (
        module TEXT PRIMARY KEY,
        features TEXT NOT NULL
      );
    `);
    return db;
  } catch (err: unknown) {
    if (db?.open === true) db.close();
    throw new EdgeMLError('STATE_CORRUPT', `hub state ${file} cannot be opened`, { cause: err });
  }
}

/** Opens (creating when absent) `<workDir>/hub.db`. @throws EdgeMLError STATE_CORRUPT when it cannot be read. */
export function openHubStore(workDir: string): HubStore {
  const db = openDatabase(join(workDir, 'hub.db'));
  const insert = db.prepare<[number, string, number, number, number | null, number, string, Buffer]>(
    'INSERT INTO messages (seq, endpoint, priority, enqueued_at, expires_at, size, meta, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const removeStmt = db.prepare<[number]>('DELETE FROM messages WHERE seq = ?');
  const removeRangeStmt = db.prepare<[number, number]>('DELETE FROM messages WHERE seq BETWEEN ? AND ?');
  let nextSeq = ((db.prepare('SELECT MAX(seq) AS seq FROM messages').get() as { seq: number | null }).seq ?? 0) + 1;
  const metaOf = (m: NewMessage): string =>
    JSON.stringify({ systemProperties: m.systemProperties, properties: m.properties, routeName: m.routeName, fromModule: m.fromModule, fromOutput: m.fromOutput });
  const commitAll = db.transaction((inserts: readonly NewMessage[], removals: readonly number[]): number[] => {
    const seqs: number[] = [];
    for (const m of inserts) {
      insert.run(nextSeq, m.endpoint, m.priority, m.enqueuedAtMs, m.expiresAtMs ?? null, m.sizeBytes, metaOf(m), m.body);
      seqs.push(nextSeq++);
    }
    removeRuns(removals);
    return seqs;
  });
  /**
   * Deletes `seqs` one run of consecutive numbers per statement: acknowledgements mostly come in the
   * order the messages were stored, so a commit's deletes are usually one or a few ranges.
   */
  const removeRuns = (seqs: readonly number[]): void => {
    const sorted = [...seqs].sort((a, b) => a - b);
    let i = 0;
    while (i < sorted.length) {
      const from = sorted[i]!;
      let to = from;
      while (i + 1 < sorted.length && sorted[i + 1] === to + 1) to = sorted[++i]!;
      i++;
      if (to === from) removeStmt.run(from);
      else removeRangeStmt.run(from, to);
    }
  };
  const loadFirstStmt = db.prepare<[string, number, number]>(
    'SELECT * FROM messages WHERE endpoint = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY priority, seq LIMIT ?',
  );
  const loadAfterStmt = db.prepare<[string, number, number, number, number, number]>(
    `SELECT * FROM messages WHERE endpoint = ? AND (expires_at IS NULL OR expires_at > ?) AND (priority > ? OR (priority = ? AND seq > ?))
     ORDER BY priority, seq LIMIT ?`,
  );
  const expiredStmt = db.prepare<[number]>('SELECT * FROM messages WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT 1000');
  const queuesStmt = db.prepare(
    'SELECT endpoint, priority, COUNT(*) AS length, COALESCE(SUM(size), 0) AS bytes FROM messages GROUP BY endpoint, priority ORDER BY endpoint, priority',
  );
  const totalStmt = db.prepare('SELECT COALESCE(SUM(size), 0) AS bytes FROM messages');
  const endpointsStmt = db.prepare('SELECT DISTINCT endpoint FROM messages');
  const getTwinStmt = db.prepare<[string]>('SELECT * FROM twins WHERE module = ?');
  const putTwinStmt = db.prepare<[string, string, string, number, number, string]>(
    'INSERT OR REPLACE INTO twins (module, desired, reported, desired_version, reported_version, seed_hash) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const getFeaturesStmt = db.prepare<[string]>('SELECT features FROM sessions WHERE module = ?');
  const putFeaturesStmt = db.prepare<[string, string]>('INSERT OR REPLACE INTO sessions (module, features) VALUES (?, ?)');

  return {
    commit(inserts, removals) {
      if (inserts.length === 0 && removals.length === 0) return [];
      return commitAll(inserts, removals);
    },
    load(endpoint, nowMs, after, limit) {
      const rows = (after === undefined ? loadFirstStmt.all(endpoint, nowMs, limit) : loadAfterStmt.all(endpoint, nowMs, after.priority, after.priority, after.seq, limit)) as MessageRow[];
      return rows.map(toStored);
    },
    removeExpired(nowMs) {
      const rows = expiredStmt.all(nowMs) as MessageRow[];
      if (rows.length === 0) return [];
      const del = db.transaction(() => {
        for (const r of rows) removeStmt.run(r.seq);
      });
      del();
      return rows.map(toStored);
    },
    queues() {
      return queuesStmt.all() as Array<{ endpoint: string; priority: number; length: number; bytes: number }>;
    },
    totalBytes() {
      return (totalStmt.get() as { bytes: number }).bytes;
    },
    endpoints() {
      return (endpointsStmt.all() as Array<{ endpoint: string }>).map((r) => r.endpoint);
    },
    getTwin(moduleId) {
      const row = getTwinStmt.get(moduleId) as
        | { desired: string; reported: string; desired_version: number; reported_version: number; seed_hash: string }
        | undefined;
      if (row === undefined) return undefined;
      return {
        desired: JSON.parse(row.desired) as Record<string, unknown>,
        reported: JSON.parse(row.reported) as Record<string, unknown>,
        desiredVersion: row.desired_version,
        reportedVersion: row.reported_version,
        seedHash: row.seed_hash,
      };
    },
    putTwin(moduleId, twin) {
      putTwinStmt.run(moduleId, JSON.stringify(twin.desired), JSON.stringify(twin.reported), twin.desiredVersion, twin.reportedVersion, twin.seedHash);
    },
    getFeatures(moduleId) {
      const row = getFeaturesStmt.get(moduleId) as { features: string } | undefined;
      return new Set(row === undefined ? [] : (JSON.parse(row.features) as SubscriptionFeature[]));
    },
    putFeatures(moduleId, features) {
      putFeaturesStmt.run(moduleId, JSON.stringify([...features].sort()));
    },
    close() {
      if (db.open) db.close();
    },
  };
}
