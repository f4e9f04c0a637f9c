/**
 * The hub's durable state in `<workDir>/hub.db` (SQLite, WAL): store-and-forward queues (one FIFO per
 * endpoint and priority), module twins, and each module's session features (which subscriptions it
 * holds), so a hub restart loses neither queued messages nor clean=false sessions.
 *
 * better-sqlite3 is synchronous: a message is on disk when `enqueue` returns, which is what lets the hub
 * PUBACK only after persisting (wire notes §11.7).
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

export interface HubStore {
  /** Appends every message in one transaction (all or none). */
  enqueue(messages: readonly NewMessage[]): void;
  /** The next deliverable message of an endpoint: lowest priority number first, FIFO within it. */
  head(endpoint: string, nowMs: number): StoredMessage | undefined;
  remove(seq: number): void;
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

/** Opens (creating when absent) `<workDir>/hub.db`. @throws EdgeMLError STATE_CORRUPT when it cannot be read. */
export function openHubStore(workDir: string): HubStore {
  let db: Database;
  try {
    db = new Database(join(workDir, 'hub.db'));
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a committed transaction survives a process kill (what "hub killed" means here);
    // only an OS crash may lose the last commits.
    db.pragma('synchronous = NORMAL');
    db.exec(`
      CREATE TABLE IF NOT EXISTS messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        endpoint TEXT NOT NULL,
        priority INTEGER NOT NULL,
        enqueued_at INTEGER NOT NULL,
        expires_at INTEGER,
        size INTEGER NOT NULL,
        meta TEXT NOT NULL,
        body BLOB NOT NULL
      );
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
  } catch (err: unknown) {
    throw new EdgeMLError('STATE_CORRUPT', `hub state ${join(workDir, 'hub.db')} cannot be opened`, { cause: err });
  }

  const insert = db.prepare<[string, number, number, number | null, number, string, Buffer]>(
    'INSERT INTO messages (endpoint, priority, enqueued_at, expires_at, size, meta, body) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const insertAll = db.transaction((messages: readonly NewMessage[]) => {
    for (const m of messages) {
      const meta = JSON.stringify({
        systemProperties: m.systemProperties,
        properties: m.properties,
        routeName: m.routeName,
        fromModule: m.fromModule,
        fromOutput: m.fromOutput,
      });
      insert.run(m.endpoint, m.priority, m.enqueuedAtMs, m.expiresAtMs ?? null, m.sizeBytes, meta, m.body);
    }
  });
  const headStmt = db.prepare<[string, number]>(
    'SELECT * FROM messages WHERE endpoint = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY priority, seq LIMIT 1',
  );
  const removeStmt = db.prepare<[number]>('DELETE FROM messages WHERE seq = ?');
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
    enqueue(messages) {
      insertAll(messages);
    },
    head(endpoint, nowMs) {
      const row = headStmt.get(endpoint, nowMs) as MessageRow | undefined;
      return row === undefined ? undefined : toStored(row);
    },
    remove(seq) {
      removeStmt.run(seq);
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
