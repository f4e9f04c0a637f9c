import { errorMessage } from '@edgeml/shared';
import type { Acknowledger } from './acks.js';
import type { ItemPayload, PartAck, UploaderContext } from './context.js';
import type { UploaderMetrics } from './metrics.js';
import type { Held } from './queue-leases.js';
import { Wakeable } from './wakeable.js';

/** Longest time between two renewal passes. */
const MAX_PASS_INTERVAL_MS = 5_000;

/** The contract's longest lease (`leaseMs` ≤ 24 h in the completion schema). */
export const MAX_LEASE_MS = 86_400_000;

/**
 * Keeps the watcher from re-emitting what the uploader holds. A part accepted into the queue is
 * announced with `held` and a lease (intake.ts, in the same commit as the part); this renews the
 * lease of every part still queued once half of it has passed, for as long as the part stays
 * queued. A part uploaded, dead-lettered (quarantined) or evicted leaves the scan, so its renewals
 * stop; a crashed uploader stops renewing, the leases run out, and the watcher re-offers the
 * sources (its queue, if it survived, answers the re-offer with `held` again).
 *
 * Traffic is bounded whatever the backlog: renewals go out at most `leaseRenewMaxPerSecond`, in a
 * pass every `leaseMs / 20` (at most 5 s), and none while the outbox still holds a pass's worth
 * (edgeHub not taking messages), so they never pile up behind an edgeHub outage. The lease is
 * `leaseMs`, or longer when the parts held need it: 2 × parts / rate seconds (renewing every part
 * once per half lease at that rate), up to 24 h. A large backlog is then noticed later if its
 * holder dies, but never costs more than the rate.
 */
export class LeaseRenewer {
  readonly #ctx: UploaderContext;
  readonly #acks: Acknowledger;
  readonly #metrics: UploaderMetrics;
  readonly #wake = new Wakeable();
  #loop: Promise<void> | undefined;
  /** Parts held: counted at every pass, and one more for every part accepted in between. */
  #heldParts: number | undefined;

  constructor(ctx: UploaderContext, acks: Acknowledger, metrics: UploaderMetrics) {
    this.#ctx = ctx;
    this.#acks = acks;
    this.#metrics = metrics;
  }

  /**
   * The lease announced now: `leaseMs`, or longer when the backlog needs it to stay within the
   * rate. It counts the parts accepted since the last pass too: a burst of acceptances announced
   * with the short lease would all fall due together, more than the rate can renew in time.
   */
  get leaseMs(): number {
    this.#heldParts ??= this.#countHeld();
    const cfg = this.#ctx.settings();
    return Math.min(MAX_LEASE_MS, Math.max(cfg.leaseMs, Math.ceil((2 * (this.#heldParts + 1) * 1000) / cfg.leaseRenewMaxPerSecond)));
  }

  #countHeld(): number {
    return this.#ctx.queue.isClosed ? 0 : this.#ctx.queue.heldParts();
  }

  /** The `held` completion of a part with the lease in force, and when it must be renewed. */
  held(ack: PartAck): Held {
    const leaseMs = this.leaseMs;
    return { body: this.#acks.body(ack, 'held', { leaseMs }), renewAtMs: this.#ctx.nowMs() + Math.floor(leaseMs / 2) };
  }

  /** A part was accepted (or accepted again) with its `held` in the same commit. */
  accepted(): void {
    this.#heldParts = (this.#heldParts ?? this.#countHeld()) + 1;
    this.#metrics.held('accepted', 1);
    this.#acks.committed();
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#wake.close();
    await this.#loop;
  }

  /** `leaseMs / 20` (at most 5 s), but never so short that one renewal per pass exceeds the rate. */
  #passIntervalMs(): number {
    const cfg = this.#ctx.settings();
    return Math.max(Math.min(MAX_PASS_INTERVAL_MS, cfg.leaseMs / 20), 1000 / cfg.leaseRenewMaxPerSecond);
  }

  /** One pass: renews what is due, within the rate. Returns how many were renewed. */
  renewDue(): number {
    const { queue } = this.#ctx;
    if (queue.isClosed) return 0;
    this.#heldParts = this.#countHeld();
    const perPass = Math.max(1, Math.floor((this.#ctx.settings().leaseRenewMaxPerSecond * this.#passIntervalMs()) / 1000));
    const n = queue.renewLeases({
      nowMs: this.#ctx.nowMs(),
      limit: Math.max(0, perPass - queue.outboxSize()),
      ackOf: (p: ItemPayload) => (p.type === 'file' ? p.ack : undefined),
      held: (ack) => this.held(ack),
    });
    if (n > 0) {
      this.#metrics.held('renewed', n);
      this.#acks.committed();
    }
    return n;
  }

  async #run(): Promise<void> {
    while (!this.#wake.closed) {
      this.#wake.reset();
      try {
        this.renewDue();
      } catch (err: unknown) {
        this.#ctx.logOnce('lease-renewal', 'error', { err }, `lease renewal failed: ${errorMessage(err)}`);
      }
      await this.#wake.nap(this.#passIntervalMs(), this.#ctx.logger, false);
    }
  }
}
