/**
 * The watcher's status, read from its parts: the object `getStatus` returns and the `status`
 * reported property summarise, and the gauges refreshed after every tick.
 */
import type { ActivityWindow, DataPaths } from '@edgeml/shared';
import type { WatcherConfig } from './config.js';
import type { Emission } from './emission.js';
import type { Intake } from './intake.js';
import type { InventoryScan } from './inventory-scan.js';
import type { Ledger } from './ledger.js';
import type { WatcherMetrics } from './metrics.js';

export interface StatusSources {
  readonly paths: DataPaths;
  readonly ledger: Ledger;
  readonly intake: Intake;
  readonly emission: Emission;
  readonly scan: InventoryScan;
  readonly metrics: WatcherMetrics;
  readonly config: () => WatcherConfig;
  readonly activity: ActivityWindow;
}

export function updateGauges(s: StatusSources): void {
  const { metrics, ledger, intake } = s;
  metrics.backlog.set({ stage: 'unstable' }, intake.candidates.unstable);
  metrics.backlog.set({ stage: 'hashing' }, intake.hashing);
  metrics.backlog.set({ stage: 'pending' }, ledger.pendingCount());
  metrics.inFlight.set(ledger.inFlight());
  metrics.held.set(ledger.heldCount());
}

/** Small and JSON-safe: for getStatus and the `status` reported property. */
export function watcherStatus(s: StatusSources): Record<string, unknown> {
  const counts = s.ledger.counts();
  const { candidates } = s.intake;
  const last = s.scan.last;
  return {
    // The summary the local runtime and operators read: every identified file is in exactly one of
    // pending / inFlight / completed / deadLettered / gone; `waiting` are files not yet stable or unreadable;
    // `deferred` is the part of inFlight that a module asked to offer again later (quota or queue full);
    // `held` the part of inFlight whose missing parts modules hold durably under a lease (an uplink down).
    counts: {
      detected: counts.pending + counts.emitted + counts.completed + counts.deadLettered + counts.gone,
      pending: counts.pending,
      inFlight: counts.emitted,
      deferred: s.ledger.deferredCount(),
      held: s.ledger.heldCount(),
      completed: counts.completed,
      deadLettered: counts.deadLettered,
      gone: counts.gone,
      waiting: candidates.unstable + candidates.unreadable,
    },
    // Files completed in the last minute and their time from detection to completion.
    activity: s.activity.summary(),
    initialScanDone: last !== undefined,
    inbox: s.paths.inbox,
    items: counts,
    inFlight: counts.emitted,
    maxInFlight: s.config().maxInFlight,
    backpressure: s.emission.backpressure,
    unstable: candidates.unstable,
    trackerRefused: candidates.refused,
    unreadable: candidates.unreadable,
    lastInventory: last === undefined ? null : { at: last.at, files: last.files, durationMs: last.durationMs, refused: last.refused },
  };
}
