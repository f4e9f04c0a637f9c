/**
 * Held parts and their leases: what the queue renews (and what it stops renewing), and the app
 * announcing each accepted part with `held`, renewing it while the sink is down, and going quiet
 * once the part is uploaded.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMemoryEdgeClient, dataPaths, Registry, type CompletionMessage, type DataPaths } from '@edgeml/shared';
import { createUploaderApp, DurableQueue, md5Base64, UPLOADER_DEFAULTS, type UploadSink } from '@edgeml/uploader';
import { config, logger, sleep, stagedArtifact } from './fixtures.js';

/** better-sqlite3 as the uploader resolves it (to write a queue file in an older layout). */
const Database = createRequire(new URL('../../../modules/uploader/package.json', import.meta.url))('better-sqlite3') as typeof BetterSqlite3;

type P = { type: 'file'; name: string; ack: { id: string } } | { type: 'batch'; name: string };
type A = { id: string };

describe('uploader leases', function () {
  this.timeout(20_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ulease-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('queue', () => {
    let clock: number;
    const open = (): DurableQueue<P, A> => DurableQueue.open<P, A>({ file: path.join(dir, 'q.sqlite'), classes: UPLOADER_DEFAULTS.classes, now: () => clock });
    /** A lease of 1 000 ms: renewal due 500 ms after each announcement. */
    const held = (id: string) => ({ body: `held:${id}`, renewAtMs: clock + 500 });
    const renew = (q: DurableQueue<P, A>, limit = 100): string[] => {
      const before = q.peekOutbox(10_000).length;
      q.renewLeases({ nowMs: clock, limit, ackOf: (p) => (p.type === 'file' ? p.ack : undefined), held: (a) => held(a.id) });
      return q.peekOutbox(10_000).slice(before).map((e) => e.body);
    };
    const file = (id: string): P => ({ type: 'file', name: id, ack: { id } });

    it('renews file items and result lines whose renewal is due, earliest first, at most `limit`, and schedules the next one', () => {
      clock = 1_000;
      const q = open();
      assert.equal(q.enqueue({ key: 'a', cls: 'artifacts', sizeBytes: 1, payload: file('a'), held: held('a') }).status, 'queued');
      clock = 1_100;
      q.addResult({ messageId: 'r', windowKey: 0, line: '{}', ack: { id: 'r' }, held: held('r') });
      clock = 1_200;
      q.enqueue({ key: 'b', cls: 'raw', sizeBytes: 1, payload: file('b'), held: held('b') });
      assert.deepEqual(q.peekOutbox(10).map((e) => e.body), ['held:a', 'held:r', 'held:b'], 'held in the same commit as the acceptance');
      q.removeOutbox(q.peekOutbox(10).map((e) => e.seq));
      clock = 1_400;
      assert.deepEqual(renew(q), [], 'nothing due before half the lease');
      clock = 1_650;
      assert.deepEqual(renew(q, 1), ['held:a'], 'earliest first, bounded');
      assert.deepEqual(renew(q), ['held:r'], 'a is not due again; r is');
      clock = 1_700;
      assert.deepEqual(renew(q), ['held:b']);
      clock = 2_300;
      assert.deepEqual(renew(q).sort(), ['held:a', 'held:b', 'held:r']);
      assert.equal(q.heldParts(), 3);
      q.close();
    });

    it('stops renewing a part once it is uploaded, quarantined or evicted; a requeue or a re-offer holds it again', () => {
      clock = 1_000;
      const q = open();
      q.enqueue({ key: 'up', cls: 'artifacts', sizeBytes: 1, payload: file('up'), held: held('up') });
      q.enqueue({ key: 'bad', cls: 'artifacts', sizeBytes: 1, payload: file('bad'), held: held('bad') });
      q.addResult({ messageId: 'line', windowKey: 0, line: '{}', ack: { id: 'line' }, held: held('line') });
      q.sealBatches({ windowMs: 1, maxItems: 10, maxBytes: 1 << 20, force: true, makeBatch: () => ({ key: 'batch', payload: { type: 'batch', name: 'batch' } }) });
      clock = 5_000;
      const claimed = [q.claimNext(), q.claimNext(), q.claimNext()];
      const batch = claimed.find((i) => i?.key === 'batch');
      const up = claimed.find((i) => i?.key === 'up');
      const bad = claimed.find((i) => i?.key === 'bad');
      q.complete(up!.seq, { keys: ['up'], blobName: 'up', md5: 'x', sink: 'blob', contentSha256: null, outbox: [] });
      q.quarantine(bad!.seq, { code: 'SINK_CONFLICT', reason: 'r', payload: bad!.payload, outbox: [] });
      q.quarantine(batch!.seq, { code: 'SINK_CONFLICT', reason: 'r', payload: batch!.payload, outbox: [] });
      assert.deepEqual(renew(q), [], 'uploaded and quarantined parts (a batch with its lines) are not renewed');
      assert.equal(q.heldParts(), 0);
      assert.equal(q.requeueQuarantined(['batch']), 1);
      assert.deepEqual(renew(q), ['held:line'], 'a requeued batch holds its lines again, at once');
      assert.deepEqual(q.holdAgain('bad', held('bad')), { requeued: true }, 'offered again: back in the queue and held');
      assert.equal(q.holdAgain('nothing', held('x')), undefined);
      const dup = q.enqueue({ key: 'bad', cls: 'artifacts', sizeBytes: 1, payload: file('bad'), held: held('bad') });
      assert.deepEqual(dup, { status: 'duplicate', requeued: false });
      q.close();
    });

    it('an older queue file (no renew_at column) is brought up to date in place; its parts are renewed at once', () => {
      const db = new Database(path.join(dir, 'q.sqlite'));
      db.exec(`CREATE TABLE items (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, cls TEXT NOT NULL, size_bytes INTEGER NOT NULL,
                 enqueued_at INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL DEFAULT 0,
                 last_code TEXT, last_reason TEXT, payload TEXT NOT NULL);
               CREATE TABLE results (message_id TEXT PRIMARY KEY, window_key INTEGER NOT NULL, received_at INTEGER NOT NULL, size_bytes INTEGER NOT NULL,
                 batch_seq INTEGER, line TEXT NOT NULL, ack TEXT NOT NULL);`);
      db.prepare(`INSERT INTO items (key, cls, size_bytes, enqueued_at, state, payload) VALUES ('old', 'artifacts', 1, 1, 'pending', ?)`).run(JSON.stringify(file('old')));
      db.prepare(`INSERT INTO results (message_id, window_key, received_at, size_bytes, line, ack) VALUES ('oldline', 0, 1, 3, '{}', '{"id":"oldline"}')`).run();
      db.close();
      clock = 50_000;
      const q = open();
      assert.deepEqual(renew(q).sort(), ['held:old', 'held:oldline']);
      assert.equal(q.claimNext()?.key, 'old', 'the old item is still there');
      q.close();
    });
  });

  describe('app', () => {
    let paths: DataPaths;
    beforeEach(async () => {
      paths = dataPaths(dir);
      await mkdir(paths.staging, { recursive: true });
    });



    it('holds each accepted part with leaseMs, renews while the sink is down (bounded per pass), and stops once uploaded', async () => {
      let down = true;
      const sink: UploadSink = {
        kind: 'blob',
        target: 'fake://c',
        checkAccess: () => (down ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })) : Promise.resolve()),
        upload: (r) =>
          down
            ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))
            : Promise.resolve({ name: r.name, md5: md5Base64(Buffer.from(r.name)), sizeBytes: r.sizeBytes, outcome: 'created' as const, bytesSent: r.sizeBytes, blocksStaged: 0, blocksSkipped: 0 }),
        close: () => Promise.resolve(),
      };
      const edge = createMemoryEdgeClient({ deviceId: 'd' });
      const app = createUploaderApp({ edge, logger, registry: new Registry(), paths, env: {}, now: () => new Date() }, { createSink: () => sink, random: () => 0 });
      // A pass every 50 ms at 60 renewals/s: at most 3 per pass.
      await app.configure(config({ leaseMs: 1_000, leaseRenewMaxPerSecond: 60, sinkProbe: { initialDelayMs: 20, maxDelayMs: 50 } }), undefined);
      await app.start();
      const completions = (): CompletionMessage[] => edge.sentTo('completed').map((m) => m.json as CompletionMessage);
      try {
        const messages = await Promise.all([0, 1, 2, 3, 4].map((n) => stagedArtifact(paths, n)));
        for (const m of messages) await edge.deliver('artifacts', m);
        await sleep(100);
        const accepted = completions();
        assert.deepEqual(accepted.map((c) => [c.outcome, c.leaseMs, c.module]), messages.map(() => ['held', 1_000, 'uploader']), 'one held per accepted part');
        // A re-offer of a queued part is held again at once.
        await edge.deliver('artifacts', messages[0]!);
        await sleep(50);
        assert.equal(completions().filter((c) => c.id === messages[0]!.id).length, 2);
        // Down for 2 s with a 1 s lease: each part renewed every ~0.5 s, at most 3 per 50 ms pass.
        await sleep(2_000);
        const held = completions().filter((c) => c.outcome === 'held');
        for (const m of messages) {
          const renewals = held.filter((c) => c.id === m.id).length;
          // About 4 (one per half lease); fewer only if this machine is very busy.
          assert.ok(renewals >= 2 && renewals <= 8, `${m.id.slice(0, 6)}: ${renewals} held while down 2 s with a 1 s lease`);
        }
        // Renewals (after the 5 acceptances and the re-offer) come at most a batch (3) per pass (50 ms).
        const times = held.slice(6).map((c) => Date.parse(c.createdAt));
        for (const t of times) assert.ok(times.filter((u) => Math.abs(u - t) < 25).length <= 3, `renewals at ${times.join(', ')}`);
        down = false;
        await sleep(300);
        assert.ok(await app.idle(5_000));
        const before = completions().length;
        assert.equal(completions().filter((c) => c.outcome === 'uploaded').length, 5);
        await sleep(1_200);
        assert.equal(completions().length, before, 'no held after the parts were uploaded');
        const last = new Map(completions().map((c) => [c.id, c.outcome]));
        assert.ok([...last.values()].every((o) => o === 'uploaded'), 'for every part, uploaded is the last word');
        assert.ok(((app.status() as { totals: { held: number } }).totals.held) >= 5 * 5);
      } finally {
        await app.stop(AbortSignal.timeout(5_000));
      }
    });

    it('a backlog larger than the rate allows gets longer leases; renewals stay within leaseRenewMaxPerSecond', async () => {
      const sink: UploadSink = {
        kind: 'blob',
        target: 'fake://c',
        checkAccess: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
        upload: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
        close: () => Promise.resolve(),
      };
      const edge = createMemoryEdgeClient({ deviceId: 'd' });
      const app = createUploaderApp({ edge, logger, registry: new Registry(), paths, env: {}, now: () => new Date() }, { createSink: () => sink, random: () => 0 });
      // 30 parts at 20 renewals/s need a 3.1 s lease (2 × (30 + 1) / 20: each renewed every 1.55 s); leaseMs asks for 1 s.
      await app.configure(config({ leaseMs: 1_000, leaseRenewMaxPerSecond: 20 }), undefined);
      await app.start();
      const held = (): CompletionMessage[] => edge.sentTo('completed').map((m) => m.json as CompletionMessage).filter((c) => c.outcome === 'held');
      try {
        for (let i = 0; i < 30; i++) await edge.deliver('artifacts', await stagedArtifact(paths, i));
        // A burst is announced with leases that grow with it, so its renewals never all fall due at
        // once. (The acceptance of each part is its first held; renewals may come in between.)
        const firstHeld = new Map<string, number>();
        for (const c of held()) if (!firstHeld.has(c.id)) firstHeld.set(c.id, c.leaseMs ?? 0);
        const accepted = [...firstHeld.values()];
        assert.equal(accepted.length, 30);
        assert.ok(accepted.every((l, i) => i === 0 || l >= accepted[i - 1]!), `non-decreasing: ${accepted.join(', ')}`);
        assert.equal(accepted.at(-1), 3_000, '2 × 30 parts / 20 per second');
        await sleep(700);
        const start = Date.now();
        const before = held().length;
        await sleep(3_000);
        const renewals = held().slice(before);
        const perSecond = renewals.length / ((Date.now() - start) / 1000);
        assert.ok(perSecond <= 20 * 1.15, `${perSecond.toFixed(1)} renewals/s (cap 20)`);
        assert.ok(renewals.length >= 30, `every part renewed in 3 s (${renewals.length} renewals)`);
        assert.ok(renewals.slice(-10).every((c) => c.leaseMs === 3_100), `leases stretched: ${[...new Set(renewals.map((c) => c.leaseMs))].join(', ')}`);
      } finally {
        await app.stop(AbortSignal.timeout(5_000));
      }
    });
  });
});
