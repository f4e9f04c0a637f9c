import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inboxRelOf, Ledger, listDeadLetters, mergeAck, type IncomingAck, type PartAck, type StableFile } from '@edgeml/watcher';

const id = (n: number): string => n.toString(16).padStart(64, '0');
const stable = (n: number, p = `f${n}.jpg`): StableFile => ({ path: p, sizeBytes: n, mtimeMs: 500 + n, id: id(n), detectedAt: 1000, stableAt: 1010 });
const PARTS = ['artifact', 'result:cls'];
const ack = (part: string, outcome: 'uploaded' | 'deadLettered', at: number, module = 'uploader'): IncomingAck => ({
  part,
  outcome,
  module,
  at,
  ...(outcome === 'deadLettered' ? { code: 'SINK_PERMISSION_DENIED', reason: 'SAS expired' } : {}),
});

describe('watcher/ledger: reprocessing and late completion', () => {
  let dir: string;
  let ledger: Ledger;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-ledger-'));
    ledger = Ledger.open(path.join(dir, 'ledger.sqlite'));
    ledger.recordStable([stable(1)], 1100);
    ledger.takeForEmission(1, 2000);
    ledger.applyAck(id(1), ack('result:cls', 'uploaded', 2500), PARTS);
    ledger.applyAck(id(1), ack('artifact', 'deadLettered', 2600), PARTS);
    ledger.forgetPath('f1.jpg');
    ledger.addFailedPath(id(1), 'f1.jpg');
  });
  afterEach(async () => {
    ledger.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a late uploaded from the module that dead-lettered the part completes the source', () => {
    assert.equal(ledger.getItem(id(1))!.state, 'deadLettered');
    assert.equal(ledger.applyAck(id(1), ack('artifact', 'uploaded', 9000, 'transformer'), PARTS).result, 'alreadyFinal', 'another module cannot undo the dead letter');
    const r = ledger.applyAck(id(1), ack('artifact', 'uploaded', 9100), PARTS);
    assert.equal(r.result === 'merged' && r.merge.verdict, 'completed');
    const item = ledger.getItem(id(1))!;
    assert.deepEqual([item.state, item.reasons, item.failedPaths, item.finishedAt], ['completed', [], ['f1.jpg'], 9100]);
    assert.equal(ledger.applyAck(id(1), ack('artifact', 'uploaded', 9200), PARTS).result, 'alreadyFinal');
  });

  it('a late uploaded that does not cover every part is recorded and the source stays dead-lettered', () => {
    ledger.recordStable([stable(2)], 1100);
    ledger.takeForEmission(1, 2000);
    ledger.markDeadLettered(id(2), [{ code: 'TIMEOUT', reason: 'not completed' }], 3000);
    assert.equal(ledger.applyAck(id(2), ack('artifact', 'uploaded', 4000), PARTS).result, 'alreadyFinal');
    assert.equal(ledger.getItem(id(2))!.acks.length, 1, 'recorded');
    const r = ledger.applyAck(id(2), ack('result:cls', 'uploaded', 4100), PARTS);
    assert.equal(r.result === 'merged' && r.merge.verdict, 'completed', 'a TIMEOUT dead letter completes once every part arrived');
  });

  it('resetForReprocess gives a clean slate; the content seen again is a new pending item', () => {
    assert.equal(ledger.resetForReprocess(id(1), 5000), true);
    let item = ledger.getItem(id(1))!;
    assert.deepEqual([item.state, item.attempts, item.acks, item.expectedParts, item.reasons, item.failedPaths, item.reprocessed], ['gone', 0, [], [], [], [], 1]);
    const r = ledger.recordStable([stable(1, 'back.jpg')], 6000)[0]!;
    assert.equal(r.outcome, 'revived');
    item = ledger.getItem(id(1))!;
    assert.deepEqual([item.state, item.path, item.detectedAt], ['pending', 'back.jpg', 1000]);
    ledger.recordStable([stable(3)], 1100);
    assert.equal(ledger.resetForReprocess(id(3), 5000), false, 'a pending item has nothing to reset');
    assert.equal(ledger.resetForReprocess(id(9), 5000), false, 'unknown');
  });

  it('dead-lettered content recorded again is revived only when asked (deadLetterRedrop)', () => {
    assert.equal(ledger.recordStable([stable(1, 'copy.jpg')], 7000)[0]!.outcome, 'known');
    assert.equal(ledger.getItem(id(1))!.state, 'deadLettered');
    const r = ledger.recordStable([stable(1, 'copy.jpg')], 7100, { reviveDeadLettered: true })[0]!;
    assert.deepEqual([r.outcome, r.outcome === 'revived' && r.revivedFrom], ['revived', 'deadLettered']);
    assert.deepEqual([r.item.state, r.item.acks, r.item.reprocessed], ['pending', [], 1]);
  });

  it('mergeAck: only with supersedeDeadLetter, and only from the same module, does uploaded replace a dead letter', () => {
    const dead: PartAck = { part: 'artifact', outcome: 'deadLettered', module: 'uploader', at: 1 };
    const snapshot = { expectedParts: ['artifact'], acks: [dead] };
    const up: PartAck = { part: 'artifact', outcome: 'uploaded', module: 'uploader', at: 2 };
    assert.equal(mergeAck(snapshot, up, ['artifact']).verdict, 'deadLettered');
    assert.equal(mergeAck(snapshot, up, ['artifact'], { supersedeDeadLetter: true }).verdict, 'completed');
    assert.equal(mergeAck(snapshot, { ...up, module: 'other' }, ['artifact'], { supersedeDeadLetter: true }).verdict, 'deadLettered');
  });
});

describe('watcher/share-ops: dead-letter records', () => {
  it('inboxRelOf keeps a plain inbox path and falls back to the failed/ path for anything else', () => {
    assert.equal(inboxRelOf({ source: 'inbox/cam/a.jpg' }, 'cam/a.1.jpg'), 'cam/a.jpg');
    for (const source of ['inbox/../../etc/passwd', '/etc/passwd', 'inbox/', 'other/a.jpg', 'inbox/a/./b', 'inbox/a\\..\\b', 'inbox/a\u0000b']) {
      assert.equal(inboxRelOf({ source }, 'fallback.jpg'), 'fallback.jpg', source);
    }
    assert.equal(inboxRelOf(undefined, 'x.jpg'), 'x.jpg');
  });

  it('listDeadLetters finds every record below failed/ and survives records that are not JSON', async () => {
    const failed = await mkdtemp(path.join(tmpdir(), 'edgeml-failed-'));
    try {
      await mkdir(path.join(failed, 'cam'), { recursive: true });
      await writeFile(path.join(failed, 'cam', 'a.jpg.error.json'), JSON.stringify({ id: id(1), source: 'inbox/cam/a.jpg', deadLetteredAt: '2026-01-01T00:00:00.000Z', extra: [1] }));
      await writeFile(path.join(failed, 'b.jpg.error.json'), 'edited by hand {');
      await writeFile(path.join(failed, 'c.jpg'), 'an input without a record is not a dead letter');
      const found = await listDeadLetters(failed);
      assert.deepEqual(
        found.sort((x, y) => x.failedPath.localeCompare(y.failedPath)),
        [
          { failedPath: 'b.jpg', record: undefined },
          { failedPath: 'cam/a.jpg', record: { id: id(1), source: 'inbox/cam/a.jpg', deadLetteredAt: '2026-01-01T00:00:00.000Z' } },
        ],
      );
    } finally {
      await rm(failed, { recursive: true, force: true });
    }
  });
});
