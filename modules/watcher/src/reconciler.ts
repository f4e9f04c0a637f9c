/**
 * The reconciler: inbox → stable files → ledger → `files` messages, and acknowledgements back.
 *
 * One loop does the work in ticks (never two at once): a full inventory walk when due, then the
 * paths events hinted at and the candidates due for another stability check, then completion
 * timeouts, then emission up to `maxInFlight`. Completions arrive concurrently on the input and
 * only touch the ledger (transactions) and files under a per-path lock.
 */
import { lstat, realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  backoffDelayMs,
  createRepeatLimiter,
  EdgeMLError,
  errorCode,
  errorMessage,
  isWithin,
  sendAlert,
  sleep,
  type CompletionMessage,
  type DataPaths,
  type EdgeClient,
  type ErrorCode,
  type Logger,
} from '@edgeml/shared';
import type { WatcherConfig } from './config.js';
import { isTerminal, uploadedParts } from './item-state.js';
import { classifyEntry, relativePosix, walkInbox, type EntryClass } from './inventory.js';
import { kindOf } from './kinds.js';
import type { AckResult, DeadLetterReason, ItemRecord, Ledger, PathRecord, StableFile } from './ledger.js';
import { buildFileMessage } from './message.js';
import type { WatcherMetrics } from './metrics.js';
import { createPathFilter, type PathFilter } from './patterns.js';
import { deadLetterFile, moveFile, moveToProcessed, type DeadLetterDocument } from './share-ops.js';
import { checkIntervalMs, StabilityTracker } from './stability.js';

/** Streams a file through SHA-256. */
export type HashFile = (absPath: string, signal?: AbortSignal) => Promise<{ sha256: string; sizeBytes: number }>;

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
  /** Called when the backpressure state flips (for a reported property). */
  readonly onBackpressure?: (active: boolean) => void;
}

/** Outcome of one `completed` message, for the log and the tests. */
export type CompletionResult = 'completed' | 'deadLettered' | 'waiting' | 'duplicate' | 'alreadyFinal' | 'unknownId' | 'deferred' | 'deferralIgnored';

/** Bounds on a deferral's retryAfterMs, whatever the sender asked for. */
const MIN_RETRY_AFTER_MS = 1_000;
const MAX_RETRY_AFTER_MS = 3_600_000;

export interface ScanSummary {
  readonly files: number;
  readonly refused: number;
  readonly vanished: number;
  readonly problems: readonly string[];
  readonly durationMs: number;
  readonly at: string;
}

interface Candidate {
  readonly rel: string;
  /** From the inventory walk, so it is not stat'ed twice. */
  readonly entry?: EntryClass;
}

/** Batch size for ledger transactions and emission rounds. */
const BATCH = 256;
/** Ticks start at most this often, however many events arrive. */
const MIN_TICK_SPACING_MS = 50;
const STAT_CONCURRENCY = 32;
const SEND_CONCURRENCY = 16;
const READ_RETRY = { initialDelayMs: 500, maxDelayMs: 60_000, jitterRatio: 0 } as const;
const SEND_RETRY = { initialDelayMs: 200, maxDelayMs: 30_000 } as const;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const READ_ERRORS_FINAL = new Set(['ENOENT', 'ENOTDIR']);

export class Reconciler {
  readonly #o: ReconcilerOptions;
  readonly #log: Logger;
  readonly #limiter = createRepeatLimiter(60_000);
  #config: WatcherConfig;
  #filter: PathFilter;
  readonly #tracker: StabilityTracker;
  /** rel → when it is next checked (unstable candidates only). */
  readonly #nextCheck = new Map<string, number>();
  readonly #hints = new Set<string>();
  readonly #readFailures = new Map<string, { count: number; retryAt: number }>();
  /** Paths with a file operation under way (move, delete, dead letter). */
  readonly #busy = new Set<string>();
  readonly #sending = new Set<string>();
  /** Refused entries that could not be moved away: reported once, not on every walk. */
  readonly #stuck = new Set<string>();
  #inventoryRequested = true;
  #nextInventoryAt = 0;
  #sendBlockedUntil = 0;
  #sendFailures = 0;
  #backpressure = false;
  readonly #inboxReal: string;
  #lastScan: ScanSummary | undefined;
  #scanWaiters: { resolve: (s: ScanSummary) => void; reject: (err: unknown) => void }[] = [];
  #hashing = 0;
  #wake: (() => void) | undefined;
  #wakePending = false;
  #loop: Promise<void> | undefined;
  readonly #stop = new AbortController();
  readonly #ops = new Set<Promise<unknown>>();
  readonly #acks: { msg: CompletionMessage; resolve: (r: CompletionResult) => void; reject: (err: unknown) => void }[] = [];

  constructor(options: ReconcilerOptions) {
    this.#o = options;
    this.#log = options.logger;
    this.#config = options.config;
    this.#inboxReal = options.inboxReal;
    this.#filter = createPathFilter(options.config);
    this.#tracker = new StabilityTracker({ windowMs: options.config.stabilityWindowMs, checks: options.config.stabilityChecks }, options.config.maxTrackedFiles);
  }

  /** Applies a new configuration at once; patterns take effect on a fresh inventory. */
  configure(config: WatcherConfig): void {
    const filter = createPathFilter(config);
    this.#config = config;
    this.#filter = filter;
    this.#tracker.setOptions({ windowMs: config.stabilityWindowMs, checks: config.stabilityChecks });
    this.requestInventory();
  }

  /** A path changed (from events or a share notification): check it soon. */
  hint(absPath: string): void {
    const inbox = this.#inboxReal;
    if (!isWithin(inbox, absPath) || absPath === inbox) return;
    this.#hints.add(relativePosix(inbox, absPath));
    this.#wakeUp();
  }

  requestInventory(): void {
    this.#inventoryRequested = true;
    this.#wakeUp();
  }

  /** Runs an inventory now (or joins the next one) and resolves with its summary. */
  rescan(): Promise<ScanSummary> {
    if (this.#stop.signal.aborted) return Promise.reject(new EdgeMLError('ABORTED', 'the watcher is stopping'));
    return new Promise((resolve, reject) => {
      this.#scanWaiters.push({ resolve, reject });
      this.requestInventory();
    });
  }

  get lastScan(): ScanSummary | undefined {
    return this.#lastScan;
  }

  get inboxReal(): string {
    return this.#inboxReal;
  }

  start(): void {
    this.#loop ??= this.#run(this.#stop.signal);
  }

  /** Stops the loop and waits (until `signal` aborts) for operations under way. Idempotent. */
  async stop(signal: AbortSignal): Promise<void> {
    this.#stop.abort();
    this.#wakeUp();
    for (const w of this.#scanWaiters.splice(0)) w.reject(new EdgeMLError('ABORTED', 'the watcher is stopping'));
    const deadline = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([Promise.allSettled([this.#loop ?? Promise.resolve(), ...this.#ops]), deadline]);
  }

  #abs(rel: string): string {
    return path.join(this.#inboxReal, ...rel.split('/'));
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

  #tickDelayMs(): number {
    return Math.min(1_000, checkIntervalMs({ windowMs: this.#config.stabilityWindowMs, checks: this.#config.stabilityChecks }, 20));
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const started = performance.now();
      try {
        await this.tick(signal);
      } catch (err: unknown) {
        this.#logLimited('tick', 'error', { err }, `reconcile tick failed: ${errorMessage(err)}`);
      }
      await this.#sleep(this.#tickDelayMs(), signal);
      // Coalesce bursts: a burst of events becomes a few batches, each costing a few ledger commits
      // (an fsync each: ~6 ms on the dev VM's disk), instead of a tick and its commits per file.
      const since = performance.now() - started;
      if (since < MIN_TICK_SPACING_MS) await sleep(MIN_TICK_SPACING_MS - since, signal).catch(() => undefined);
    }
  }

  /** One round of work. Public for tests that drive the reconciler step by step. */
  async tick(signal: AbortSignal = this.#stop.signal): Promise<void> {
    const now = this.#o.now();
    if (this.#inventoryRequested || now >= this.#nextInventoryAt) {
      this.#inventoryRequested = false;
      const waiters = this.#scanWaiters;
      this.#scanWaiters = [];
      const summary = await this.#inventory(signal);
      this.#nextInventoryAt = this.#o.now() + this.#config.inventoryIntervalMs;
      for (const w of waiters) w.resolve(summary);
    }
    const due = new Set<string>(this.#hints);
    this.#hints.clear();
    const t = this.#o.now();
    for (const [rel, at] of this.#nextCheck) if (at <= t) due.add(rel);
    await this.#examine([...due].map((rel) => ({ rel })), signal);
    await this.#handleTimeouts();
    await this.#pump();
    this.#updateGauges();
  }

  // ---- inventory -------------------------------------------------------------------------

  async #inventory(signal: AbortSignal): Promise<ScanSummary> {
    const inbox = this.#inboxReal;
    const started = this.#o.now();
    const endTimer = this.#o.metrics.inventoryDuration.startTimer();
    // Snapshot before the walk: a path recorded during the walk is not mistaken for a vanished one.
    const known = this.#o.ledger.allPaths();
    const walk = await walkInbox(inbox, signal);
    const seen = new Set<string>();
    const candidates: Candidate[] = [];
    let files = 0;
    let refused = 0;
    for (const { rel, entry } of walk.entries) {
      seen.add(rel);
      if (entry.type === 'file') files++;
      if (entry.type === 'refused') refused++;
      candidates.push({ rel, entry });
    }
    await this.#examine(candidates, signal, known);
    let vanished = 0;
    if (walk.rootUnreadable) {
      // An unmounted or unreachable share looks empty: never take that for every file vanishing.
      this.#logLimited('inbox-unreadable', 'warn', { problems: walk.problems }, 'the inbox cannot be read; inventory skipped');
    } else if (!signal.aborted) {
      const gone = [...known.keys()].filter((rel) => !seen.has(rel) && !this.#busy.has(rel));
      vanished = gone.length;
      // One commit for all of them: a user clearing thousands of kept files must not cost an fsync each.
      this.#o.ledger.batch(() => {
        for (const rel of gone) this.#pathVanished(rel);
      });
      for (const rel of [...this.#tracker.keys()]) {
        if (!seen.has(rel) && !this.#hints.has(rel)) this.#forgetCandidate(rel);
      }
    }
    const pruned = this.#o.ledger.prune(this.#o.now() - this.#config.ledgerRetentionMs);
    if (pruned > 0) this.#log.info({ pruned, ledgerRetentionMs: this.#config.ledgerRetentionMs }, 'finished items past their retention forgotten');
    for (const p of walk.problems) this.#logLimited(`walk:${p}`, 'warn', { problem: p }, 'inventory could not read part of the inbox');
    endTimer();
    this.#o.metrics.inventoryFiles.set(files);
    const summary: ScanSummary = { files, refused, vanished, problems: walk.problems.slice(0, 20), durationMs: this.#o.now() - started, at: new Date(started).toISOString() };
    this.#lastScan = summary;
    this.#log.debug({ ...summary }, 'inventory done');
    return summary;
  }

  #pathVanished(rel: string): void {
    const row = this.#o.ledger.getPath(rel);
    this.#o.ledger.forgetPath(rel);
    this.#forgetCandidate(rel);
    if (row === undefined) return;
    const item = this.#o.ledger.getItem(row.id);
    if (item === undefined || item.state !== 'pending') return;
    const other = this.#o.ledger.pathsForId(row.id)[0];
    if (other !== undefined) this.#o.ledger.moveItem(row.id, other);
    else {
      this.#o.ledger.markGone(row.id, this.#o.now());
      this.#log.info({ id: row.id, path: rel }, 'file vanished before it was emitted');
    }
  }

  #forgetCandidate(rel: string): void {
    this.#tracker.forget(rel);
    this.#nextCheck.delete(rel);
    this.#readFailures.delete(rel);
  }

  // ---- per-path examination ----------------------------------------------------------------

  async #examine(candidates: readonly Candidate[], signal: AbortSignal, known?: Map<string, PathRecord>): Promise<void> {
    // Real paths of parent directories, resolved once per round rather than once per file.
    const parents = new Map<string, Promise<string | undefined>>();
    for (let i = 0; i < candidates.length && !signal.aborted; i += BATCH) {
      const chunk = candidates.slice(i, i + BATCH);
      const toHash = (await mapLimit(chunk, STAT_CONCURRENCY, (c) => this.#classify(c, known, parents))).filter((x) => x !== undefined);
      if (toHash.length === 0) continue;
      const hashed = (await mapLimit(toHash, this.#config.hashConcurrency, (c) => this.#hash(c, signal))).filter((x) => x !== undefined);
      if (hashed.length > 0) await this.#record(hashed);
      // Emit between chunks so a large initial scan starts flowing before it ends.
      await this.#pump();
    }
  }

  /** Returns the candidate when it is stable and must be hashed. */
  async #classify(c: Candidate, known: Map<string, PathRecord> | undefined, parents: Map<string, Promise<string | undefined>>): Promise<{ rel: string; sizeBytes: number; mtimeMs: number; firstSeenAt: number } | undefined> {
    const { rel } = c;
    if (this.#busy.has(rel)) return undefined;
    const verdict = this.#filter(rel);
    if (!verdict.accepted) {
      this.#forgetCandidate(rel);
      // A marker appearing is the moment its file becomes eligible.
      if (verdict.reason === 'marker') {
        this.#hints.add(rel.slice(0, rel.length - this.#config.markerSuffix.length));
        this.#wakeUp();
      }
      return undefined;
    }
    const inbox = this.#inboxReal;
    const abs = this.#abs(rel);
    let entry: EntryClass;
    try {
      // A hinted path may sit below a symlinked directory that leads out of the inbox (the walk
      // never descends into one). Such a file is not ours: refuse it without touching it.
      if (c.entry === undefined && rel.includes('/')) {
        const dir = path.dirname(abs);
        let resolved = parents.get(dir);
        if (resolved === undefined) {
          resolved = realpath(dir).catch(() => undefined);
          parents.set(dir, resolved);
        }
        const parent = await resolved;
        if (parent === undefined) {
          this.#forgetCandidate(rel);
          return undefined;
        }
        if (!isWithin(inbox, parent)) {
          this.#forgetCandidate(rel);
          this.#o.metrics.refused.inc({ code: 'PATH_OUTSIDE_ROOT' });
          this.#logLimited(`escape:${rel}`, 'warn', { path: rel, resolvesTo: parent }, 'path leads out of the inbox through a symlinked directory; refused and left alone');
          return undefined;
        }
      }
      entry = c.entry ?? (await classifyEntry(inbox, abs));
    } catch (err: unknown) {
      this.#logLimited(`stat:${rel}`, 'warn', { err, path: rel }, 'cannot stat an inbox entry; will retry');
      return undefined;
    }
    if (entry.type === 'missing') {
      if (this.#o.ledger.getPath(rel) !== undefined) this.#pathVanished(rel);
      else this.#forgetCandidate(rel);
      return undefined;
    }
    if (entry.type === 'directory') return undefined;
    if (entry.type === 'refused') {
      this.#forgetCandidate(rel);
      await this.#refuse(rel, abs, entry.code, entry.reason);
      return undefined;
    }
    const row = known !== undefined ? known.get(rel) : this.#o.ledger.getPath(rel);
    if (row !== undefined && row.sizeBytes === entry.sizeBytes && row.mtimeMs === entry.mtimeMs) {
      this.#forgetCandidate(rel);
      // Most known paths need nothing (in flight, or completed and kept): skip the item lookup.
      const idle = row.state === 'pending' || row.state === 'emitted' || (row.state === 'completed' && this.#config.afterCompletion === 'keep');
      if (!idle) await this.#knownPath(rel, row.id);
      return undefined;
    }
    const now = this.#o.now();
    const failure = this.#readFailures.get(rel);
    if (failure !== undefined && failure.retryAt > now) {
      this.#nextCheck.set(rel, failure.retryAt);
      return undefined;
    }
    const obs = this.#tracker.observe(rel, { sizeBytes: entry.sizeBytes, mtimeMs: entry.mtimeMs }, now);
    if ('tracked' in obs) {
      this.#logLimited('tracker-full', 'warn', { maxTrackedFiles: this.#config.maxTrackedFiles }, 'too many unstable files tracked; the rest wait for a later inventory');
      return undefined;
    }
    if (this.#config.markerMode) {
      this.#nextCheck.delete(rel);
      if (!(await this.#markerExists(abs))) return undefined;
      return { rel, sizeBytes: entry.sizeBytes, mtimeMs: entry.mtimeMs, firstSeenAt: obs.firstSeenAt };
    }
    if (!obs.stable) {
      this.#nextCheck.set(rel, now + checkIntervalMs({ windowMs: this.#config.stabilityWindowMs, checks: this.#config.stabilityChecks }, 20));
      return undefined;
    }
    this.#nextCheck.delete(rel);
    return { rel, sizeBytes: entry.sizeBytes, mtimeMs: entry.mtimeMs, firstSeenAt: obs.firstSeenAt };
  }

  async #markerExists(abs: string): Promise<boolean> {
    try {
      return (await lstat(abs + this.#config.markerSuffix)).isFile();
    } catch {
      // Absent (or unreadable, which for a marker means the same): not yet.
      return false;
    }
  }

  async #hash(c: { rel: string; sizeBytes: number; mtimeMs: number; firstSeenAt: number }, signal: AbortSignal): Promise<StableFile | undefined> {
    const abs = this.#abs(c.rel);
    this.#hashing++;
    try {
      const { sha256, sizeBytes } = await this.#o.hashFile(abs, signal);
      // The file must not have changed while it was read: same size and mtime as when it was judged stable.
      const after = await lstat(abs);
      if (!after.isFile() || after.size !== c.sizeBytes || after.mtimeMs !== c.mtimeMs || sizeBytes !== c.sizeBytes) {
        this.#tracker.reset(c.rel);
        this.#nextCheck.set(c.rel, this.#o.now());
        return undefined;
      }
      this.#readFailures.delete(c.rel);
      return { path: c.rel, sizeBytes, mtimeMs: c.mtimeMs, id: sha256, detectedAt: c.firstSeenAt, stableAt: this.#o.now() };
    } catch (err: unknown) {
      if (signal.aborted) return undefined;
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== undefined && READ_ERRORS_FINAL.has(code)) {
        this.#forgetCandidate(c.rel);
        return undefined;
      }
      const failures = (this.#readFailures.get(c.rel)?.count ?? 0) + 1;
      if (failures >= this.#config.maxReadAttempts) {
        this.#forgetCandidate(c.rel);
        await this.#deadLetterPath(c.rel, 'FILE_UNREADABLE', [{ code: 'FILE_UNREADABLE', reason: `unreadable after ${failures} attempts: ${errorMessage(err)}` }]);
        return undefined;
      }
      const retryAt = this.#o.now() + backoffDelayMs(failures, READ_RETRY);
      this.#readFailures.set(c.rel, { count: failures, retryAt });
      this.#tracker.reset(c.rel);
      this.#nextCheck.set(c.rel, retryAt);
      this.#log.warn({ err, path: c.rel, failures, maxReadAttempts: this.#config.maxReadAttempts }, 'cannot read a stable file; will retry');
      return undefined;
    } finally {
      this.#hashing--;
    }
  }

  async #record(files: StableFile[]): Promise<void> {
    const outcomes = this.#o.ledger.recordStable(files, this.#o.now());
    for (const [i, r] of outcomes.entries()) {
      const f = files[i]!;
      this.#forgetCandidate(f.path);
      if (r.outcome === 'known') {
        if (isTerminal(r.item.state)) await this.#knownPath(f.path, r.item.id);
        else if (r.item.path !== f.path) this.#log.info({ id: r.item.id, path: f.path, firstPath: r.item.path }, 'same content already in the ledger under another path; not emitted again');
        continue;
      }
      this.#o.metrics.detected.inc({ kind: kindOf(f.path) });
      this.#log.debug({ id: r.item.id, path: f.path, outcome: r.outcome }, 'stable file recorded');
    }
  }

  /** A path whose content the ledger knows: finish what its item's final state asks for. */
  async #knownPath(rel: string, id: string): Promise<void> {
    const item = this.#o.ledger.getItem(id);
    if (item === undefined) {
      this.#o.ledger.forgetPath(rel);
      return;
    }
    if (item.state === 'completed') await this.#afterCompletion(item, [rel]);
    else if (item.state === 'deadLettered') await this.#deadLetterItemFiles(item, [rel]);
    else if (item.state === 'gone') {
      const st = await lstat(this.#abs(rel)).catch(() => undefined);
      if (st?.isFile() !== true) return;
      this.#o.ledger.recordStable([{ path: rel, sizeBytes: st.size, mtimeMs: st.mtimeMs, id, detectedAt: item.detectedAt, stableAt: this.#o.now() }], this.#o.now());
    }
  }

  // ---- emission ------------------------------------------------------------------------------

  async #pump(): Promise<void> {
    const ledger = this.#o.ledger;
    for (let round = 0; round < 1_000; round++) {
      if (this.#stop.signal.aborted) return;
      const now = this.#o.now();
      if (now < this.#sendBlockedUntil) return;
      const unsent = ledger.unsent(BATCH).filter((i) => !this.#sending.has(i.id));
      const slots = this.#config.maxInFlight - ledger.inFlight();
      const fresh = slots > 0 ? ledger.takeForEmission(Math.min(slots, BATCH), now) : [];
      this.#setBackpressure(slots <= 0 && ledger.pendingCount() > 0);
      const batch = [...unsent, ...fresh];
      if (batch.length === 0) return;
      const sent: string[] = [];
      let failed = false;
      await mapLimit(batch, SEND_CONCURRENCY, async (item) => {
        if (failed) return;
        const ok = await this.#send(item);
        if (ok === 'sent') sent.push(item.id);
        else if (ok === 'failed') failed = true;
      });
      if (sent.length > 0) ledger.markSent(sent);
      if (failed || fresh.length < BATCH) return;
    }
  }

  async #send(item: ItemRecord): Promise<'sent' | 'failed' | 'skipped'> {
    const ledger = this.#o.ledger;
    // The path may hold other content by now (overwritten) or be gone: follow the content or let it go.
    const row = ledger.getPath(item.path);
    let current = item;
    if (row === undefined || row.id !== item.id) {
      const other = ledger.pathsForId(item.id)[0];
      if (other === undefined) {
        ledger.markGone(item.id, this.#o.now());
        this.#log.warn({ id: item.id, path: item.path }, 'file vanished or was overwritten before its emission; not emitted');
        return 'skipped';
      }
      ledger.moveItem(item.id, other);
      current = { ...item, path: other.path, sizeBytes: other.sizeBytes, mtimeMs: other.mtimeMs };
    }
    const now = this.#o.now();
    const { body, properties } = buildFileMessage({ ...current, doneParts: uploadedParts(current.acks) }, now, relativePosix(this.#o.paths.share, this.#o.paths.inbox));
    this.#sending.add(item.id);
    try {
      await this.#o.edge.sendOutput('files', { body, properties, messageId: body.messageId });
      this.#sendFailures = 0;
      // A deferred item offered again keeps its attempt number; only its first sending is 'first'.
      const first = body.attempt === 1 && item.deferrals === 0;
      this.#o.metrics.emitted.inc({ attempt: first ? 'first' : 'retry' });
      if (first) this.#o.metrics.detectionLatency.observe(Math.max(0, now - current.mtimeMs) / 1000);
      this.#log.debug({ id: item.id, path: current.path, attempt: body.attempt }, 'file emitted');
      return 'sent';
    } catch (err: unknown) {
      this.#sendFailures++;
      const delay = backoffDelayMs(this.#sendFailures, SEND_RETRY);
      this.#sendBlockedUntil = this.#o.now() + delay;
      this.#logLimited('send', 'warn', { err, id: item.id, retryInMs: delay }, `could not send a files message (${errorCode(err)}); will retry`);
      return 'failed';
    } finally {
      this.#sending.delete(item.id);
    }
  }

  #setBackpressure(active: boolean): void {
    if (active === this.#backpressure) return;
    this.#backpressure = active;
    this.#o.metrics.backpressure.set(active ? 1 : 0);
    if (active) this.#log.warn({ maxInFlight: this.#config.maxInFlight, pending: this.#o.ledger.pendingCount() }, 'maxInFlight reached; stable files wait for completions');
    else this.#log.info('backpressure released');
    this.#o.onBackpressure?.(active);
  }

  // ---- completion timeouts --------------------------------------------------------------------

  async #handleTimeouts(): Promise<void> {
    const now = this.#o.now();
    const due = this.#o.ledger.dueForTimeout(now - this.#config.completionTimeoutMs, now, BATCH);
    for (const item of due) {
      if (this.#stop.signal.aborted) return;
      if (item.retryAt !== null) {
        this.#o.ledger.markRetry(item.id, now);
        this.#log.info({ id: item.id, path: item.path, deferrals: item.deferrals, deferredBy: item.deferral }, 'offering a deferred file again');
      } else if (item.attempts < this.#config.maxAttempts) {
        this.#o.ledger.markReemit(item.id, now);
        this.#log.info({ id: item.id, path: item.path, attempt: item.attempts + 1, missing: this.#missingParts(item) }, 'no completion in time; re-emitting');
      } else {
        const missing = this.#missingParts(item);
        const reason = `not completed within ${this.#config.completionTimeoutMs} ms after ${item.attempts} attempt(s)${missing.length > 0 ? `; parts never acknowledged: ${missing.join(', ')}` : ''}`;
        const dead = this.#o.ledger.markDeadLettered(item.id, [{ code: 'TIMEOUT', reason }], now);
        await this.#deadLetterItem(dead);
      }
    }
  }

  #missingParts(item: ItemRecord): string[] {
    const uploaded = new Set(uploadedParts(item.acks));
    return item.expectedParts.filter((p) => !uploaded.has(p));
  }

  // ---- completions ---------------------------------------------------------------------------

  /**
   * Records one part's acknowledgement and finishes the source when that completes it. Resolves
   * once the acknowledgement is committed and what it asks for is done. Acknowledgements arriving
   * together (MQTT delivers several per socket read) share one transaction: one fsync, not one each.
   */
  handleCompletion(msg: CompletionMessage): Promise<CompletionResult> {
    const op = new Promise<CompletionResult>((resolve, reject) => {
      this.#acks.push({ msg, resolve, reject });
      if (this.#acks.length === 1) setImmediate(() => void this.#flushAcks());
    });
    this.#ops.add(op);
    void op.then(
      () => this.#ops.delete(op),
      () => this.#ops.delete(op),
    );
    return op;
  }

  async #flushAcks(): Promise<void> {
    const batch = this.#acks.splice(0);
    if (batch.length === 0) return;
    let results: AckResult[];
    try {
      const at = this.#o.now();
      results = this.#o.ledger.batch(() =>
        batch.map(({ msg }) =>
          this.#o.ledger.applyAck(
            msg.id,
            {
              part: msg.part,
              outcome: msg.outcome,
              module: msg.module,
              at,
              ...(msg.code === undefined ? {} : { code: msg.code }),
              ...(msg.reason === undefined ? {} : { reason: msg.reason }),
            },
            msg.expectedParts,
            msg.retryAfterMs === undefined ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, msg.retryAfterMs)),
          ),
        ),
      );
    } catch (err: unknown) {
      for (const b of batch) b.reject(err);
      return;
    }
    for (const [i, r] of results.entries()) {
      const b = batch[i]!;
      try {
        b.resolve(await this.#afterAck(r));
      } catch (err: unknown) {
        b.reject(err);
      }
    }
  }

  async #afterAck(r: AckResult): Promise<CompletionResult> {
    if (r.result === 'unknown') return 'unknownId';
    if (r.result === 'alreadyFinal') return 'alreadyFinal';
    if (r.result === 'deferralIgnored') return 'deferralIgnored';
    if (r.result === 'deferred') {
      const d = r.item.deferral;
      this.#o.metrics.deferred.inc({ code: d?.code ?? 'INTERNAL' });
      this.#logLimited(`deferred:${d?.module}:${d?.code}`, 'warn', { id: r.item.id, path: r.item.path, part: d?.part, module: d?.module, code: d?.code, reason: d?.reason, retryInMs: r.retryAt - this.#o.now() }, `${d?.module ?? 'a module'} deferred a part (${d?.code}); the file stays and is offered again`);
      return 'deferred';
    }
    const { merge, item } = r;
    if (merge.verdict === 'completed') {
      this.#o.metrics.completed.inc();
      this.#log.info({ id: item.id, path: item.path, parts: merge.expectedParts, attempts: item.attempts }, 'source completed');
      await this.#afterCompletion(item);
      this.#wakeUp();
      return 'completed';
    }
    if (merge.verdict === 'deadLettered') {
      await this.#deadLetterItem(item);
      this.#wakeUp();
      return 'deadLettered';
    }
    return merge.verdict;
  }

  async #withPathLock(rel: string, fn: () => Promise<void>): Promise<void> {
    if (this.#busy.has(rel)) return;
    this.#busy.add(rel);
    try {
      await fn();
    } finally {
      this.#busy.delete(rel);
    }
  }

  /** Paths of the item that still hold its content (size and mtime as recorded). */
  async #matchingPaths(item: ItemRecord, only?: readonly string[]): Promise<PathRecord[]> {
    const rows = this.#o.ledger.pathsForId(item.id).filter((r) => only === undefined || only.includes(r.path));
    const out: PathRecord[] = [];
    for (const row of rows) {
      const st = await lstat(this.#abs(row.path)).catch(() => undefined);
      if (st?.isFile() === true && st.size === row.sizeBytes && st.mtimeMs === row.mtimeMs) out.push(row);
      else this.#o.ledger.forgetPath(row.path);
    }
    return out;
  }

  async #afterCompletion(item: ItemRecord, only?: readonly string[]): Promise<void> {
    const action = this.#config.afterCompletion;
    if (action === 'keep') return;
    for (const row of await this.#matchingPaths(item, only)) {
      await this.#withPathLock(row.path, async () => {
        const abs = this.#abs(row.path);
        const marker = abs + this.#config.markerSuffix;
        try {
          if (action === 'move') {
            const dest = await moveToProcessed(this.#o.paths.processed, row.path, abs);
            if (this.#config.markerMode) await moveFile(marker, dest + this.#config.markerSuffix).catch(() => undefined);
          } else {
            await rm(abs, { force: true });
            if (this.#config.markerMode) await rm(marker, { force: true });
          }
          this.#o.ledger.forgetPath(row.path);
        } catch (err: unknown) {
          this.#logLimited(`after:${row.path}`, 'warn', { err, path: row.path, action }, 'after-completion action failed; retried on the next inventory');
        }
      });
    }
  }

  /** Dead-letters a source: an alert, then every inbox path holding it to failed/ with the reasons. */
  async #deadLetterItem(item: ItemRecord): Promise<void> {
    const code = item.reasons[0]?.code ?? 'INTERNAL';
    this.#o.metrics.deadLettered.inc({ code });
    this.#log.warn({ id: item.id, path: item.path, reasons: item.reasons, attempts: item.attempts }, 'source dead-lettered');
    await sendAlert(
      this.#o.edge,
      this.#log,
      {
        severity: 'error',
        code,
        message: `input ${item.path} dead-lettered: ${item.reasons.map((r) => `${r.part ?? 'source'}: ${r.code} ${r.reason}`).join('; ')}`.slice(0, 4_000),
        id: item.id,
        details: { path: item.path, attempts: item.attempts, reasons: item.reasons.slice(0, 16) },
      },
      () => new Date(this.#o.now()),
    );
    await this.#deadLetterItemFiles(item);
  }

  async #deadLetterItemFiles(item: ItemRecord, only?: readonly string[]): Promise<void> {
    const rows = await this.#matchingPaths(item, only);
    const doc = (rel: string): DeadLetterDocument => ({
      code: item.reasons[0]?.code ?? 'INTERNAL',
      reasons: item.reasons,
      source: `${relativePosix(this.#o.paths.share, this.#o.paths.inbox)}/${rel}`,
      id: item.id,
      attempts: item.attempts,
      detectedAt: new Date(item.detectedAt).toISOString(),
      deadLetteredAt: new Date(this.#o.now()).toISOString(),
    });
    if (rows.length === 0 && only === undefined) {
      // The input is gone from the inbox; the evidence still goes to failed/.
      await deadLetterFile(this.#o.paths.failed, item.path, undefined, doc(item.path)).catch((err: unknown) =>
        this.#logLimited(`dead:${item.path}`, 'error', { err, path: item.path }, 'could not write a dead-letter record'),
      );
      return;
    }
    for (const row of rows) {
      await this.#withPathLock(row.path, async () => {
        const abs = this.#abs(row.path);
        try {
          const dest = await deadLetterFile(this.#o.paths.failed, row.path, abs, doc(row.path));
          if (this.#config.markerMode) await moveFile(abs + this.#config.markerSuffix, dest + this.#config.markerSuffix).catch(() => undefined);
          this.#o.ledger.forgetPath(row.path);
        } catch (err: unknown) {
          this.#logLimited(`dead:${row.path}`, 'error', { err, path: row.path }, 'could not move a dead-lettered input to failed/; retried on the next inventory');
        }
      });
    }
  }

  /** Dead-letters an inbox entry that never became an item (unreadable). */
  async #deadLetterPath(rel: string, code: ErrorCode, reasons: DeadLetterReason[]): Promise<void> {
    await this.#withPathLock(rel, async () => {
      const abs = this.#abs(rel);
      try {
        await deadLetterFile(this.#o.paths.failed, rel, abs, {
          code,
          reasons,
          source: `${relativePosix(this.#o.paths.share, this.#o.paths.inbox)}/${rel}`,
          deadLetteredAt: new Date(this.#o.now()).toISOString(),
        });
      } catch (err: unknown) {
        this.#logLimited(`dead:${rel}`, 'error', { err, path: rel }, 'could not move an input to failed/');
        return;
      }
      this.#o.metrics.deadLettered.inc({ code });
      this.#log.warn({ path: rel, code, reasons }, 'input dead-lettered');
      await sendAlert(this.#o.edge, this.#log, { severity: 'error', code, message: `input ${rel} dead-lettered: ${reasons.map((r) => r.reason).join('; ')}`, details: { path: rel } }, () => new Date(this.#o.now()));
    });
  }

  /** Symlinks, devices and escapes: never followed, moved to failed/ with the reason. */
  async #refuse(rel: string, abs: string, code: 'PATH_OUTSIDE_ROOT' | 'FILE_NOT_REGULAR', reason: string): Promise<void> {
    if (this.#stuck.has(rel)) return;
    await this.#withPathLock(rel, async () => {
      this.#o.metrics.refused.inc({ code });
      this.#log.warn({ path: rel, code, reason }, 'inbox entry refused');
      try {
        await deadLetterFile(this.#o.paths.failed, rel, abs, {
          code,
          reasons: [{ code, reason }],
          source: `${relativePosix(this.#o.paths.share, this.#o.paths.inbox)}/${rel}`,
          deadLetteredAt: new Date(this.#o.now()).toISOString(),
        });
      } catch (err: unknown) {
        this.#stuck.add(rel);
        if (this.#stuck.size > 10_000) this.#stuck.clear();
        this.#log.error({ err, path: rel }, 'could not move a refused entry to failed/; it stays and is ignored until restart');
      }
      await sendAlert(this.#o.edge, this.#log, { severity: 'warning', code, message: `inbox entry ${rel} refused: ${reason}`, details: { path: rel } }, () => new Date(this.#o.now()));
    });
  }

  // ---- status --------------------------------------------------------------------------------

  #updateGauges(): void {
    const pending = this.#o.ledger.pendingCount();
    this.#o.metrics.backlog.set({ stage: 'unstable' }, this.#tracker.size);
    this.#o.metrics.backlog.set({ stage: 'hashing' }, this.#hashing);
    this.#o.metrics.backlog.set({ stage: 'pending' }, pending);
    this.#o.metrics.inFlight.set(this.#o.ledger.inFlight());
  }

  /** Small and JSON-safe: for getStatus and the `status` reported property. */
  status(): Record<string, unknown> {
    const counts = this.#o.ledger.counts();
    return {
      // The summary the local runtime and operators read: every identified file is in exactly one of
      // pending / inFlight / completed / deadLettered / gone; `waiting` are files not yet stable or unreadable;
      // `deferred` is the part of inFlight that a module asked to offer again later (quota or queue full).
      counts: {
        detected: counts.pending + counts.emitted + counts.completed + counts.deadLettered + counts.gone,
        pending: counts.pending,
        inFlight: counts.emitted,
        deferred: this.#o.ledger.deferredCount(),
        completed: counts.completed,
        deadLettered: counts.deadLettered,
        gone: counts.gone,
        waiting: this.#tracker.size + this.#readFailures.size,
      },
      initialScanDone: this.#lastScan !== undefined,
      inbox: this.#o.paths.inbox,
      items: counts,
      inFlight: counts.emitted,
      maxInFlight: this.#config.maxInFlight,
      backpressure: this.#backpressure,
      unstable: this.#tracker.size,
      trackerRefused: this.#tracker.refused,
      unreadable: this.#readFailures.size,
      lastInventory: this.#lastScan === undefined ? null : { at: this.#lastScan.at, files: this.#lastScan.files, durationMs: this.#lastScan.durationMs, refused: this.#lastScan.refused },
    };
  }

  #logLimited(key: string, level: 'warn' | 'error', obj: Record<string, unknown>, msg: string): void {
    const { log, suppressed } = this.#limiter(key);
    if (log) this.#log[level]({ ...obj, ...(suppressed > 0 ? { suppressed } : {}) }, msg);
  }
}

