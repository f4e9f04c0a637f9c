import type Database from 'better-sqlite3';

/** A `held` completion to queue with a part, and when the part's lease must be renewed (epoch ms). */
export interface Held {
  readonly body: string;
  readonly renewAtMs: number;
}

/** `renew_at` of a part no longer held (quarantined): beyond any renewal scan. */
const NOT_HELD = Number.MAX_SAFE_INTEGER;

/**
 * The lease side of the queue's rows. Every held part (a file item, a result line) carries
 * `renew_at`, when its lease must be renewed: half of the lease its last `held` announced, so a
 * part announced with a short lease is renewed in time even if later leases are longer. Runs
 * inside the queue's transactions; `addOutbox` queues the `held` bodies in the same commit.
 */
export class LeaseRows<P, A> {
  readonly #db: Database.Database;
  readonly #addOutbox: (bodies: readonly string[]) => void;

  constructor(db: Database.Database, addOutbox: (bodies: readonly string[]) => void) {
    this.#db = db;
    this.#addOutbox = addOutbox;
  }

  holdItem(seq: number, held: Held): void {
    this.#db.prepare(`UPDATE items SET renew_at = ? WHERE seq = ?`).run(held.renewAtMs, seq);
    this.#addOutbox([held.body]);
  }

  holdLine(messageId: string, held: Held): void {
    this.#db.prepare(`UPDATE results SET renew_at = ? WHERE message_id = ?`).run(held.renewAtMs, messageId);
    this.#addOutbox([held.body]);
  }

  /** An item (and a batch's lines) no longer held: out of the renewal scan. */
  release(seq: number): void {
    this.#db.prepare(`UPDATE items SET renew_at = ? WHERE seq = ?`).run(NOT_HELD, seq);
    this.#db.prepare(`UPDATE results SET renew_at = ? WHERE batch_seq = ?`).run(NOT_HELD, seq);
  }

  /** An item (and a batch's lines) held again: renewed (announced) at the next pass. */
  renewSoon(seq: number): void {
    this.#db.prepare(`UPDATE items SET renew_at = 0 WHERE seq = ?`).run(seq);
    this.#db.prepare(`UPDATE results SET renew_at = 0 WHERE batch_seq = ?`).run(seq);
  }

  /** Up to `limit` held parts due at `nowMs`, earliest first: `held` queued, next renewal set. */
  renew(options: { nowMs: number; limit: number; ackOf: (payload: P) => A | undefined; held: (ack: A) => Held }): number {
    const items = this.#db
      .prepare(`SELECT seq, payload, renew_at FROM items WHERE renew_at <= ? AND state != 'quarantined' AND cls != 'results' ORDER BY renew_at ASC LIMIT ?`)
      .all(options.nowMs, options.limit) as { seq: number; payload: string; renew_at: number }[];
    const lines = this.#db
      .prepare(
        `SELECT r.message_id AS id, r.ack AS ack, r.renew_at AS renew_at FROM results r LEFT JOIN items i ON i.seq = r.batch_seq
          WHERE r.renew_at <= ? AND (i.state IS NULL OR i.state != 'quarantined') ORDER BY r.renew_at ASC LIMIT ?`,
      )
      .all(options.nowMs, options.limit) as { id: string; ack: string; renew_at: number }[];
    const due = [...items.map((r) => ({ at: r.renew_at, item: r })), ...lines.map((r) => ({ at: r.renew_at, line: r }))].sort((a, b) => a.at - b.at).slice(0, options.limit);
    const touchItem = this.#db.prepare(`UPDATE items SET renew_at = ? WHERE seq = ?`);
    const touchLine = this.#db.prepare(`UPDATE results SET renew_at = ? WHERE message_id = ?`);
    const bodies: string[] = [];
    for (const d of due) {
      const ack = 'item' in d ? options.ackOf(JSON.parse(d.item.payload) as P) : (JSON.parse(d.line.ack) as A);
      const held = ack === undefined ? undefined : options.held(ack);
      if ('item' in d) touchItem.run(held?.renewAtMs ?? NOT_HELD, d.item.seq);
      else touchLine.run(held?.renewAtMs ?? NOT_HELD, d.line.id);
      if (held !== undefined) bodies.push(held.body);
    }
    this.#addOutbox(bodies);
    return bodies.length;
  }

  /** Parts held now (file items and result lines not quarantined). */
  heldParts(): number {
    const items = this.#db.prepare(`SELECT COUNT(*) AS n FROM items WHERE state != 'quarantined' AND cls != 'results'`).get() as { n: number };
    const lines = this.#db.prepare(`SELECT COUNT(*) AS n FROM results r LEFT JOIN items i ON i.seq = r.batch_seq WHERE i.state IS NULL OR i.state != 'quarantined'`).get() as { n: number };
    return items.n + lines.n;
  }
}
