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
    assert.deepEqual(ledger.dueForTimeout(1999, 10), []);
    assert.deepEqual(
      ledger.dueForTimeout(2000, 10).map((i) => i.id),
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
