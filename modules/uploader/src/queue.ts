import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { EdgeMLError } from '@edgeml/shared';
import { QUEUE_CLASSES, type ClassConfig, type QueueClass } from './config.js';
import { LeaseRows, type Held } from './queue-leases.js';
import { applySchema, toItem, toResult, type ItemRow, type ResultDbRow } from './queue-schema.js';
import type { ClassUsage, DoneRecord, EnqueueOutcome, Evicted, ItemState, QueueItem, QueueOptions, ResultRow } from './queue-types.js';

/**
 * The durable, bounded upload queue: SQLite in WAL mode with synchronous=FULL, so an accepted item
 * survives kill -9 and power loss (a commit returns only after the WAL is fsynced). One file holds
 * the items, the result lines waiting to be batched, the completions waiting to be sent (outbox)
 * and a ledger of what was already uploaded (for re-acknowledging replays without re-uploading).
 *
 * Classes are served in priority order (results, artifacts, raw); within a class by `uploadOrder`.
 * Each class has a byte and item quota; when a new item does not fit the policy either refuses it
 * (`rejectNew`) or evicts the oldest pending items of that class (`evictOldest`). Quarantined items
 * do not count against the quota (they wait for an operator, see `requeueQuarantined`).
 *
 * Time comes from the injected clock (`now`, epoch ms), so tests drive it without sleeping.
 */

export type { ClassUsage, DoneRecord, EnqueueOutcome, Evicted, ItemState, QueueItem, QueueOptions, ResultRow } from './queue-types.js';

/** Thrown inside an enqueue transaction to roll it back. */
class Refused extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

/** Opens and closes an in-memory database: proves the native addon loads (`--self-check`). */
export function checkSqliteLoads(): void {
  new Database(':memory:').close();
}

/** `P`: item payload; `A`: the acknowledgement data stored with each result line. */
export class DurableQueue<P, A> {
  private readonly db: Database.Database;
  private classes: Readonly<Record<QueueClass, ClassConfig>>;
  private readonly now: () => number;
  private readonly doneRetentionMs: number;
  private closed = false;
  /**
   * Items claimed and not yet settled. Kept in memory, not in the file: a claim then costs no
   * fsync, and after a crash every unsettled item is simply pending again.
   */
  private readonly inflight = new Set<number>();
  private syncLevel: 'FULL' | 'NORMAL' = 'FULL';
  private readonly leases: LeaseRows<P, A>;

  private constructor(db: Database.Database, options: QueueOptions) {
    this.db = db;
    this.classes = options.classes;
    this.now = options.now;
    this.doneRetentionMs = options.doneRetentionMs ?? 30 * 24 * 3600_000;
    this.leases = new LeaseRows<P, A>(db, (bodies) => this.addOutboxIn(bodies));
  }

  /**
   * Opens (or creates) the queue. Items left `inflight` by a crash become pending again.
   * @throws EdgeMLError STATE_CORRUPT when the file cannot be opened as a queue
   */
  static open<P, A>(options: QueueOptions): DurableQueue<P, A> {
    mkdirSync(path.dirname(options.file), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(options.file, { timeout: 5_000 });
      db.pragma('journal_mode = WAL');
      // FULL: every commit fsyncs the WAL, so an acknowledged enqueue survives power loss.
      db.pragma('synchronous = FULL');
      applySchema(db);
      // Files written by an older version that persisted claims.
      db.prepare(`UPDATE items SET state = 'pending' WHERE state = 'inflight'`).run();
    } catch (err: unknown) {
      throw new EdgeMLError('STATE_CORRUPT', `cannot open upload queue ${options.file}: ${(err as Error).message}`, { cause: err });
    }
    const q = new DurableQueue<P, A>(db, options);
    q.pruneDone();
    return q;
  }

  /**
   * Durability per commit. Intake (an accepted message, the acks of a refusal) commits with FULL:
   * edgeHub forgets a message once the handler returns, so it must survive power loss. So does
   * every commit after which the caller deletes the only local copy of something: a completion
   * whose staging file is deleted next (`complete(…, { durable: true })`), a quarantine whose
   * record points at the moved file. Other progress (failed, released, acks sent) commits with
   * NORMAL: in WAL mode that still survives kill -9, and a power cut can only undo progress,
   * which repeats harmlessly (create-if-absent turns a re-upload into `alreadyPresent`; an ack may
   * be sent twice). Measured on the dev VM: ~4 ms per FULL commit against ~0.1 ms per NORMAL one.
   */
  private sync(level: 'FULL' | 'NORMAL'): void {
    if (this.syncLevel === level) return;
    this.db.pragma(`synchronous = ${level}`);
    this.syncLevel = level;
  }

  setClasses(classes: Readonly<Record<QueueClass, ClassConfig>>): void {
    this.classes = classes;
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes and items a class holds against its quota, plus quarantined counts and the oldest age. */
  usage(cls: QueueClass): ClassUsage {
    if (cls === 'results') {
      const r = this.db
        .prepare(
          `SELECT COUNT(*) AS n, COALESCE(SUM(r.size_bytes),0) AS b, MIN(r.received_at) AS oldest
             FROM results r LEFT JOIN items i ON i.seq = r.batch_seq
            WHERE i.state IS NULL OR i.state != 'quarantined'`,
        )
        .get() as { n: number; b: number; oldest: number | null };
      const q = this.db.prepare(`SELECT COUNT(*) AS n, COALESCE(SUM(size_bytes),0) AS b FROM items WHERE cls = 'results' AND state = 'quarantined'`).get() as { n: number; b: number };
      return { items: r.n, bytes: r.b, quarantinedItems: q.n, quarantinedBytes: q.b, oldestEnqueuedAtMs: r.oldest };
    }
    const a = this.db
      .prepare(`SELECT COUNT(*) AS n, COALESCE(SUM(size_bytes),0) AS b, MIN(enqueued_at) AS oldest FROM items WHERE cls = ? AND state != 'quarantined'`)
      .get(cls) as { n: number; b: number; oldest: number | null };
    const q = this.db.prepare(`SELECT COUNT(*) AS n, COALESCE(SUM(size_bytes),0) AS b FROM items WHERE cls = ? AND state = 'quarantined'`).get(cls) as { n: number; b: number };
    return { items: a.n, bytes: a.b, quarantinedItems: q.n, quarantinedBytes: q.b, oldestEnqueuedAtMs: a.oldest };
  }

  /** Frees room in `cls` for `sizeBytes` more (policy evictOldest) or says why it cannot. */
  private makeRoom(cls: QueueClass, sizeBytes: number): { ok: true; evicted: Evicted<P, A>[] } | { ok: false; reason: string; permanent: boolean } {
    const policy = this.classes[cls];
    if (sizeBytes > policy.quotaBytes) return { ok: false, reason: `item of ${sizeBytes} bytes is larger than the ${cls} quota of ${policy.quotaBytes} bytes`, permanent: true };
    const evicted: Evicted<P, A>[] = [];
    for (;;) {
      const u = this.usage(cls);
      if (u.bytes + sizeBytes <= policy.quotaBytes && u.items + 1 <= policy.maxItems) return { ok: true, evicted };
      const full = `${cls} quota full (${u.items} items, ${u.bytes} of ${policy.quotaBytes} bytes)`;
      if (policy.policy === 'rejectNew') return { ok: false, reason: full, permanent: false };
      const victims = this.evictOne(cls);
      if (victims.length === 0) return { ok: false, reason: `${full}; nothing left to evict (all in flight)`, permanent: false };
      evicted.push(...victims);
    }
  }

  /** Removes the oldest pending thing of a class; a results batch goes with all its lines. */
  private evictOne(cls: QueueClass): Evicted<P, A>[] {
    if (cls === 'results') {
      const row = this.db.prepare(`SELECT * FROM results WHERE batch_seq IS NULL ORDER BY received_at ASC, rowid ASC LIMIT 1`).get() as ResultDbRow | undefined;
      if (row !== undefined) {
        this.db.prepare(`DELETE FROM results WHERE message_id = ?`).run(row.message_id);
        return [{ type: 'result', row: toResult<A>(row) }];
      }
    }
    const row = (this.db.prepare(`SELECT * FROM items WHERE cls = ? AND state = 'pending' ORDER BY seq ASC LIMIT ?`).all(cls, this.inflight.size + 1) as ItemRow[]).find(
      (r) => !this.inflight.has(r.seq),
    );
    if (row === undefined) return [];
    this.db.prepare(`DELETE FROM items WHERE seq = ?`).run(row.seq);
    if (cls === 'results') {
      const lines = this.batchRows(row.seq);
      this.db.prepare(`DELETE FROM results WHERE batch_seq = ?`).run(row.seq);
      return lines.map((r) => ({ type: 'result', row: r }) as const);
    }
    return [{ type: 'item', item: toItem<P>(row) }];
  }

  /**
   * Adds an item unless one with the same key is queued. Atomic with any eviction it causes and
   * with `held`, the completion that tells the watcher the part is now held (queued in the outbox,
   * the part's lease clock set). A duplicate is held again; a quarantined one is put back in the
   * queue (its content was offered anew, e.g. reprocessed after a dead letter).
   */
  enqueue(input: { key: string; cls: QueueClass; sizeBytes: number; payload: P; held?: Held }): EnqueueOutcome<P, A> {
    return this.refusalRollsBack(() => {
      const t = this.now();
      const existing = this.db.prepare(`SELECT seq, state FROM items WHERE key = ?`).get(input.key) as { seq: number; state: ItemState } | undefined;
      if (existing !== undefined) return { status: 'duplicate', requeued: this.holdExisting(existing, input.held) };
      const room = this.makeRoom(input.cls, input.sizeBytes);
      if (!room.ok) throw new Refused(room.reason, room.permanent);
      const r = this.db
        .prepare(`INSERT INTO items (key, cls, size_bytes, enqueued_at, state, payload, renew_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)`)
        .run(input.key, input.cls, input.sizeBytes, t, JSON.stringify(input.payload), input.held?.renewAtMs ?? 0);
      if (input.held !== undefined) this.addOutboxIn([input.held.body]);
      return { status: 'queued', seq: Number(r.lastInsertRowid), evicted: room.evicted };
    });
  }

  /**
   * When an item with this key is queued: holds it again (its `held` queued, its lease clock
   * reset) and puts it back in the queue if it was quarantined; returns `{ requeued }`. Returns
   * undefined when no such item is queued. Lets intake answer a re-offer before looking at files.
   */
  holdAgain(key: string, held: Held): { requeued: boolean } | undefined {
    this.sync('NORMAL');
    return this.db.transaction(() => {
      const existing = this.db.prepare(`SELECT seq, state FROM items WHERE key = ?`).get(key) as { seq: number; state: ItemState } | undefined;
      return existing === undefined ? undefined : { requeued: this.holdExisting(existing, held) };
    })();
  }

  private holdExisting(existing: { seq: number; state: ItemState }, held: Held | undefined): boolean {
    const requeued = existing.state === 'quarantined' && this.requeueSeq(existing.seq);
    if (held !== undefined) this.leases.holdItem(existing.seq, held);
    return requeued;
  }

  /** A quarantined item (and a batch's lines) back to pending, held again at the next renewal pass. */
  private requeueSeq(seq: number): boolean {
    const changed = this.db.prepare(`UPDATE items SET state = 'pending', attempts = 0, next_attempt_at = 0 WHERE state = 'quarantined' AND seq = ?`).run(seq).changes > 0;
    if (changed) this.leases.renewSoon(seq);
    return changed;
  }

  /**
   * Runs an enqueue in a transaction; a refusal throws so that evictions made while looking for
   * room are rolled back (a refused item must not cost the queue anything).
   */
  private refusalRollsBack(fn: () => EnqueueOutcome<P, A>): EnqueueOutcome<P, A> {
    this.sync('FULL');
    try {
      return this.db.transaction(fn)();
    } catch (err: unknown) {
      if (err instanceof Refused) return { status: 'rejected', reason: err.message, permanent: err.permanent };
      throw err;
    }
  }

  /** Adds a result line (class `results`) to the batch window `windowKey`. */
  addResult(input: { messageId: string; windowKey: number; line: string; ack: A; held?: Held }): EnqueueOutcome<P, A> {
    return this.refusalRollsBack(() => {
      const t = this.now();
      const existing = this.db
        .prepare(`SELECT r.batch_seq AS batch, i.state AS state FROM results r LEFT JOIN items i ON i.seq = r.batch_seq WHERE r.message_id = ?`)
        .get(input.messageId) as { batch: number | null; state: ItemState | null } | undefined;
      if (existing !== undefined) {
        const requeued = existing.state === 'quarantined' && existing.batch !== null && this.requeueSeq(existing.batch);
        if (input.held !== undefined) this.leases.holdLine(input.messageId, input.held);
        return { status: 'duplicate', requeued };
      }
      const size = Buffer.byteLength(input.line) + 1;
      const room = this.makeRoom('results', size);
      if (!room.ok) throw new Refused(room.reason, room.permanent);
      const r = this.db
        .prepare(`INSERT INTO results (message_id, window_key, received_at, size_bytes, line, ack, renew_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
        .run(input.messageId, input.windowKey, t, size, input.line, JSON.stringify(input.ack), input.held?.renewAtMs ?? 0);
      if (input.held !== undefined) this.addOutboxIn([input.held.body]);
      return { status: 'queued', seq: Number(r.lastInsertRowid), evicted: room.evicted };
    });
  }

  /**
   * Seals open result windows into batch items: a window is sealed when it holds `maxItems` lines
   * or `maxBytes`, when its oldest line has waited `windowMs`, when no line joined it for `idleMs`
   * (when set), or always when `force`. Lines in a batch are ordered by message id, and `makeBatch`
   * names it from them, so the same lines always make the same blob.
   */
  sealBatches(options: {
    windowMs: number;
    maxItems: number;
    maxBytes: number;
    /** A window no line joined for this long is sealed; 0 or absent: never on idleness. */
    idleMs?: number;
    force: boolean;
    makeBatch: (windowKey: number, rows: readonly ResultRow<A>[]) => { key: string; payload: P };
  }): number {
    this.sync('FULL');
    return this.db.transaction((): number => {
      const groups = this.db
        .prepare(`SELECT window_key AS w, COUNT(*) AS n, SUM(size_bytes) AS b, MIN(received_at) AS oldest, MAX(received_at) AS newest FROM results WHERE batch_seq IS NULL GROUP BY window_key`)
        .all() as { w: number; n: number; b: number; oldest: number; newest: number }[];
      const nowMs = this.now();
      const idleMs = options.idleMs ?? 0;
      let sealed = 0;
      for (const g of groups) {
        let remaining = g.n;
        const idle = idleMs > 0 && nowMs - g.newest >= idleMs;
        let due = options.force || g.n >= options.maxItems || g.b >= options.maxBytes || nowMs - g.oldest >= options.windowMs || idle;
        while (due && remaining > 0) {
          const rows = (this.db.prepare(`SELECT * FROM results WHERE batch_seq IS NULL AND window_key = ? ORDER BY rowid ASC LIMIT ?`).all(g.w, options.maxItems) as ResultDbRow[]).map((r) =>
            toResult<A>(r),
          );
          const taken: ResultRow<A>[] = [];
          let bytes = 0;
          for (const r of rows) {
            if (taken.length > 0 && bytes + r.sizeBytes > options.maxBytes) break;
            taken.push(r);
            bytes += r.sizeBytes;
          }
          taken.sort((a, b) => (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0));
          const batch = options.makeBatch(g.w, taken);
          const ins = this.db
            .prepare(`INSERT OR IGNORE INTO items (key, cls, size_bytes, enqueued_at, state, payload) VALUES (?, 'results', 0, ?, 'pending', ?)`)
            .run(batch.key, Math.min(...taken.map((t) => t.receivedAtMs)), JSON.stringify(batch.payload));
          const seq = ins.changes > 0 ? Number(ins.lastInsertRowid) : (this.db.prepare(`SELECT seq FROM items WHERE key = ?`).get(batch.key) as { seq: number }).seq;
          const mark = this.db.prepare(`UPDATE results SET batch_seq = ? WHERE message_id = ?`);
          for (const r of taken) mark.run(seq, r.messageId);
          sealed++;
          remaining -= taken.length;
          // Only full batches are split off eagerly; a partial remainder waits for its own trigger.
          due = options.force || remaining >= options.maxItems;
        }
      }
      return sealed;
    })();
  }

  /** Result lines of a batch item, ordered by message id (the blob's line order). */
  batchRows(seq: number): ResultRow<A>[] {
    return (this.db.prepare(`SELECT * FROM results WHERE batch_seq = ? ORDER BY message_id ASC`).all(seq) as ResultDbRow[]).map((r) => toResult<A>(r));
  }

  /** Open (unbatched) result lines: count and the oldest receive time. */
  openResults(): { lines: number; oldestReceivedAtMs: number | null } {
    const r = this.db.prepare(`SELECT COUNT(*) AS n, MIN(received_at) AS oldest FROM results WHERE batch_seq IS NULL`).get() as { n: number; oldest: number | null };
    return { lines: r.n, oldestReceivedAtMs: r.oldest };
  }

  /**
   * Claims the next due item: highest class first, then the class's upload order; marks it in
   * flight. `skipClasses` lets the caller keep a slot free for higher classes.
   */
  claimNext(skipClasses: ReadonlySet<QueueClass> = new Set()): QueueItem<P> | undefined {
    const nowMs = this.now();
    for (const cls of QUEUE_CLASSES) {
      if (skipClasses.has(cls)) continue;
      const order = this.classes[cls].uploadOrder === 'newestFirst' ? 'DESC' : 'ASC';
      const rows = this.db
        .prepare(`SELECT * FROM items WHERE cls = ? AND state = 'pending' AND next_attempt_at <= ? ORDER BY priority DESC, seq ${order} LIMIT ?`)
        .all(cls, nowMs, this.inflight.size + 1) as ItemRow[];
      const row = rows.find((r) => !this.inflight.has(r.seq));
      if (row !== undefined) {
        this.inflight.add(row.seq);
        return toItem<P>({ ...row, state: 'inflight' });
      }
    }
    return undefined;
  }

  /** Items claimed and not yet settled (released, failed, quarantined, completed or dropped). */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Earliest time a pending item becomes due, or null when none is pending. */
  nextDueAtMs(): number | null {
    const r = this.db.prepare(`SELECT MIN(next_attempt_at) AS t FROM items WHERE state = 'pending'`).get() as { t: number | null };
    return r.t;
  }

  /** Back to pending without charging an attempt (sink unavailable, shutdown). */
  release(seq: number, nextAttemptAtMs: number): void {
    this.sync('NORMAL');
    this.inflight.delete(seq);
    this.db.prepare(`UPDATE items SET state = 'pending', next_attempt_at = ? WHERE seq = ?`).run(nextAttemptAtMs, seq);
  }

  /** Charges an attempt and schedules the next one. Returns the attempts made so far. */
  fail(seq: number, failure: { code: string; reason: string; nextAttemptAtMs: number }): number {
    this.sync('NORMAL');
    this.inflight.delete(seq);
    this.db
      .prepare(`UPDATE items SET state = 'pending', attempts = attempts + 1, next_attempt_at = ?, last_code = ?, last_reason = ? WHERE seq = ?`)
      .run(failure.nextAttemptAtMs, failure.code, failure.reason.slice(0, 4096), seq);
    const r = this.db.prepare(`SELECT attempts FROM items WHERE seq = ?`).get(seq) as { attempts: number } | undefined;
    return r?.attempts ?? 0;
  }

  /** Parks an item for an operator; its new payload may point at the quarantine copy (FULL: the move already happened). */
  quarantine(seq: number, failure: { code: string; reason: string; payload: P; outbox: readonly string[] }): void {
    this.sync('FULL');
    this.inflight.delete(seq);
    this.db.transaction(() => {
      this.db
        .prepare(`UPDATE items SET state = 'quarantined', attempts = attempts + 1, last_code = ?, last_reason = ?, payload = ? WHERE seq = ?`)
        .run(failure.code, failure.reason.slice(0, 4096), JSON.stringify(failure.payload), seq);
      // Dead-lettered: no longer held, its lease is not renewed.
      this.leases.release(seq);
      this.addOutboxIn(failure.outbox);
    })();
  }

  /**
   * Quarantined items back into the queue (all, or those with the given keys). Returns how many.
   * Their parts are held again: the next lease renewal sends `held` for them.
   */
  requeueQuarantined(keys?: readonly string[]): number {
    this.sync('NORMAL');
    return this.db.transaction((): number => {
      const seqs =
        keys === undefined
          ? (this.db.prepare(`SELECT seq FROM items WHERE state = 'quarantined'`).all() as { seq: number }[]).map((r) => r.seq)
          : keys.map((k) => (this.db.prepare(`SELECT seq FROM items WHERE state = 'quarantined' AND key = ?`).get(k) as { seq: number } | undefined)?.seq).filter((x): x is number => x !== undefined);
      let n = 0;
      for (const seq of seqs) if (this.requeueSeq(seq)) n++;
      return n;
    })();
  }

  /**
   * Renews the leases of held parts: up to `limit` parts whose renewal is due at `nowMs`, earliest
   * first, get a new `held` completion in the outbox and their next renewal set, in one
   * transaction (see queue-leases.ts). Returns how many. NORMAL durability: a renewal lost to a
   * power cut is simply sent again.
   */
  renewLeases(options: { nowMs: number; limit: number; ackOf: (payload: P) => A | undefined; held: (ack: A) => Held }): number {
    if (options.limit <= 0) return 0;
    this.sync('NORMAL');
    return this.db.transaction(() => this.leases.renew(options))();
  }

  /** Parts held now (file items and result lines not quarantined): what the renewals have to cover. */
  heldParts(): number {
    return this.leases.heldParts();
  }

  listQuarantined(limit = 100): QueueItem<P>[] {
    return (this.db.prepare(`SELECT * FROM items WHERE state = 'quarantined' ORDER BY seq ASC LIMIT ?`).all(limit) as ItemRow[]).map((r) => toItem<P>(r));
  }

  /** Makes every pending item due now (flush). Returns how many were waiting. */
  makeAllDue(): number {
    this.sync('NORMAL');
    return this.db.prepare(`UPDATE items SET next_attempt_at = 0 WHERE state = 'pending' AND next_attempt_at > 0`).run().changes;
  }

  /**
   * Records a finished upload in one transaction: the item (and a batch's lines) leave the queue,
   * the done-ledger remembers each key, and the completions enter the outbox. A crash before this
   * commit re-uploads (a no-op thanks to create-if-absent); after it, the outbox re-sends the acks.
   * `durable`: the caller deletes the source file next, so the commit must survive power loss
   * first (otherwise a power cut could bring back a pending item whose only copy is gone).
   */
  complete(
    seq: number,
    done: { keys: readonly string[]; blobName: string; md5: string; sink: 'blob' | 'directory'; contentSha256: string | null; outbox: readonly string[] },
    options: { durable?: boolean } = {},
  ): void {
    this.sync(options.durable === true ? 'FULL' : 'NORMAL');
    this.inflight.delete(seq);
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM items WHERE seq = ?`).run(seq);
      this.db.prepare(`DELETE FROM results WHERE batch_seq = ?`).run(seq);
      const ins = this.db.prepare(`INSERT OR REPLACE INTO done (key, blob_name, md5, sink, content_sha256, completed_at) VALUES (?, ?, ?, ?, ?, ?)`);
      const t = this.now();
      for (const key of done.keys) ins.run(key, done.blobName, done.md5, done.sink, done.contentSha256, t);
      this.addOutboxIn(done.outbox);
    })();
  }

  /** Removes an item that ends without an upload (dead-lettered for good), with its acks. */
  drop(seq: number, outbox: readonly string[]): void {
    this.sync('NORMAL');
    this.inflight.delete(seq);
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM items WHERE seq = ?`).run(seq);
      this.db.prepare(`DELETE FROM results WHERE batch_seq = ?`).run(seq);
      this.addOutboxIn(outbox);
    })();
  }

  lookupDone(key: string): DoneRecord | undefined {
    const r = this.db.prepare(`SELECT * FROM done WHERE key = ?`).get(key) as
      | { key: string; blob_name: string; md5: string; sink: 'blob' | 'directory'; content_sha256: string | null; completed_at: number }
      | undefined;
    return r === undefined ? undefined : { key: r.key, blobName: r.blob_name, md5: r.md5, sink: r.sink, contentSha256: r.content_sha256, completedAtMs: r.completed_at };
  }

  pruneDone(): number {
    this.db.prepare(`DELETE FROM images WHERE seen_at < ?`).run(this.now() - this.doneRetentionMs);
    return this.db.prepare(`DELETE FROM done WHERE completed_at < ?`).run(this.now() - this.doneRetentionMs).changes;
  }

  /**
   * Remembers the image artifact of a source (`id`): its blob name and size, so a result line of
   * the same source can name it in a labelled dataset (datasets.ts). Kept as long as the done-ledger.
   */
  rememberImage<I>(id: string, image: I): void {
    this.sync('NORMAL');
    this.db.prepare(`INSERT OR REPLACE INTO images (id, image, seen_at) VALUES (?, ?, ?)`).run(id, JSON.stringify(image), this.now());
  }

  /** Serves a queued item before the others of its class (a hard example's image). Returns whether one was found. */
  prioritise(key: string): boolean {
    this.sync('NORMAL');
    return this.db.prepare(`UPDATE items SET priority = 1 WHERE key = ? AND state = 'pending'`).run(key).changes > 0;
  }

  /** Whether an item with this key still waits to be uploaded (pending or in flight; not quarantined, not done). */
  isWaiting(key: string): boolean {
    const r = this.db.prepare(`SELECT state FROM items WHERE key = ?`).get(key) as { state: ItemState } | undefined;
    return r !== undefined && r.state !== 'quarantined';
  }

  /** The images remembered for these source ids (absent ids are left out). */
  imagesOf<I>(ids: readonly string[]): Map<string, I> {
    const get = this.db.prepare(`SELECT image FROM images WHERE id = ?`);
    const out = new Map<string, I>();
    for (const id of new Set(ids)) {
      const r = get.get(id) as { image: string } | undefined;
      if (r !== undefined) out.set(id, JSON.parse(r.image) as I);
    }
    return out;
  }

  private addOutboxIn(bodies: readonly string[]): void {
    const ins = this.db.prepare(`INSERT INTO outbox (body, created_at) VALUES (?, ?)`);
    const t = this.now();
    for (const b of bodies) ins.run(b, t);
  }

  addOutbox(bodies: readonly string[]): void {
    this.sync('FULL');
    this.db.transaction(() => this.addOutboxIn(bodies))();
  }

  peekOutbox(limit: number): { seq: number; body: string }[] {
    return this.db.prepare(`SELECT seq, body FROM outbox ORDER BY seq ASC LIMIT ?`).all(limit) as { seq: number; body: string }[];
  }

  /** Forgets sent completions, in one commit (losing it only means sending an ack twice). */
  removeOutbox(seqs: readonly number[]): void {
    this.sync('NORMAL');
    if (seqs.length === 0) return;
    this.db.transaction(() => {
      const del = this.db.prepare(`DELETE FROM outbox WHERE seq = ?`);
      for (const seq of seqs) del.run(seq);
    })();
  }

  outboxSize(): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM outbox`).get() as { n: number }).n;
  }

  /** Items not yet uploaded (pending + in flight), all classes, plus open result lines. */
  backlog(): number {
    const a = this.db.prepare(`SELECT COUNT(*) AS n FROM items WHERE state != 'quarantined'`).get() as { n: number };
    return a.n + this.openResults().lines;
  }

  get(seq: number): QueueItem<P> | undefined {
    const r = this.db.prepare(`SELECT * FROM items WHERE seq = ?`).get(seq) as ItemRow | undefined;
    return r === undefined ? undefined : toItem<P>(r);
  }
}
