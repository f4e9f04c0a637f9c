/**
 * The periodic full inventory: walk the inbox, examine every entry, compare with the persisted
 * inventory (ledger `paths`) to find what vanished, and prune finished items past retention. It is
 * the source of truth; events only make detection faster. `rescan` callers join the next one.
 */
import { EdgeMLError, type Logger } from '@edgeml/shared';
import type { WatcherConfig } from './config.js';
import type { Dispositions } from './dispositions.js';
import type { Intake } from './intake.js';
import { walkInbox } from './inventory.js';
import type { Ledger } from './ledger.js';
import type { LimitedLog } from './limited-log.js';
import type { WatcherMetrics } from './metrics.js';

export interface ScanSummary {
  readonly files: number;
  readonly refused: number;
  readonly vanished: number;
  readonly problems: readonly string[];
  readonly durationMs: number;
  readonly at: string;
}

export interface InventoryScanOptions {
  readonly inboxReal: string;
  readonly ledger: Ledger;
  readonly intake: Intake;
  readonly dispositions: Dispositions;
  readonly log: Logger;
  readonly limited: LimitedLog;
  readonly metrics: WatcherMetrics;
  readonly now: () => number;
  readonly config: () => WatcherConfig;
  /** Asks the loop for a tick. */
  readonly wake: () => void;
}

/**
 * After a flood of at least this many filesystem events, an inventory follows once they pause for
 * {@link FLOOD_QUIET_MS}: inotify drops events when its queue (16,384 by default, per process)
 * overflows, and a drop of a few thousand files can overflow it (measured: 128 to 724 of 2,000
 * files never announced on the 2-core dev VM under load). Events only make detection faster.
 */
export const FLOOD_EVENTS = 512;
export const FLOOD_QUIET_MS = 250;

/** Counts filesystem events since the last inventory; says when a flood calls for one. */
export class EventFlood {
  #events = 0;
  #lastAt = 0;

  note(nowMs: number): void {
    this.#events++;
    this.#lastAt = nowMs;
  }

  get events(): number {
    return this.#events;
  }

  /** When an inventory is due because of a flood (its events paused), or undefined. */
  dueAt(): number | undefined {
    return this.#events >= FLOOD_EVENTS ? this.#lastAt + FLOOD_QUIET_MS : undefined;
  }

  reset(): void {
    this.#events = 0;
  }
}

export class InventoryScan {
  readonly #o: InventoryScanOptions;
  #requested = true;
  #nextAt = 0;
  readonly #flood = new EventFlood();
  #last: ScanSummary | undefined;
  #waiters: { resolve: (s: ScanSummary) => void; reject: (err: unknown) => void }[] = [];

  constructor(options: InventoryScanOptions) {
    this.#o = options;
  }

  get last(): ScanSummary | undefined {
    return this.#last;
  }

  request(): void {
    this.#requested = true;
    this.#o.wake();
  }

  /** Resolves with the summary of the next inventory (requested now). */
  join(): Promise<ScanSummary> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.request();
    });
  }

  /** Fails every caller waiting for an inventory (the watcher is stopping). */
  abandon(): void {
    for (const w of this.#waiters.splice(0)) w.reject(new EdgeMLError('ABORTED', 'the watcher is stopping'));
  }

  /** A filesystem event arrived (see {@link FLOOD_EVENTS}). */
  noteEvent(nowMs: number): void {
    this.#flood.note(nowMs);
  }

  /** When the next inventory is due: now when requested, after an event flood, or periodically. */
  dueAt(): number {
    if (this.#requested) return 0;
    return Math.min(this.#nextAt, this.#flood.dueAt() ?? Number.POSITIVE_INFINITY);
  }

  /** Runs the inventory when requested or due. */
  async runIfDue(signal: AbortSignal): Promise<void> {
    if (this.#o.now() < this.dueAt()) return;
    if (!this.#requested && this.#flood.dueAt() !== undefined) this.#o.log.debug({ events: this.#flood.events }, 'inventory after a flood of filesystem events (some may have been dropped)');
    this.#requested = false;
    this.#flood.reset();
    const waiters = this.#waiters;
    this.#waiters = [];
    const summary = await this.#run(signal);
    this.#nextAt = this.#o.now() + this.#o.config().inventoryIntervalMs;
    for (const w of waiters) w.resolve(summary);
  }

  async #run(signal: AbortSignal): Promise<ScanSummary> {
    const { ledger, intake, metrics, log } = this.#o;
    const started = this.#o.now();
    const endTimer = metrics.inventoryDuration.startTimer();
    // Snapshot before the walk: a path recorded during the walk is not mistaken for a vanished one.
    const known = ledger.allPaths();
    const walk = await walkInbox(this.#o.inboxReal, signal);
    const seen = new Set<string>();
    let files = 0;
    let refused = 0;
    for (const { rel, entry } of walk.entries) {
      seen.add(rel);
      if (entry.type === 'file') files++;
      if (entry.type === 'refused') refused++;
    }
    await intake.examine(walk.entries, signal, known);
    let vanished = 0;
    if (walk.rootUnreadable) {
      // An unmounted or unreachable share looks empty: never take that for every file vanishing.
      this.#o.limited('inbox-unreadable', 'warn', { problems: walk.problems }, 'the inbox cannot be read; inventory skipped');
    } else if (!signal.aborted) {
      const gone = [...known.keys()].filter((rel) => !seen.has(rel) && !this.#o.dispositions.isBusy(rel));
      vanished = gone.length;
      // One commit for all of them: a user clearing thousands of kept files must not cost an fsync each.
      ledger.batch(() => {
        for (const rel of gone) intake.pathVanished(rel);
      });
      intake.candidates.forgetUnseen(seen);
    }
    const { ledgerRetentionMs } = this.#o.config();
    const pruned = ledger.prune(this.#o.now() - ledgerRetentionMs);
    if (pruned > 0) log.info({ pruned, ledgerRetentionMs }, 'finished items past their retention forgotten');
    for (const p of walk.problems) this.#o.limited(`walk:${p}`, 'warn', { problem: p }, 'inventory could not read part of the inbox');
    endTimer();
    metrics.inventoryFiles.set(files);
    const summary: ScanSummary = { files, refused, vanished, problems: walk.problems.slice(0, 20), durationMs: this.#o.now() - started, at: new Date(started).toISOString() };
    this.#last = summary;
    log.debug({ ...summary }, 'inventory done');
    return summary;
  }
}
