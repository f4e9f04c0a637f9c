import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isEdgeMLError } from '@edgeml/shared';
import { Ledger, type StableFile } from '@edgeml/watcher';

const id = (n: number): string => n.toString(16).padStart(64, '0');
const stable = (n: number, p = `f${n}.jpg`, at = 1000): StableFile => ({ path: p, sizeBytes: n, mtimeMs: 500 + n, id: id(n), detectedAt: at, stableAt: at + 10 });
const ack = (part: string, outcome: 'uploaded' | 'deadLettered' = 'uploaded', at = 5000) => ({ part, outcome, module: 'uploader', at, ...(outcome === 'deadLettered' ? { code: 'INPUT_MALFORMED', reason: 'bad' } : {}) });

describe('watcher/ledger (SQLite, WAL, synchronous=FULL)', () => {
  let dir: string;
  let ledger: Ledger;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-ledger-'));
    ledger = Ledger.open(path.join(dir, 'state', 'ledger.sqlite'));
  });
  afterEach(async () => {
    ledger.close();
    ledger.close(); // idempotent
    await rm(dir, { recursive: true, force: true });
  });

  it('records new content once; same content elsewhere is known, new content under an old name is new', () => {
    assert.deepEqual(
      ledger.recordStable([stable(1), stable(2)], 1100).map((r) => r.outcome),
      ['new', 'new'],
    );
    assert.equal(ledger.recordStable([stable(1, 'copy-of-1.jpg')], 1200)[0]!.outcome, 'known');
    assert.deepEqual(
      ledger.pathsForId(id(1)).map((p) => p.path),
      ['copy-of-1.jpg', 'f1.jpg'],
    );
    assert.equal(ledger.recordStable([stable(3, 'f1.jpg')], 1300)[0]!.outcome, 'new');
    assert.equal(ledger.getPath('f1.jpg')!.id, id(3));
    assert.deepEqual(ledger.counts(), { pending: 3, emitted: 0, completed: 0, deadLettered: 0, gone: 0 });
  });

  it('write-ahead emission: taken items are emitted (attempt counted) and unsent until marked', () => {
    ledger.recordStable([stable(1), stable(2), stable(3)], 1100);
    const taken = ledger.takeForEmission(2, 2000);
    assert.deepEqual(
      taken.map((i) => [i.id, i.state, i.attempts, i.sent, i.lastEmittedAt]),
      [
        [id(1), 'emitted', 1, false, 2000],
        [id(2), 'emitted', 1, false, 2000],
      ],
    );
    assert.equal(ledger.inFlight(), 2);
    assert.equal(ledger.pendingCount(), 1);
    assert.deepEqual(
      ledger.unsent(10).map((i) => i.id),
      [id(1), id(2)],
    );
    ledger.markSent([id(1)]);
    assert.deepEqual(
      ledger.unsent(10).map((i) => i.id),
      [id(2)],
    );
    assert.deepEqual(ledger.dueForTimeout(1999, 1999, 10), []);
    assert.deepEqual(
      ledger.dueForTimeout(2000, 2000, 10).map((i) => i.id),
      [id(1)],
      'only sent items time out',
    );
    const again = ledger.markReemit(id(1), 3000);
    assert.equal(again.attempts, 2);
    assert.equal(again.sent, false);
    assert.equal(again.firstEmittedAt, 2000);
    assert.equal(again.detectedAt, 1000, 'detectedAt is never rewritten');
  });

  it('merges acknowledgements durably and closes the item', () => {
    ledger.recordStable([stable(1)], 1100);
    ledger.takeForEmission(1, 2000);
    const parts = ['artifact', 'result:cls'];
    const r1 = ledger.applyAck(id(1), ack('artifact'), parts);
    assert.equal(r1.result === 'merged' && r1.merge.verdict, 'waiting');
    const r2 = ledger.applyAck(id(1), ack('result:cls'), parts);
    assert.equal(r2.result === 'merged' && r2.merge.verdict, 'completed');
    assert.equal(ledger.getItem(id(1))!.state, 'completed');
    assert.equal(ledger.inFlight(), 0);
    assert.equal(ledger.applyAck(id(1), ack('artifact'), parts).result, 'alreadyFinal');
    assert.equal(ledger.applyAck(id(9), ack('artifact'), parts).result, 'unknown');
  });

  it('a dead-lettered part records the reasons', () => {
    ledger.recordStable([stable(1)], 1100);
    ledger.takeForEmission(1, 2000);
    const r = ledger.applyAck(id(1), ack('transform', 'deadLettered'), ['transform']);
    assert.equal(r.result === 'merged' && r.merge.verdict, 'deadLettered');
    const item = ledger.getItem(id(1))!;
    assert.equal(item.state, 'deadLettered');
    assert.deepEqual(item.reasons, [{ part: 'transform', module: 'uploader', code: 'INPUT_MALFORMED', reason: 'bad' }]);
  });

  it('a deferral is not final: the item stays in flight, is due at retryAt and is offered again without an attempt', () => {
    ledger.recordStable([stable(1), stable(2)], 1100);
    ledger.takeForEmission(2, 2000);
    ledger.markSent([id(1), id(2)]);
    const deferred = { part: 'artifact', outcome: 'deferred' as const, module: 'uploader', code: 'QUOTA_EXCEEDED', reason: 'artifacts quota full', at: 3000 };
    const r = ledger.applyAck(id(1), deferred, ['artifact'], 5000);
    assert.equal(r.result, 'deferred');
    assert.equal(r.result === 'deferred' && r.retryAt, 8000);
    let item = ledger.getItem(id(1))!;
    assert.deepEqual([item.state, item.attempts, item.retryAt, item.deferrals, item.acks.length], ['emitted', 1, 8000, 1, 0]);
    assert.deepEqual(item.deferral, { part: 'artifact', module: 'uploader', code: 'QUOTA_EXCEEDED', reason: 'artifacts quota full', at: 3000 });
    assert.equal(ledger.deferredCount(), 1);
    // Before retryAt it is not due even though its emission is older than the completion timeout;
    // the other item (no deferral) times out as before.
    assert.deepEqual(
      ledger.dueForTimeout(2500, 7999, 10).map((i) => i.id),
      [id(2)],
    );
    assert.deepEqual(
      ledger.dueForTimeout(0, 8000, 10).map((i) => i.id),
      [id(1)],
    );
    item = ledger.markRetry(id(1), 8000);
    assert.deepEqual([item.state, item.attempts, item.sent, item.retryAt, item.lastEmittedAt, item.firstEmittedAt], ['emitted', 1, false, null, 8000, 2000]);
    assert.equal(ledger.deferredCount(), 0);
    // Repeated deferrals back off (×2 per earlier deferral, at most ×16); the later retry time stands.
    ledger.markSent([id(1)]);
    ledger.applyAck(id(1), { ...deferred, at: 9000 }, ['artifact'], 60_000);
    item = ledger.getItem(id(1))!;
    assert.deepEqual([item.retryAt, item.deferrals], [9000 + 2 * 60_000, 2]);
    ledger.applyAck(id(1), { ...deferred, at: 9100 }, ['artifact'], 1000);
    item = ledger.getItem(id(1))!;
    assert.deepEqual([item.retryAt, item.deferrals], [129_000, 3], 'an earlier retry time does not replace a later one');
    for (let k = 0; k < 5; k++) ledger.applyAck(id(1), { ...deferred, at: 10_000 }, ['artifact'], 100_000);
    assert.equal(ledger.getItem(id(1))!.retryAt, 10_000 + 16 * 100_000, 'capped at ×16');
    // The part then uploads: the item completes and leaves the deferred count.
    const done = ledger.applyAck(id(1), ack('artifact', 'uploaded', 70_000), ['artifact']);
    assert.equal(done.result === 'merged' && done.merge.verdict, 'completed');
    assert.equal(ledger.deferredCount(), 0);
    assert.equal(ledger.getItem(id(1))!.retryAt, null);
  });

  it('ignores a deferral for a part already uploaded, for a pending item and for a finished one', () => {
    ledger.recordStable([stable(1), stable(2), stable(3)], 1100);
    ledger.takeForEmission(2, 2000);
    const deferred = (part: string) => ({ part, outcome: 'deferred' as const, module: 'uploader', code: 'QUOTA_EXCEEDED', reason: 'full', at: 3000 });
    ledger.applyAck(id(1), ack('artifact'), ['artifact', 'result:cls']);
    assert.equal(ledger.applyAck(id(1), deferred('artifact'), ['artifact'], 1000).result, 'deferralIgnored');
    assert.equal(ledger.applyAck(id(3), deferred('artifact'), ['artifact'], 1000).result, 'deferralIgnored', 'pending: not in flight');
    ledger.applyAck(id(2), ack('artifact'), ['artifact']);
    assert.equal(ledger.applyAck(id(2), deferred('artifact'), ['artifact'], 1000).result, 'alreadyFinal');
    assert.equal(ledger.deferredCount(), 0);
  });

  it('upgrades a version-1 ledger in place (the columns deferrals need are added)', async () => {
    const file = path.join(dir, 'v1.sqlite');
    const { createRequire } = await import('node:module');
    type Db = { exec(sql: string): void; pragma(s: string): unknown; close(): void };
    const Sqlite = createRequire(import.meta.url)('better-sqlite3') as new (f: string) => Db;
    const old = new Sqlite(file);
    old.exec(`CREATE TABLE items (id TEXT PRIMARY KEY, path TEXT NOT NULL, size_bytes INTEGER NOT NULL, mtime_ms REAL NOT NULL, state TEXT NOT NULL,
      attempts INTEGER NOT NULL, detected_at INTEGER NOT NULL, stable_at INTEGER NOT NULL, first_emitted_at INTEGER, last_emitted_at INTEGER,
      sent INTEGER NOT NULL, finished_at INTEGER, expected_parts TEXT NOT NULL, reasons TEXT NOT NULL);
      INSERT INTO items VALUES ('${id(7)}', 'old.jpg', 7, 507, 'emitted', 1, 1000, 1010, 2000, 2000, 1, NULL, '[]', '[]');`);
    old.pragma('user_version = 1');
    old.close();
    const upgraded = Ledger.open(file);
    try {
      const item = upgraded.getItem(id(7))!;
      assert.deepEqual([item.state, item.retryAt, item.deferrals, item.deferral], ['emitted', null, 0, null]);
      const r = upgraded.applyAck(id(7), { part: 'artifact', outcome: 'deferred', module: 'uploader', code: 'QUOTA_EXCEEDED', reason: 'full', at: 3000 }, ['artifact'], 1000);
      assert.equal(r.result, 'deferred');
    } finally {
      upgraded.close();
    }
  });

  it('gone items come back as pending when the content is seen again', () => {
    ledger.recordStable([stable(1)], 1100);
    ledger.markGone(id(1), 1200);
    assert.equal(ledger.counts().gone, 1);
    const r = ledger.recordStable([stable(1, 'back.jpg', 9000)], 9100)[0]!;
    assert.equal(r.outcome, 'revived');
    assert.equal(r.item.state, 'pending');
    assert.equal(r.item.path, 'back.jpg');
    assert.equal(r.item.detectedAt, 1000, 'first detection kept');
  });

  it('survives close and reopen (what a restart sees)', () => {
    ledger.recordStable([stable(1), stable(2)], 1100);
    ledger.takeForEmission(1, 2000);
    ledger.applyAck(id(1), ack('artifact'), ['artifact']);
    const file = ledger.file;
    ledger.close();
    ledger = Ledger.open(file);
    assert.equal(ledger.getItem(id(1))!.state, 'completed');
    assert.equal(ledger.getItem(id(2))!.state, 'pending');
    assert.equal(ledger.allPaths().size, 2);
  });

  it('refuses a file that is not a ledger with STATE_CORRUPT', async () => {
    const bad = path.join(dir, 'garbage.sqlite');
    await writeFile(bad, 'this is not a database, just some text long enough to have a header'.repeat(20));
    assert.throws(
      () => Ledger.open(bad),
      (err: unknown) => isEdgeMLError(err) && err.code === 'STATE_CORRUPT',
    );
  });

  it('uses WAL with synchronous=FULL', async () => {
    assert.deepEqual(ledger.durability(), { journalMode: 'wal', synchronous: 2 });
    ledger.recordStable([stable(1)], 1100);
    const { access } = await import('node:fs/promises');
    await access(`${ledger.file}-wal`);
  });
});

describe('watcher/ledger retention', () => {
  it('prunes finished items past retention only when no inbox path holds their content', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'edgeml-ledger-'));
    const ledger = Ledger.open(path.join(dir, 'l.sqlite'));
    try {
      ledger.recordStable([stable(1), stable(2), stable(3)], 1100);
      ledger.takeForEmission(3, 2000);
      for (const n of [1, 2]) ledger.applyAck(id(n), ack('artifact', 'uploaded', 3000), ['artifact']);
      ledger.forgetPath('f1.jpg'); // moved to processed/
      assert.equal(ledger.prune(2999), 0, 'not past retention yet');
      assert.equal(ledger.prune(3001), 1, 'only the completed item whose file left the inbox');
      assert.equal(ledger.getItem(id(1)), undefined);
      assert.equal(ledger.getItem(id(2))!.state, 'completed', 'still in the inbox (keep): kept');
      assert.equal(ledger.getItem(id(3))!.state, 'emitted', 'in flight: kept');
    } finally {
      ledger.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
