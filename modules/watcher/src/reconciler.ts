/**
 * The reconciler: inbox → stable files → ledger → `files` messages, and acknowledgements back.
 * It builds the parts below and runs them in ticks (never two at once):
 *
 *   inventory-scan   a full walk when due (the source of truth)
 *   intake           hinted and due paths: filter, stability, SHA-256, ledger
 *   completion-timer deferred items due again, completion timeouts, dead letters after maxAttempts
 *   emission         pending items → `files`, up to maxInFlight
 *
 * Acknowledgements arrive concurrently on the input and go to `acknowledgements`, which only
 * touches the ledger (transactions) and files under a per-path lock (`dispositions`).
 */
import { ActivityWindow, EdgeMLError, errorMessage, isWithin, sleep, type CompletionMessage, type DataPaths, type EdgeClient, type Logger } from '@edgeml/shared';
import { Acknowledgements, type CompletionResult } from './acknowledgements.js';
import { CompletionTimer } from './completion-timer.js';
import type { WatcherConfig } from './config.js';
import { Dispositions } from './dispositions.js';
import { Emission } from './emission.js';
import type { HashFile } from './hash-file.js';
import { Intake } from './intake.js';
import { relativePosix } from './inventory.js';
import { InventoryScan, type ScanSummary } from './inventory-scan.js';
import type { Ledger } from './ledger.js';
import type { FileObservation } from './stability.js';
import { createLimitedLog, type LimitedLog } from './limited-log.js';
import type { WatcherMetrics } from './metrics.js';
import { Reprocessor, type ReprocessReport, type ReprocessRequest } from './reprocess.js';
import { updateGauges, watcherStatus, type StatusSources } from './status.js';

export interface ReconcilerOptions {
  readonly paths: DataPaths;
  /** The inbox's real path (symlinks resolved): containment is judged against it. */
  readonly inboxReal: string;
  readonly ledger: Ledger;
  readonly edge: EdgeClient;
  readonly logger: Logger;
  readonly metrics: WatcherMetrics;
  readonly now: () => number;
  readonly hashFile: HashFile;
  readonly config: WatcherConfig;
  /** Whether new files may enter the pipeline now (the disk budget). Default: always. */
  readonly intakeOpen?: () => boolean;
  /** Called when the backpressure state flips (for a reported property). */
  readonly onBackpressure?: (active: boolean) => void;
}

/** Ticks start at most this often, however many events arrive. */
const MIN_TICK_SPACING_MS = 50;

export class Reconciler {
  readonly #now: () => number;
  readonly #limited: LimitedLog;
  #config: WatcherConfig;
  readonly #inboxReal: string;
  readonly #intake: Intake;
  readonly #scan: InventoryScan;
  readonly #timer: CompletionTimer;
  readonly #emission: Emission;
  readonly #acks: Acknowledgements;
  readonly #reprocessor: Reprocessor;
  readonly #status: StatusSources;
  #wake: (() => void) | undefined;
  #wakePending = false;
  #loop: Promise<void> | undefined;
  readonly #stop = new AbortController();

  constructor(options: ReconcilerOptions) {
    const { paths, ledger, edge, metrics, now } = options;
    const log = options.logger;
    this.#now = now;
    this.#limited = createLimitedLog(log);
    this.#config = options.config;
    this.#inboxReal = options.inboxReal;
    const config = (): WatcherConfig => this.#config;
    const wake = (): void => this.#wakeUp();
    const limited = this.#limited;
    const signal = this.#stop.signal;
    const dispositions = new Dispositions({ paths, inboxReal: options.inboxReal, ledger, edge, log, limited, metrics, now, config });
    this.#emission = new Emission({
      paths,
      ledger,
      edge,
      log,
      limited,
      metrics,
      now,
      config,
      signal,
      intakeOpen: options.intakeOpen ?? (() => true),
      ...(options.onBackpressure === undefined ? {} : { onBackpressure: options.onBackpressure }),
    });
    this.#intake = new Intake({
      inboxReal: options.inboxReal,
      ledger,
      dispositions,
      log,
      limited,
      metrics,
      now,
      hashFile: options.hashFile,
      config: options.config,
      wake,
      // Emit between batches so a large initial scan starts flowing before it ends.
      afterBatch: () => this.#emission.pump(),
    });
    this.#scan = new InventoryScan({ inboxReal: options.inboxReal, ledger, intake: this.#intake, dispositions, log, limited, metrics, now, config, wake });
    this.#timer = new CompletionTimer({ ledger, dispositions, log, metrics, now, config, signal });
    const activity = new ActivityWindow({ now });
    this.#acks = new Acknowledgements({ ledger, dispositions, log, limited, metrics, now, wake, activity });
    this.#reprocessor = new Reprocessor({ paths, inboxReal: options.inboxReal, ledger, log, metrics, now, config, hint: (abs) => this.hint(abs) });
    this.#status = { paths, ledger, intake: this.#intake, emission: this.#emission, scan: this.#scan, metrics, config, activity };
  }

  /** Applies a new configuration at once; patterns take effect on a fresh inventory. */
  configure(config: WatcherConfig): void {
    this.#intake.configure(config);
    this.#config = config;
    this.requestInventory();
  }

  /**
   * A path changed (from events or a share notification): check it soon. `observed`: the event
   * source's own look at the regular file, which may start or restart its count (see
   * {@link Candidates.seen}).
   */
  hint(absPath: string, observed?: FileObservation): void {
    const inbox = this.#inboxReal;
    if (!isWithin(inbox, absPath) || absPath === inbox) return;
    const rel = relativePosix(inbox, absPath);
    if (observed !== undefined) this.#intake.candidates.seen(rel, observed, this.#now());
    else this.#intake.candidates.hint(rel);
    this.#scan.noteEvent(this.#now());
    this.#wakeUp();
  }

  /** Something changed that may let work proceed (intake resumed): run a tick soon. */
  wake(): void {
    this.#wakeUp();
  }

  requestInventory(): void {
    this.#scan.request();
  }

  /** Runs an inventory now (or joins the next one) and resolves with its summary. */
  rescan(): Promise<ScanSummary> {
    if (this.#stop.signal.aborted) return Promise.reject(new EdgeMLError('ABORTED', 'the watcher is stopping'));
    return this.#scan.join();
  }

  get lastScan(): ScanSummary | undefined {
    return this.#scan.last;
  }

  get inboxReal(): string {
    return this.#inboxReal;
  }

  /** See {@link Acknowledgements.handle}. */
  handleCompletion(msg: CompletionMessage): Promise<CompletionResult> {
    return this.#acks.handle(msg);
  }

  /** See {@link Reprocessor.reprocess}. */
  reprocess(request: ReprocessRequest): Promise<ReprocessReport> {
    if (this.#stop.signal.aborted) return Promise.reject(new EdgeMLError('ABORTED', 'the watcher is stopping'));
    return this.#reprocessor.reprocess(request);
  }

  status(): Record<string, unknown> {
    return watcherStatus(this.#status);
  }

  start(): void {
    this.#loop ??= this.#run(this.#stop.signal);
  }

  /** Stops the loop and waits (until `signal` aborts) for operations under way. Idempotent. */
  async stop(signal: AbortSignal): Promise<void> {
    this.#stop.abort();
    this.#wakeUp();
    this.#scan.abandon();
    const deadline = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([Promise.allSettled([this.#loop ?? Promise.resolve(), ...this.#acks.pending()]), deadline]);
  }

  /** One round of work. Public for tests that drive the reconciler step by step. */
  async tick(signal: AbortSignal = this.#stop.signal): Promise<void> {
    await this.#scan.runIfDue(signal);
    await this.#intake.examine(
      this.#intake.candidates.takeDue(this.#now()).map((rel) => ({ rel })),
      signal,
    );
    await this.#timer.handleDue();
    await this.#emission.pump();
    updateGauges(this.#status);
  }

  #wakeUp(): void {
    if (this.#wake !== undefined) this.#wake();
    else this.#wakePending = true;
  }

  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (this.#wakePending || signal.aborted) {
      this.#wakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }

  /** Until the earliest stability check is due (0 when one is; Infinity when none is scheduled). */
  #checkDelayMs(): number {
    const at = this.#intake.candidates.nextDueAt();
    return at === undefined ? Number.POSITIVE_INFINITY : Math.max(0, at - this.#now());
  }

  /**
   * How long the loop may sleep: until the earliest scheduled work (a stability check, a due
   * inventory, a completion timeout, a deferral or a lease), at most the check spacing or 1 s.
   * Sleeping a fixed period instead left files that became stable mid-sleep waiting for the next
   * tick, and then hashed all at once (measured: 0.6 s of a 2.5 s burst of 2,000 files).
   */
  #tickDelayMs(): number {
    const now = this.#now();
    let delay = Math.min(1_000, this.#intake.candidates.checkSpacingMs());
    for (const at of [this.#intake.candidates.nextDueAt(), this.#timer.nextDueAt(), this.#scan.dueAt()]) {
      if (at !== undefined) delay = Math.min(delay, Math.max(0, at - now));
    }
    return delay;
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const started = performance.now();
      try {
        await this.tick(signal);
      } catch (err: unknown) {
        this.#limited('tick', 'error', { err }, `reconcile tick failed: ${errorMessage(err)}`);
      }
      await this.#sleep(this.#tickDelayMs(), signal);
      // Coalesce bursts: a burst of events becomes a few batches, each costing a few ledger commits
      // (an fsync each: ~6 ms on the dev VM's disk), instead of a tick and its commits per file. A
      // stability check is not held back by it: the tick runs when the earliest one is due (a
      // fixed spacing made each file wait up to 50 ms past the end of its window).
      const wait = Math.min(MIN_TICK_SPACING_MS - (performance.now() - started), this.#checkDelayMs());
      if (wait > 0 && !signal.aborted) await sleep(wait, signal).catch(() => undefined);
    }
  }
}
