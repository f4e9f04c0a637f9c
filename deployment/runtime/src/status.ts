/**
 * How the runtime reads progress from the modules' `getStatus` replies. Each module reports
 * `counts` (monotonic totals since its start, persisted ones where it has a ledger or queue);
 * the watcher's ledger is the source of truth for whether every file is accounted for.
 */
export interface WatcherCounts {
  /** Files whose content was identified (stable, hashed, in the ledger). */
  readonly detected: number;
  /** Sources closed with every part uploaded. */
  readonly completed: number;
  /** Sources dead-lettered (moved to share/failed). */
  readonly deadLettered: number;
  /** Identified, then deleted from the inbox before it completed (accounted for, nothing to do). */
  readonly gone: number;
  /** Emitted and waiting for acknowledgements. */
  readonly inFlight: number;
  /** Stable and hashed, waiting for a maxInFlight slot. */
  readonly pending: number;
  /** Seen but not yet stable, or failing to read (retried, then dead-lettered). */
  readonly waiting: number;
}

export interface ModuleStatusReply {
  readonly status: number;
  readonly payload: unknown;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** Extracts the watcher's counts from its getStatus payload (`counts` object). */
export function watcherCounts(payload: unknown): WatcherCounts | undefined {
  const counts = (payload as { counts?: Record<string, unknown> } | null)?.counts;
  if (counts === undefined || counts === null || typeof counts !== 'object') return undefined;
  return {
    detected: num(counts['detected']),
    completed: num(counts['completed']),
    deadLettered: num(counts['deadLettered']),
    gone: num(counts['gone']),
    inFlight: num(counts['inFlight']),
    pending: num(counts['pending']),
    waiting: num(counts['waiting']),
  };
}

/** Files identified and not yet closed (completed, dead-lettered or gone), plus files still stabilising. */
export function openItems(c: WatcherCounts): number {
  return Math.max(0, c.detected - c.completed - c.deadLettered - c.gone) + c.waiting;
}

/**
 * Idle: the watcher has scanned the inbox at least once (`initialScanDone`), nothing is waiting,
 * pending or in flight, and every detected file is completed, dead-lettered or gone.
 */
export function isIdle(watcherPayload: unknown): boolean {
  const c = watcherCounts(watcherPayload);
  const scanned = (watcherPayload as { initialScanDone?: unknown } | null)?.initialScanDone === true;
  return c !== undefined && scanned && c.pending === 0 && c.inFlight === 0 && openItems(c) === 0;
}

/** A module's counts object (any module), for summaries and the live view. */
export function moduleCounts(payload: unknown): Record<string, number> {
  const counts = (payload as { counts?: Record<string, unknown> } | null)?.counts;
  const out: Record<string, number> = {};
  if (counts !== undefined && counts !== null && typeof counts === 'object') {
    for (const [k, v] of Object.entries(counts)) if (typeof v === 'number') out[k] = v;
  }
  return out;
}

/** A stage's last minute as its getStatus `activity` reports it (see shared `ActivityWindow`). */
export interface StageActivity {
  readonly perSecond: number;
  readonly items: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

const msOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A module's `activity` from its getStatus payload, or undefined when it reports none. */
export function moduleActivity(payload: unknown): StageActivity | undefined {
  const a = (payload as { activity?: Record<string, unknown> } | null)?.activity;
  if (a === undefined || a === null || typeof a !== 'object') return undefined;
  return { perSecond: num(a['perSecond']), items: num(a['items']), p50Ms: msOrNull(a['p50Ms']), p99Ms: msOrNull(a['p99Ms']) };
}

const fmtMs = (ms: number | null): string => (ms === null ? '-' : ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 1_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`);

/** `4.20/s p50 310 ms p99 1.2 s` (last minute), or '' when the module reports no activity. */
export function formatActivity(a: StageActivity | undefined): string {
  if (a === undefined) return '';
  return `${a.perSecond.toFixed(2)}/s p50 ${fmtMs(a.p50Ms)} p99 ${fmtMs(a.p99Ms)}`;
}
