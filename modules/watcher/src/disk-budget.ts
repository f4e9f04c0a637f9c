/**
 * The disk budget of the `/data` volume: a free-space watermark under which intake defers (files
 * stay in the inbox, nothing is dead-lettered) and above which it resumes, and the accounting of
 * what `staging/` holds. Checked every `diskCheckIntervalMs` on a timer of its own; one log line
 * and one alert when an episode starts, one log line when it ends.
 */
import type { Dirent } from 'node:fs';
import { lstat, opendir, statfs } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, sendAlert, type DataPaths, type EdgeClient, type Logger } from '@edgeml/shared';
import type { WatcherConfig } from './config.js';
import type { LimitedLog } from './limited-log.js';
import type { WatcherMetrics } from './metrics.js';

/** Size and free space of the volume holding a path, in bytes (free: what an unprivileged writer may use). */
export interface VolumeStats {
  readonly freeBytes: number;
  readonly totalBytes: number;
}

/** Reads a volume's size and free space (injectable, so tests decide what the disk says). */
export type StatVolume = (path: string) => Promise<VolumeStats>;

/** `statfs(2)`: blocks available to unprivileged users × block size. */
export const statVolume: StatVolume = async (p) => {
  const s = await statfs(p);
  return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
};

/** Intake resumes once free space is this much above the watermark (×), so it does not flap at the edge. */
export const RESUME_FACTOR = 1.1;

/** Entries of `staging/` counted at most per check (a bound on the walk, reported when hit). */
const MAX_STAGING_ENTRIES = 1_000_000;

export interface StagingUsage {
  readonly files: number;
  readonly bytes: number;
  /** The walk stopped at its bound; the figures are a lower bound. */
  readonly truncated: boolean;
}

/** Sums the regular files under `dir` (symlinks not followed); an absent directory holds nothing. */
export async function stagingUsage(dir: string, maxEntries = MAX_STAGING_ENTRIES): Promise<StagingUsage> {
  let files = 0;
  let bytes = 0;
  let seen = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop()!;
    let handle;
    try {
      handle = await opendir(current, { bufferSize: 256 });
    } catch (err: unknown) {
      const code = (err as NodeJS.ErrnoException).code;
      // Gone meanwhile (a consumer deleting a finished item's folder) or never created: nothing there.
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw err;
    }
    for await (const d of handle as AsyncIterable<Dirent>) {
      if (++seen > maxEntries) return { files, bytes, truncated: true };
      const abs = path.join(current, d.name);
      if (d.isDirectory()) stack.push(abs);
      else if (d.isFile()) {
        const st = await lstat(abs).catch(() => undefined);
        if (st?.isFile() === true) {
          files++;
          bytes += st.size;
        }
      }
    }
  }
  return { files, bytes, truncated: false };
}

export interface DiskBudgetOptions {
  readonly paths: DataPaths;
  readonly statVolume: StatVolume;
  readonly edge: EdgeClient;
  readonly log: Logger;
  readonly limited: LimitedLog;
  readonly metrics: WatcherMetrics;
  readonly now: () => number;
  readonly config: () => WatcherConfig;
  /** Intake was deferred or resumed (wake the loop, report the status). */
  readonly onChange: (belowWatermark: boolean) => void;
}

export interface DiskStatus {
  readonly path: string;
  readonly freeBytes: number | null;
  readonly totalBytes: number | null;
  readonly freePercent: number | null;
  readonly minFreeBytes: number;
  readonly minFreePercent: number;
  /** Intake defers while true. */
  readonly belowWatermark: boolean;
  /** When the current episode below the watermark started (ISO), or null. */
  readonly belowSince: string | null;
  readonly checkedAt: string | null;
}

/** What `staging/` held at the last check. */
export interface StagingStatus extends StagingUsage {
  readonly at: string;
}

export class DiskBudget {
  readonly #o: DiskBudgetOptions;
  #volume: VolumeStats | undefined;
  #checkedAt: number | undefined;
  #below = false;
  #belowSince: number | undefined;
  #staging: (StagingUsage & { at: number }) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(options: DiskBudgetOptions) {
    this.#o = options;
  }

  /** Whether new files may enter the pipeline (free space at or above the watermark). */
  get intakeOpen(): boolean {
    return !this.#below;
  }

  /** Checks now, then every `diskCheckIntervalMs`. */
  async start(): Promise<void> {
    await this.check();
    this.#schedule();
  }

  /** A new configuration: the thresholds and the period apply at once. */
  reconfigure(): void {
    if (this.#timer === undefined) return;
    this.#schedule();
    void this.check();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = setInterval(() => void this.check(), this.#o.config().diskCheckIntervalMs);
    this.#timer.unref();
  }

  /** One check of the volume and of staging (never two at once; a caller joins the one running). */
  check(): Promise<void> {
    this.#running ??= this.#check().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #check(): Promise<void> {
    const { paths, metrics } = this.#o;
    try {
      this.#volume = await this.#o.statVolume(paths.root);
      this.#checkedAt = this.#o.now();
      metrics.diskFreeBytes.set(this.#volume.freeBytes);
      this.#judge(this.#volume);
    } catch (err: unknown) {
      // Unknown is not full: intake keeps its current state rather than stopping on a failed statfs.
      this.#o.limited('statfs', 'warn', { err, path: paths.root }, `cannot read the free space of the data volume: ${errorMessage(err)}`);
    }
    try {
      const usage = await stagingUsage(paths.staging);
      this.#staging = { ...usage, at: this.#o.now() };
      metrics.stagingBytes.set(usage.bytes);
      metrics.stagingFiles.set(usage.files);
      if (usage.truncated) this.#o.limited('staging-walk', 'warn', { maxEntries: MAX_STAGING_ENTRIES }, 'staging holds more entries than one check walks; its figures are a lower bound');
    } catch (err: unknown) {
      this.#o.limited('staging', 'warn', { err, path: paths.staging }, `cannot measure staging: ${errorMessage(err)}`);
    }
  }

  #judge(v: VolumeStats): void {
    const { minFreeBytes, minFreePercent } = this.#o.config();
    const percent = v.totalBytes > 0 ? (v.freeBytes / v.totalBytes) * 100 : 100;
    const below = v.freeBytes < minFreeBytes || percent < minFreePercent;
    // Hysteresis, kept reachable for a watermark near 100 %.
    const clearPercent = Math.min(minFreePercent * RESUME_FACTOR, minFreePercent + (100 - minFreePercent) / 2);
    const clear = v.freeBytes >= minFreeBytes * RESUME_FACTOR && percent >= clearPercent;
    if (!this.#below && below) this.#enter(v, percent);
    else if (this.#below && clear) this.#leave(v, percent);
  }

  #enter(v: VolumeStats, percent: number): void {
    const { minFreeBytes, minFreePercent } = this.#o.config();
    this.#below = true;
    this.#belowSince = this.#o.now();
    this.#o.metrics.diskBelowWatermark.set(1);
    const facts = { path: this.#o.paths.root, freeBytes: v.freeBytes, totalBytes: v.totalBytes, freePercent: round(percent), minFreeBytes, minFreePercent };
    this.#o.log.warn(facts, 'free space on the data volume is below the watermark; intake defers (files stay in the inbox) until it is back above');
    void sendAlert(
      this.#o.edge,
      this.#o.log,
      {
        severity: 'warning',
        code: 'DISK_LOW',
        message: `the data volume has ${v.freeBytes} bytes (${round(percent)} %) free, below the watermark (${minFreeBytes} bytes, ${minFreePercent} %); new files wait in the inbox`,
        details: facts,
      },
      () => new Date(this.#o.now()),
    );
    this.#o.onChange(true);
  }

  #leave(v: VolumeStats, percent: number): void {
    const lastedMs = this.#o.now() - (this.#belowSince ?? this.#o.now());
    this.#below = false;
    this.#belowSince = undefined;
    this.#o.metrics.diskBelowWatermark.set(0);
    this.#o.log.info({ path: this.#o.paths.root, freeBytes: v.freeBytes, freePercent: round(percent), lastedMs }, 'free space is back above the watermark; intake resumes');
    this.#o.onChange(false);
  }

  status(): DiskStatus {
    const { minFreeBytes, minFreePercent } = this.#o.config();
    const v = this.#volume;
    const iso = (t: number | undefined): string | null => (t === undefined ? null : new Date(t).toISOString());
    return {
      path: this.#o.paths.root,
      freeBytes: v?.freeBytes ?? null,
      totalBytes: v?.totalBytes ?? null,
      freePercent: v === undefined || v.totalBytes <= 0 ? null : round((v.freeBytes / v.totalBytes) * 100),
      minFreeBytes,
      minFreePercent,
      belowWatermark: this.#below,
      belowSince: iso(this.#belowSince),
      checkedAt: iso(this.#checkedAt),
    };
  }

  /** What `staging/` held at the last check, or null before the first. */
  staging(): StagingStatus | null {
    const s = this.#staging;
    return s === undefined ? null : { files: s.files, bytes: s.bytes, truncated: s.truncated, at: new Date(s.at).toISOString() };
  }
}

function round(percent: number): number {
  return Math.round(percent * 100) / 100;
}
