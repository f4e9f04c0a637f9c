import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ledger, LEDGER_SCHEMA_VERSION, type IncomingAck, type StableFile } from '@edgeml/watcher';

const id = (n: number): string => n.toString(16).padStart(64, '0');
const stable = (n: number): StableFile => ({ path: `f${n}.jpg`, sizeBytes: n, mtimeMs: 500 + n, id: id(n), detectedAt: 1000, stableAt: 1010 });
const PARTS = ['artifact', 'result:cls'];
const held = (part: string, at: number, expiresAt: number): IncomingAck => ({ part, outcome: 'held', module: 'uploader', at, leaseExpiresAt: expiresAt });
const uploaded = (part: string, at: number): IncomingAck => ({ part, outcome: 'uploaded', module: 'uploader', at });
const TIMEOUT_MS = 1000;

describe('watcher/ledger: leases (held parts)', () => {
  let dir: string;
  let ledger: Ledger;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-ledger-'));
    ledger = Ledger.open(path.join(dir, 'ledger.sqlite'));
    ledger.recordStable([stable(1), stable(2)], 1100);
    ledger.takeForEmission(2, 2000);
    ledger.markSent([id(1), id(2)]);
  });
  afterEach(async () => {
    ledger.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Ids due at `now` with the test's completion timeout. */
  const due = (now: number): string[] => ledger.dueForTimeout(now - TIMEOUT_MS, now, 100).map((i) => i.id);

  it('an item whose every missing part is held is not due for many completion timeouts; the other one is', () => {
    assert.equal(ledger.applyAck(id(1), held('artifact', 2100, 100_000), PARTS).result, 'held');
    assert.equal(ledger.applyAck(id(1), held('result:cls', 2100, 100_000), PARTS).result, 'held');
    const item = ledger.getItem(id(1))!;
    assert.deepEqual([item.held, item.attempts, item.acks.length, item.expectedParts], [true, 1, 0, PARTS], 'a lease is not an acknowledgement');
    assert.equal(ledger.heldCount(), 1);
    for (const now of [3000, 10_000, 50_000, 99_999]) assert.deepEqual(due(now), [id(2)], `at ${now} (${Math.floor((now - 2000) / TIMEOUT_MS)} timeouts)`);
    assert.equal(ledger.nextDueAt(TIMEOUT_MS), 2000 + TIMEOUT_MS, 'the unheld item is next');
  });

  it('a renewal extends a lease and an out-of-order older one never shortens it', () => {
    for (const p of PARTS) ledger.applyAck(id(1), held(p, 2100, 10_000), PARTS);
    ledger.applyAck(id(1), held('artifact', 9000, 20_000), PARTS);
    ledger.applyAck(id(1), held('artifact', 9100, 15_000), PARTS);
    assert.equal(ledger.getItem(id(1))!.leases.find((l) => l.part === 'artifact')!.expiresAt, 20_000);
    assert.ok(due(10_000).includes(id(1)), 'result:cls was not renewed: its lease ran out');
    ledger.applyAck(id(1), held('result:cls', 9500, 20_000), PARTS);
    assert.ok(!due(19_999).includes(id(1)), 'renewed in time: held again');
  });

  it('a lease that runs out makes the item due; expiring it offers the source again without an attempt', () => {
    for (const p of PARTS) ledger.applyAck(id(1), held(p, 2100, p === 'artifact' ? 60_000 : 30_000), PARTS);
    assert.ok(!due(29_999).includes(id(1)));
    assert.ok(due(30_000).includes(id(1)));
    const r = ledger.expireLeases(id(1), 30_000)!;
    assert.deepEqual(
      r.expired.map((l) => l.part),
      ['result:cls'],
    );
    assert.deepEqual([r.item.attempts, r.item.sent, r.item.leaseExpiries, r.item.clockAt, r.item.lastEmittedAt, r.item.held], [1, false, 1, 30_000, 30_000, false]);
    assert.deepEqual(
      r.item.leases.map((l) => l.part),
      ['artifact'],
      'the lease still live stays',
    );
    ledger.markSent([id(1)]);
    assert.ok(!due(30_999).includes(id(1)), 'the timer starts again from the re-offer');
    assert.ok(due(31_000).includes(id(1)), 'result:cls is held by nobody now: the timer runs');
  });

  it('held then uploaded completes normally; a late held for a completed source is ignored', () => {
    for (const p of PARTS) ledger.applyAck(id(1), held(p, 2100, 60_000), PARTS);
    const first = ledger.applyAck(id(1), uploaded('artifact', 5000), PARTS);
    assert.equal(first.result === 'merged' && first.merge.verdict, 'waiting');
    assert.deepEqual(
      ledger.getItem(id(1))!.leases.map((l) => l.part),
      ['result:cls'],
      'a settled part is nobody’s to hold',
    );
    assert.equal(ledger.getItem(id(1))!.held, true, 'still held: the remaining part has a live lease');
    const done = ledger.applyAck(id(1), uploaded('result:cls', 6000), PARTS);
    assert.equal(done.result === 'merged' && done.merge.verdict, 'completed');
    assert.deepEqual(ledger.getItem(id(1))!.leases, []);
    assert.equal(ledger.applyAck(id(1), held('artifact', 7000, 70_000), PARTS).result, 'alreadyFinal');
    assert.equal(ledger.heldCount(), 0);
  });

  it('ignores a held for an uploaded part or an item not in flight, and a deferral for a held part', () => {
    ledger.recordStable([stable(3)], 1100);
    assert.equal(ledger.applyAck(id(3), held('artifact', 2100, 60_000), PARTS).result, 'leaseIgnored', 'pending: not in flight');
    ledger.applyAck(id(1), uploaded('artifact', 2100), PARTS);
    assert.equal(ledger.applyAck(id(1), held('artifact', 2200, 60_000), PARTS).result, 'leaseIgnored');
    ledger.applyAck(id(2), held('artifact', 2100, 60_000), PARTS);
    const deferral: IncomingAck = { part: 'artifact', outcome: 'deferred', module: 'transformer', code: 'OVERLOADED', reason: 'busy', at: 2300 };
    assert.equal(ledger.applyAck(id(2), deferral, PARTS, 5000).result, 'deferralIgnored');
  });

  it('leaving the held state without a lapse (a new expected part) restarts the completion timer', () => {
    for (const p of PARTS) ledger.applyAck(id(1), held(p, 2100, 600_000), PARTS);
    ledger.applyAck(id(1), held('artifact', 50_000, 600_000), [...PARTS, 'result:det']);
    const item = ledger.getItem(id(1))!;
    assert.deepEqual([item.held, item.clockAt], [false, 50_000]);
    assert.ok(!due(50_999).includes(id(1)), 'time under the lease did not count');
    assert.ok(due(51_000).includes(id(1)));
  });

  it('keeps leases across close and reopen (a watcher restart)', () => {
    for (const p of PARTS) ledger.applyAck(id(1), held(p, 2100, 90_000), PARTS);
    const file = ledger.file;
    ledger.close();
    ledger = Ledger.open(file);
    const item = ledger.getItem(id(1))!;
    assert.equal(item.held, true);
    assert.deepEqual(
      item.leases.map((l) => [l.part, l.expiresAt]),
      [
        ['artifact', 90_000],
        ['result:cls', 90_000],
      ],
    );
    assert.deepEqual(due(89_999), [id(2)]);
  });
});

describe('watcher/ledger: upgrade from version 2', () => {
  it('adds the lease table and columns in place; the completion timer of an emitted item runs from its last emission', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'edgeml-ledger-'));
    const file = path.join(dir, 'v2.sqlite');
    type Db = { exec(sql: string): void; pragma(s: string): unknown; close(): void };
    const Sqlite = createRequire(import.meta.url)('better-sqlite3') as new (f: string) => Db;
    const old = new Sqlite(file);
    old.exec(`CREATE TABLE items (id TEXT PRIMARY KEY, path TEXT NOT NULL, size_bytes INTEGER NOT NULL, mtime_ms REAL NOT NULL, state TEXT NOT NULL,
      attempts INTEGER NOT NULL, detected_at INTEGER NOT NULL, stable_at INTEGER NOT NULL, first_emitted_at INTEGER, last_emitted_at INTEGER,
      sent INTEGER NOT NULL, finished_at INTEGER, expected_parts TEXT NOT NULL, reasons TEXT NOT NULL, retry_at INTEGER,
      deferrals INTEGER NOT NULL DEFAULT 0, deferral TEXT);
      CREATE TABLE acks (id TEXT NOT NULL REFERENCES items (id), part TEXT NOT NULL, outcome TEXT NOT NULL, module TEXT NOT NULL, code TEXT, reason TEXT,
      at INTEGER NOT NULL, PRIMARY KEY (id, part));
      CREATE TABLE paths (path TEXT PRIMARY KEY, size_bytes INTEGER NOT NULL, mtime_ms REAL NOT NULL, id TEXT NOT NULL, seen_at INTEGER NOT NULL);
      INSERT INTO items VALUES ('${id(7)}', 'old.jpg', 7, 507, 'emitted', 1, 1000, 1010, 2000, 2000, 1, NULL, '["artifact","result:cls"]', '[]', NULL, 0, NULL);
      INSERT INTO acks VALUES ('${id(7)}', 'result:cls', 'uploaded', 'uploader', NULL, NULL, 2500);`);
    old.pragma('user_version = 2');
    old.close();
    const upgraded = Ledger.open(file);
    try {
      const item = upgraded.getItem(id(7))!;
      assert.deepEqual([item.clockAt, item.held, item.leases, item.leaseExpiries, item.failedPaths, item.reprocessed], [2000, false, [], 0, [], 0]);
      assert.deepEqual(
        upgraded.dueForTimeout(3000 - TIMEOUT_MS, 3000, 10).map((i) => i.id),
        [id(7)],
      );
      assert.equal(upgraded.applyAck(id(7), held('artifact', 3100, 100_000), PARTS).result, 'held');
      assert.deepEqual(upgraded.dueForTimeout(50_000 - TIMEOUT_MS, 50_000, 10), [], 'held after the upgrade');
    } finally {
      upgraded.close();
    }
    const reopened = new Sqlite(file);
    assert.equal(reopened.pragma('user_version') instanceof Array ? (reopened.pragma('user_version') as { user_version: number }[])[0]!.user_version : -1, LEDGER_SCHEMA_VERSION);
    reopened.close();
    await rm(dir, { recursive: true, force: true });
  });
});
