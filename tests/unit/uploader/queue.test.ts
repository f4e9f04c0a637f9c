import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DurableQueue, UPLOADER_DEFAULTS, type ClassConfig, type QueueClass } from '@edgeml/uploader';

type P = { name: string };
type A = { id: string };

const classes = (over: Partial<Record<QueueClass, Partial<ClassConfig>>> = {}): Record<QueueClass, ClassConfig> => ({
  results: { ...UPLOADER_DEFAULTS.classes.results, ...over.results },
  artifacts: { ...UPLOADER_DEFAULTS.classes.artifacts, ...over.artifacts },
  raw: { ...UPLOADER_DEFAULTS.classes.raw, ...over.raw },
});

describe('uploader DurableQueue (SQLite, fake clock)', () => {
  let dir: string;
  let clock: number;
  const now = (): number => clock;
  const open = (c = classes()): DurableQueue<P, A> => DurableQueue.open<P, A>({ file: path.join(dir, 'q.sqlite'), classes: c, now });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'uq-'));
    clock = 1_000_000;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves results before artifacts before raw, whatever the arrival order', () => {
    const q = open();
    q.enqueue({ key: 'raw1', cls: 'raw', sizeBytes: 1, payload: { name: 'raw1' } });
    q.enqueue({ key: 'art1', cls: 'artifacts', sizeBytes: 1, payload: { name: 'art1' } });
    q.addResult({ messageId: 'm1', windowKey: 0, line: '{}', ack: { id: 'x' } });
    q.sealBatches({ windowMs: 60_000, maxItems: 10, maxBytes: 1 << 20, force: true, makeBatch: (w, rows) => ({ key: `b${w}-${rows.length}`, payload: { name: 'batch' } }) });
    assert.deepEqual([q.claimNext()?.payload.name, q.claimNext()?.payload.name, q.claimNext()?.payload.name, q.claimNext()], ['batch', 'art1', 'raw1', undefined]);
    q.close();
  });

  it('a prioritised item (a hard example\'s image) is served first in its class; remembered images survive a reopen', () => {
    const q = open();
    for (const n of ['a', 'b', 'c']) q.enqueue({ key: n, cls: 'artifacts', sizeBytes: 1, payload: { name: n } });
    assert.equal(q.prioritise('c'), true);
    assert.equal(q.prioritise('nope'), false);
    assert.deepEqual([1, 2, 3].map(() => q.claimNext()?.payload.name), ['c', 'a', 'b']);
    assert.equal(q.isWaiting('c'), true, 'in flight still waits');
    q.rememberImage('id1', { blob: 'x.png' });
    q.close();
    const again = open();
    assert.deepEqual([...again.imagesOf<{ blob: string }>(['id1', 'id2', 'id1']).entries()], [['id1', { blob: 'x.png' }]]);
    assert.equal(again.isWaiting('nope'), false);
    again.close();
  });

  it('orders each class oldestFirst or newestFirst', () => {
    const q = open(classes({ artifacts: { uploadOrder: 'newestFirst' } }));
    for (const n of ['a', 'b', 'c']) {
      clock += 10;
      q.enqueue({ key: n, cls: 'artifacts', sizeBytes: 1, payload: { name: n } });
      q.enqueue({ key: `raw-${n}`, cls: 'raw', sizeBytes: 1, payload: { name: `raw-${n}` } });
    }
    assert.deepEqual([1, 2, 3].map(() => q.claimNext()?.payload.name), ['c', 'b', 'a']);
    assert.deepEqual([1, 2, 3].map(() => q.claimNext()?.payload.name), ['raw-a', 'raw-b', 'raw-c']);
    q.close();
  });

  it('refuses a duplicate key while it is queued', () => {
    const q = open();
    assert.equal(q.enqueue({ key: 'k', cls: 'artifacts', sizeBytes: 5, payload: { name: 'k' } }).status, 'queued');
    assert.equal(q.enqueue({ key: 'k', cls: 'artifacts', sizeBytes: 5, payload: { name: 'k' } }).status, 'duplicate');
    assert.equal(q.addResult({ messageId: 'm', windowKey: 0, line: 'x', ack: { id: 'i' } }).status, 'queued');
    assert.equal(q.addResult({ messageId: 'm', windowKey: 0, line: 'x', ack: { id: 'i' } }).status, 'duplicate');
    q.close();
  });

  it('rejectNew: a full class refuses the new item and keeps the old ones', () => {
    const q = open(classes({ artifacts: { quotaBytes: 100, policy: 'rejectNew' } }));
    q.enqueue({ key: 'a', cls: 'artifacts', sizeBytes: 60, payload: { name: 'a' } });
    const r = q.enqueue({ key: 'b', cls: 'artifacts', sizeBytes: 60, payload: { name: 'b' } });
    assert.equal(r.status, 'rejected');
    assert.match(r.status === 'rejected' ? r.reason : '', /artifacts quota full/);
    assert.equal(q.usage('artifacts').bytes, 60);
    // Other classes are unaffected.
    assert.equal(q.enqueue({ key: 'r', cls: 'raw', sizeBytes: 60, payload: { name: 'r' } }).status, 'queued');
    q.close();
  });

  it('evictOldest: the oldest pending items make room and are returned for dead-lettering; in-flight ones are kept', () => {
    const q = open(classes({ artifacts: { quotaBytes: 100, policy: 'evictOldest' } }));
    q.enqueue({ key: 'a', cls: 'artifacts', sizeBytes: 40, payload: { name: 'a' } });
    q.enqueue({ key: 'b', cls: 'artifacts', sizeBytes: 40, payload: { name: 'b' } });
    assert.equal(q.claimNext()?.key, 'a'); // a is in flight: not evictable
    const r = q.enqueue({ key: 'c', cls: 'artifacts', sizeBytes: 70, payload: { name: 'c' } });
    assert.equal(r.status, 'rejected', 'a in flight and b evicted still leave no room for 70');
    assert.equal(q.usage('artifacts').items, 2, 'the refusal rolled back the eviction');
    const r2 = q.enqueue({ key: 'd', cls: 'artifacts', sizeBytes: 30, payload: { name: 'd' } });
    assert.equal(r2.status, 'queued');
    assert.deepEqual(r2.status === 'queued' ? r2.evicted.map((e) => (e.type === 'item' ? e.item.key : e.row.messageId)) : [], ['b']);
    assert.equal(q.usage('artifacts').bytes, 70);
    q.close();
  });

  it('an item larger than its quota is refused outright', () => {
    const q = open(classes({ raw: { quotaBytes: 10, policy: 'evictOldest' } }));
    const r = q.enqueue({ key: 'x', cls: 'raw', sizeBytes: 11, payload: { name: 'x' } });
    assert.equal(r.status, 'rejected');
    q.close();
  });

  it('evictOldest on results drops the oldest unbatched lines first', () => {
    const q = open(classes({ results: { quotaBytes: 30, policy: 'evictOldest' } }));
    for (const m of ['m1', 'm2', 'm3']) {
      clock += 1;
      q.addResult({ messageId: m, windowKey: 0, line: '123456789', ack: { id: m } });
    }
    const r = q.addResult({ messageId: 'm4', windowKey: 0, line: '123456789', ack: { id: 'm4' } });
    assert.equal(r.status, 'queued');
    assert.deepEqual(r.status === 'queued' ? r.evicted.map((e) => (e.type === 'result' ? e.row.ack.id : '')) : [], ['m1']);
    q.close();
  });

  it('survives a reopen: pending stays pending, in-flight (a crash) becomes pending again', () => {
    let q = open();
    q.enqueue({ key: 'a', cls: 'artifacts', sizeBytes: 1, payload: { name: 'a' } });
    q.enqueue({ key: 'b', cls: 'artifacts', sizeBytes: 1, payload: { name: 'b' } });
    assert.equal(q.claimNext()?.key, 'a');
    q.close();
    q = open();
    assert.deepEqual([q.claimNext()?.key, q.claimNext()?.key], ['a', 'b']);
    q.close();
  });

  it('backs off a failed item until its next attempt is due, on the injected clock', () => {
    const q = open();
    q.enqueue({ key: 'a', cls: 'artifacts', sizeBytes: 1, payload: { name: 'a' } });
    const item = q.claimNext();
    assert.equal(q.fail(item?.seq ?? 0, { code: 'SINK_UNAVAILABLE', reason: 'x', nextAttemptAtMs: clock + 5_000 }), 1);
    assert.equal(q.claimNext(), undefined);
    assert.equal(q.nextDueAtMs(), clock + 5_000);
    clock += 5_000;
    assert.equal(q.claimNext()?.attempts, 1);
    q.close();
  });

  it('quarantined items leave the quota and the schedule, and come back on request', () => {
    const q = open(classes({ artifacts: { quotaBytes: 10 } }));
    q.enqueue({ key: 'a', cls: 'artifacts', sizeBytes: 10, payload: { name: 'a' } });
    const item = q.claimNext();
    q.quarantine(item?.seq ?? 0, { code: 'SINK_CONFLICT', reason: 'different', payload: { name: 'a-q' }, outbox: ['ack'] });
    assert.deepEqual(q.usage('artifacts'), { items: 0, bytes: 0, quarantinedItems: 1, quarantinedBytes: 10, oldestEnqueuedAtMs: null });
    assert.equal(q.claimNext(), undefined);
    assert.deepEqual(q.peekOutbox(10).map((o) => o.body), ["ack"]);
    assert.equal(q.listQuarantined()[0]?.payload.name, 'a-q');
    assert.equal(q.requeueQuarantined(['nope']), 0);
    assert.equal(q.requeueQuarantined(), 1);
    assert.equal(q.claimNext()?.attempts, 0);
    q.close();
  });

  it('seals result windows by count, by age and on flush, in message-id order', () => {
    const q = open();
    const made: string[][] = [];
    const seal = (force = false): number =>
      q.sealBatches({
        windowMs: 60_000,
        maxItems: 3,
        maxBytes: 1 << 20,
        force,
        makeBatch: (w, rows) => {
          made.push(rows.map((r) => r.messageId));
          return { key: `b-${w}-${rows.map((r) => r.messageId).join(',')}`, payload: { name: 'b' } };
        },
      });
    for (const m of ['m5', 'm2', 'm9', 'm1']) q.addResult({ messageId: m, windowKey: 0, line: m, ack: { id: m } });
    q.addResult({ messageId: 'n1', windowKey: 60_000, line: 'n1', ack: { id: 'n1' } });
    assert.equal(seal(), 1, 'window 0 has 4 ≥ 3 lines: one full batch');
    assert.deepEqual(made[0], ['m2', 'm5', 'm9']);
    assert.equal(seal(), 0, 'the remainder waits');
    clock += 60_000;
    assert.equal(seal(), 2, 'both windows aged out');
    q.addResult({ messageId: 'z', windowKey: 0, line: 'z', ack: { id: 'z' } });
    assert.equal(seal(true), 1, 'flush seals at once');
    const batch = q.claimNext();
    assert.deepEqual(q.batchRows(batch?.seq ?? 0).map((r) => r.messageId), ['m2', 'm5', 'm9']);
    q.close();
  });

  // What broke (#18): the result lines of the local demo's last files waited out the whole 60 s window
  // (batchWindowMs) after the flow had stopped, so their sources completed a minute after their results.
  it('seals a window no line joined for idleMs, while a window still being joined waits (per window)', () => {
    const q = open();
    const seal = (): number =>
      q.sealBatches({ windowMs: 60_000, idleMs: 2_000, maxItems: 1000, maxBytes: 1 << 20, force: false, makeBatch: (w, rows) => ({ key: `i-${w}-${rows.length}`, payload: { name: 'b' } }) });
    q.addResult({ messageId: 'a1', windowKey: 0, line: 'a1', ack: { id: 'a1' } });
    q.addResult({ messageId: 'b1', windowKey: 60_000, line: 'b1', ack: { id: 'b1' } });
    clock += 1_500;
    assert.equal(seal(), 0, 'neither window is idle yet');
    q.addResult({ messageId: 'b2', windowKey: 60_000, line: 'b2', ack: { id: 'b2' } });
    clock += 600;
    assert.equal(seal(), 1, 'window 0 heard nothing for 2.1 s: sealed; window 60 000 was joined 0.6 s ago');
    clock += 1_400;
    assert.equal(seal(), 1, 'now window 60 000 is idle too');
    const lines = (): number => q.openResults().lines;
    assert.equal(lines(), 0);
    q.addResult({ messageId: 'c1', windowKey: 0, line: 'c1', ack: { id: 'c1' } });
    clock += 10_000;
    assert.equal(q.sealBatches({ windowMs: 60_000, maxItems: 1000, maxBytes: 1 << 20, force: false, makeBatch: () => ({ key: 'never', payload: { name: 'b' } }) }), 0, 'without idleMs only the window, count or bytes seal');
    q.close();
  });

  it('complete() removes the item, remembers it in the done ledger and queues the acks, atomically', () => {
    const q = open();
    q.enqueue({ key: 'a', cls: 'artifacts', sizeBytes: 1, payload: { name: 'a' } });
    const item = q.claimNext();
    q.complete(item?.seq ?? 0, { keys: ['a'], blobName: 'x/a', md5: 'bWQ1', sink: 'blob', contentSha256: 'f'.repeat(64), outbox: ['c1'] });
    assert.equal(q.get(item?.seq ?? 0), undefined);
    assert.equal(q.lookupDone('a')?.blobName, 'x/a');
    assert.equal(q.outboxSize(), 1);
    clock += 31 * 24 * 3600_000;
    assert.equal(q.pruneDone(), 1, 'the ledger forgets after 30 days');
    q.close();
  });
});
