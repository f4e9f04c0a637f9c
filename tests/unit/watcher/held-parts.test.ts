import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ledger, type IncomingAck, type StableFile } from '@edgeml/watcher';

const id = (n: number): string => n.toString(16).padStart(64, '0');
const stable = (n: number): StableFile => ({ path: `f${n}.jpg`, sizeBytes: n, mtimeMs: 500 + n, id: id(n), detectedAt: 1000, stableAt: 1010 });
const PARTS = ['artifact', 'result:cls'];
const held = (part: string, at: number, expiresAt: number): IncomingAck => ({ part, outcome: 'held', module: 'uploader', at, leaseExpiresAt: expiresAt });
const uploaded = (part: string, at: number): IncomingAck => ({ part, outcome: 'uploaded', module: 'uploader', at });

// What broke (#20): a source whose result line waited in the uploader's batch window kept its
// maxInFlight slot until the batch blob was committed (60 s by default), so the suite admitted at
// most maxInFlight files per window whatever the offered rate.
describe('watcher/ledger: maxInFlight slots and held parts', () => {
  let dir: string;
  let ledger: Ledger;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-held-'));
    ledger = Ledger.open(path.join(dir, 'ledger.sqlite'));
    ledger.recordStable([stable(1), stable(2), stable(3)], 1100);
    ledger.takeForEmission(10, 2000);
  });
  afterEach(async () => {
    ledger.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a source whose every missing part is held leaves its slot; one still owed by the pipeline keeps it', () => {
    assert.equal(ledger.inFlight(), 3);
    // 1: artifact uploaded, result line waiting in the uploader's batch window: nothing more from the pipeline.
    ledger.applyAck(id(1), uploaded('artifact', 3000), PARTS);
    ledger.applyAck(id(1), held('result:cls', 3001, 100_000), PARTS);
    // 2: result held, artifact still owed by the transformer: keeps its slot.
    ledger.applyAck(id(2), held('result:cls', 3002, 100_000), PARTS);
    assert.equal(ledger.inFlight(), 2, 'source 1 is parked downstream');
    assert.equal(ledger.counts().emitted, 3, 'parked sources stay open (emitted) for idle checks and status');
    ledger.applyAck(id(2), uploaded('artifact', 3003), PARTS);
    assert.equal(ledger.inFlight(), 1);
    const r = ledger.applyAck(id(1), uploaded('result:cls', 3004), PARTS);
    assert.equal(r.result === 'merged' && r.merge.verdict, 'completed');
    assert.equal(ledger.inFlight(), 1);
  });

  it('a lease that runs out gives the slot back', () => {
    ledger.applyAck(id(1), uploaded('artifact', 3000), PARTS);
    ledger.applyAck(id(1), held('result:cls', 3001, 5_000), PARTS);
    assert.equal(ledger.inFlight(), 2);
    ledger.expireLeases(id(1), 6_000);
    assert.equal(ledger.inFlight(), 3, 'the holder stopped renewing: the source needs the pipeline again');
  });
});
