/**
 * From inbox paths to ledger items: each candidate is filtered (globs, temp names, markers),
 * checked for containment and type, judged for stability, hashed when stable, and recorded in the
 * ledger in batches. Paths the ledger already knows with the same size and mtime are not hashed
 * again; what their item's final state asks for (after completion, dead letter) is done instead.
 */
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { backoffDelayMs, errorMessage, isWithin, type Logger } from '@edgeml/shared';
import { Candidates } from './candidates.js';
import type { WatcherConfig } from './config.js';
import type { Dispositions } from './dispositions.js';
import type { HashFile } from './hash-file.js';
import { HashSlots } from './hash-slots.js';
import { absoluteIn, classifyEntry, type EntryClass } from './inventory.js';
import { isTerminal } from './item-state.js';
import { kindOf } from './kinds.js';
import type { Ledger, PathRecord, StableFile } from './ledger.js';
import type { LimitedLog } from './limited-log.js';
import { mapLimit } from './map-limit.js';
import type { WatcherMetrics } from './metrics.js';
import { createPathFilter, type PathFilter } from './patterns.js';

export interface IntakeOptions {
  /** The inbox's real path (symlinks resolved): containment is judged against it. */
  readonly inboxReal: string;
  readonly ledger: Ledger;
  readonly dispositions: Dispositions;
  readonly log: Logger;
  readonly limited: LimitedLog;
  readonly metrics: WatcherMetrics;
  readonly now: () => number;
  readonly hashFile: HashFile;
  readonly config: WatcherConfig;
  /** Something new is ready (a marker appeared): run the loop soon. */
  readonly wake: () => void;
  /** Called after each recorded batch, so a large scan starts flowing before it ends. */
  readonly afterBatch: () => Promise<void>;
}

/** A path to examine; `entry` comes from the inventory walk so it is not stat'ed twice. */
export interface Candidate {
  readonly rel: string;
  readonly entry?: EntryClass;
}

interface StableCandidate {
  readonly rel: string;
  readonly sizeBytes: number;
  readonly mtimeMs: number;
  readonly firstSeenAt: number;
  /** When its size and mtime were first seen as they are (for an early hash's validity). */
  readonly unchangedSinceAt: number;
  /** Not stable yet: hashed ahead of its last check (kept by `candidates`, not recorded). */
  readonly early: boolean;
}

/** Batch size for ledger transactions. */
const BATCH = 256;
const STAT_CONCURRENCY = 32;
const READ_RETRY = { initialDelayMs: 500, maxDelayMs: 60_000, jitterRatio: 0 } as const;

export class Intake {
  readonly #o: IntakeOptions;
  #config: WatcherConfig;
  #filter: PathFilter;
  readonly candidates: Candidates;
  readonly #slots: HashSlots;

  constructor(options: IntakeOptions) {
    this.#o = options;
    this.#config = options.config;
    this.#filter = createPathFilter(options.config);
    this.candidates = new Candidates({ windowMs: options.config.stabilityWindowMs, checks: options.config.stabilityChecks }, options.config.maxTrackedFiles);
    this.#slots = new HashSlots(options.config.hashConcurrency);
  }

  configure(config: WatcherConfig): void {
    this.#filter = createPathFilter(config);
    this.#config = config;
    this.#slots.setLimit(config.hashConcurrency);
    this.candidates.setOptions({ windowMs: config.stabilityWindowMs, checks: config.stabilityChecks });
  }

  /** Files being hashed now (stable and early reads). */
  get hashing(): number {
    return this.#slots.busy;
  }

  /**
   * Examines candidates in batches: classify, hash the stable ones, record them. `known` is the
   * persisted inventory read before a walk (so it is not queried once per path).
   */
  async examine(candidates: readonly Candidate[], signal: AbortSignal, known?: Map<string, PathRecord>): Promise<void> {
    // Real paths of parent directories, resolved once per round rather than once per file.
    const parents = new Map<string, Promise<string | undefined>>();
    for (let i = 0; i < candidates.length && !signal.aborted; i += BATCH) {
      const chunk = candidates.slice(i, i + BATCH);
      const toHash = (await mapLimit(chunk, STAT_CONCURRENCY, (c) => this.#classify(c, known, parents))).filter((x) => x !== undefined);
      // Early reads go on in the background (the next tick need not wait for them); stable files are read now.
      const stable: StableCandidate[] = [];
      for (const c of toHash) {
        if (c.early) this.#slots.early(c.rel, () => this.#hashEarly(c, signal));
        else stable.push(c);
      }
      if (stable.length === 0) continue;
      const hashed = (await mapLimit(stable, this.#config.hashConcurrency, (c) => this.#hash(c, signal))).filter((x) => x !== undefined);
      if (hashed.length > 0) await this.#record(hashed);
      await this.#o.afterBatch();
    }
  }

  /** A path left the inbox: forget it, and follow its pending item to another copy or mark it gone. */
  pathVanished(rel: string): void {
    const { ledger } = this.#o;
    const row = ledger.getPath(rel);
    ledger.forgetPath(rel);
    this.candidates.forget(rel);
    if (row === undefined) return;
    const item = ledger.getItem(row.id);
    if (item === undefined || item.state !== 'pending') return;
    const other = ledger.pathsForId(row.id)[0];
    if (other !== undefined) ledger.moveItem(row.id, other);
    else {
      ledger.markGone(row.id, this.#o.now());
      this.#o.log.info({ id: row.id, path: rel }, 'file vanished before it was emitted');
    }
  }

  /** The real parent of a hinted path below a subdirectory, or undefined when it cannot be resolved. */
  #realParent(abs: string, parents: Map<string, Promise<string | undefined>>): Promise<string | undefined> {
    const dir = path.dirname(abs);
    let resolved = parents.get(dir);
    if (resolved === undefined) {
      resolved = realpath(dir).catch(() => undefined);
      parents.set(dir, resolved);
    }
    return resolved;
  }

  /** Returns the candidate when it is stable and must be hashed. */
  async #classify(c: Candidate, known: Map<string, PathRecord> | undefined, parents: Map<string, Promise<string | undefined>>): Promise<StableCandidate | undefined> {
    const { rel } = c;
    const { candidates } = this;
    if (this.#o.dispositions.isBusy(rel)) return undefined;
    const verdict = this.#filter(rel);
    if (!verdict.accepted) {
      candidates.forget(rel);
      // A marker appearing is the moment its file becomes eligible.
      if (verdict.reason === 'marker') {
        candidates.hint(rel.slice(0, rel.length - this.#config.markerSuffix.length));
        this.#o.wake();
      }
      return undefined;
    }
    const inbox = this.#o.inboxReal;
    const abs = absoluteIn(inbox, rel);
    let entry: EntryClass;
    try {
      // A hinted path may sit below a symlinked directory that leads out of the inbox (the walk
      // never descends into one). Such a file is not ours: refuse it without touching it.
      if (c.entry === undefined && rel.includes('/')) {
        const parent = await this.#realParent(abs, parents);
        if (parent === undefined) {
          candidates.forget(rel);
          return undefined;
        }
        if (!isWithin(inbox, parent)) {
          candidates.forget(rel);
          this.#o.metrics.refused.inc({ code: 'PATH_OUTSIDE_ROOT' });
          this.#o.limited(`escape:${rel}`, 'warn', { path: rel, resolvesTo: parent }, 'path leads out of the inbox through a symlinked directory; refused and left alone');
          return undefined;
        }
      }
      entry = c.entry ?? (await classifyEntry(inbox, abs));
    } catch (err: unknown) {
      this.#o.limited(`stat:${rel}`, 'warn', { err, path: rel }, 'cannot stat an inbox entry; will retry');
      return undefined;
    }
    if (entry.type === 'missing') {
      if (this.#o.ledger.getPath(rel) !== undefined) this.pathVanished(rel);
      else candidates.forget(rel);
      return undefined;
    }
    if (entry.type === 'directory') return undefined;
    if (entry.type === 'refused') {
      candidates.forget(rel);
      await this.#o.dispositions.refuse(rel, entry.code, entry.reason);
      return undefined;
    }
    const row = known !== undefined ? known.get(rel) : this.#o.ledger.getPath(rel);
    if (row !== undefined && row.sizeBytes === entry.sizeBytes && row.mtimeMs === entry.mtimeMs) {
      candidates.forget(rel);
      // Most known paths need nothing (in flight, or completed and kept): skip the item lookup.
      const idle = row.state === 'pending' || row.state === 'emitted' || (row.state === 'completed' && this.#config.afterCompletion === 'keep');
      if (!idle) await this.#knownPath(rel, row.id);
      return undefined;
    }
    const now = this.#o.now();
    if (candidates.readRetryPending(rel, now) !== undefined) return undefined;
    const obs = candidates.observe(rel, { sizeBytes: entry.sizeBytes, mtimeMs: entry.mtimeMs }, now);
    if ('tracked' in obs) {
      this.#o.limited('tracker-full', 'warn', { maxTrackedFiles: this.#config.maxTrackedFiles }, 'too many unstable files tracked; the rest wait for a later inventory');
      return undefined;
    }
    const observed = { rel, sizeBytes: entry.sizeBytes, mtimeMs: entry.mtimeMs, firstSeenAt: obs.firstSeenAt, unchangedSinceAt: obs.unchangedSinceAt };
    if (this.#config.markerMode) {
      candidates.unschedule(rel);
      if (!(await this.#markerExists(abs))) return undefined;
    } else if (!obs.stable) return candidates.wantsEarlyHash(rel, obs, entry) ? { ...observed, early: true } : undefined;
    return { ...observed, early: false };
  }

  /**
   * Hashes a file ahead of its last stability check (while the window runs, when there is time),
   * so the check that completes the count only has to confirm size and mtime. Kept only when the
   * inode read still had the observed size and mtime; a failed read is not counted (the file may
   * be locked while it is written) and the file is then read once stable, as usual.
   */
  async #hashEarly(c: StableCandidate, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const startedAt = this.#o.now();
    try {
      const hashed = await this.#o.hashFile(absoluteIn(this.#o.inboxReal, c.rel), signal, c.sizeBytes);
      const unchanged = hashed.sizeBytes === c.sizeBytes && (hashed.sizeAfterBytes ?? hashed.sizeBytes) === c.sizeBytes && hashed.mtimeMs === c.mtimeMs;
      if (unchanged) this.candidates.earlyHashed(c.rel, { sha256: hashed.sha256, sizeBytes: c.sizeBytes, mtimeMs: c.mtimeMs, startedAt });
    } catch {
      if (!signal.aborted) this.candidates.earlyHashFailed(c.rel);
    }
  }

  async #markerExists(abs: string): Promise<boolean> {
    try {
      return (await lstat(abs + this.#config.markerSuffix)).isFile();
    } catch {
      // Absent (or unreadable, which for a marker means the same): not yet.
      return false;
    }
  }

  async #hash(c: StableCandidate, signal: AbortSignal): Promise<StableFile | undefined> {
    const abs = absoluteIn(this.#o.inboxReal, c.rel);
    const { candidates } = this;
    // An early read of this file still queued is dropped; one under way is waited for (and used if it fits).
    await this.#slots.settle(c.rel);
    const early = candidates.earlyHashFor(c.rel, c, c.unchangedSinceAt);
    if (early !== undefined) {
      candidates.readSucceeded(c.rel);
      return { path: c.rel, sizeBytes: c.sizeBytes, mtimeMs: c.mtimeMs, id: early, detectedAt: c.firstSeenAt, stableAt: this.#o.now() };
    }
    try {
      const hashed = await this.#slots.run(() => this.#o.hashFile(abs, signal, c.sizeBytes));
      const { sha256, sizeBytes } = hashed;
      // The file must not have changed while it was read: same size and mtime as when it was judged
      // stable (from the inode read, or from the path when the hasher did not say).
      const after = hashed.mtimeMs === undefined ? await lstat(abs) : { isFile: () => true, size: hashed.sizeAfterBytes ?? sizeBytes, mtimeMs: hashed.mtimeMs };
      if (!after.isFile() || after.size !== c.sizeBytes || after.mtimeMs !== c.mtimeMs || sizeBytes !== c.sizeBytes) {
        candidates.restart(c.rel, this.#o.now());
        return undefined;
      }
      candidates.readSucceeded(c.rel);
      return { path: c.rel, sizeBytes, mtimeMs: c.mtimeMs, id: sha256, detectedAt: c.firstSeenAt, stableAt: this.#o.now() };
    } catch (err: unknown) {
      if (signal.aborted) return undefined;
      if (Candidates.isGone(err)) {
        candidates.forget(c.rel);
        return undefined;
      }
      const failures = candidates.readFailed(c.rel);
      if (failures >= this.#config.maxReadAttempts) {
        candidates.forget(c.rel);
        await this.#o.dispositions.deadLetterPath(c.rel, 'FILE_UNREADABLE', [{ code: 'FILE_UNREADABLE', reason: `unreadable after ${failures} attempts: ${errorMessage(err)}` }]);
        return undefined;
      }
      candidates.retryReadAt(c.rel, failures, this.#o.now() + backoffDelayMs(failures, READ_RETRY));
      this.#o.log.warn({ err, path: c.rel, failures, maxReadAttempts: this.#config.maxReadAttempts }, 'cannot read a stable file; will retry');
      return undefined;
    }
  }

  async #record(files: StableFile[]): Promise<void> {
    const outcomes = this.#o.ledger.recordStable(files, this.#o.now(), { reviveDeadLettered: this.#config.deadLetterRedrop === 'process' });
    for (const [i, r] of outcomes.entries()) {
      const f = files[i]!;
      this.candidates.forget(f.path);
      if (r.outcome === 'known') {
        if (isTerminal(r.item.state)) await this.#knownPath(f.path, r.item.id);
        else if (r.item.path !== f.path) this.#o.log.info({ id: r.item.id, path: f.path, firstPath: r.item.path }, 'same content already in the ledger under another path; not emitted again');
        continue;
      }
      this.#o.metrics.detected.inc({ kind: kindOf(f.path) });
      if (r.outcome === 'revived' && r.revivedFrom === 'deadLettered') {
        this.#o.metrics.reprocessed.inc({ via: 'redrop' });
        this.#o.log.info({ id: r.item.id, path: f.path }, 'dead-lettered content dropped again: processed anew (deadLetterRedrop process)');
      } else if (r.item.reprocessed > 0 && r.outcome === 'revived') this.#o.log.info({ id: r.item.id, path: f.path, reprocessed: r.item.reprocessed }, 'content seen before is processed anew');
      else this.#o.log.debug({ id: r.item.id, path: f.path, outcome: r.outcome }, 'stable file recorded');
    }
  }

  /** A path whose content the ledger knows: finish what its item's final state asks for. */
  async #knownPath(rel: string, id: string): Promise<void> {
    const { ledger, dispositions } = this.#o;
    const item = ledger.getItem(id);
    if (item === undefined) {
      ledger.forgetPath(rel);
      return;
    }
    if (item.state === 'completed') await dispositions.afterCompletion(item, [rel]);
    else if (item.state === 'deadLettered') await dispositions.deadLetterFiles(item, [rel]);
    else if (item.state === 'gone') {
      const st = await lstat(absoluteIn(this.#o.inboxReal, rel)).catch(() => undefined);
      if (st?.isFile() !== true) return;
      ledger.recordStable([{ path: rel, sizeBytes: st.size, mtimeMs: st.mtimeMs, id, detectedAt: item.detectedAt, stableAt: this.#o.now() }], this.#o.now());
    }
  }
}
