import { Counter, Gauge, Histogram, type Registry } from '@edgeml/shared';

/** The watcher's Prometheus series (`edgeml_watcher_*`, units in names). */
export interface WatcherMetrics {
  readonly detected: Counter<'kind'>;
  readonly emitted: Counter<'attempt'>;
  readonly completed: Counter;
  readonly deadLettered: Counter<'code'>;
  readonly refused: Counter<'code'>;
  readonly inputRejected: Counter<'input' | 'code'>;
  readonly completions: Counter<'result'>;
  readonly deferred: Counter<'code'>;
  readonly leaseExpiries: Counter;
  readonly lateCompletions: Counter;
  readonly diskFreeBytes: Gauge;
  readonly diskBelowWatermark: Gauge;
  readonly stagingBytes: Gauge;
  readonly stagingFiles: Gauge;
  readonly reprocessed: Counter<'via'>;
  readonly held: Gauge;
  readonly backlog: Gauge<'stage'>;
  readonly inFlight: Gauge;
  readonly backpressure: Gauge;
  readonly detectionLatency: Histogram;
  readonly inventoryDuration: Histogram;
  readonly inventoryFiles: Gauge;
}

export function createWatcherMetrics(registry: Registry): WatcherMetrics {
  const registers = [registry];
  return {
    detected: new Counter({ name: 'edgeml_watcher_files_detected_total', help: 'New file contents found stable and recorded in the ledger.', labelNames: ['kind'], registers }),
    emitted: new Counter({ name: 'edgeml_watcher_files_emitted_total', help: 'files messages sent (attempt=first, retry after a completion timeout, or deferred).', labelNames: ['attempt'], registers }),
    completed: new Counter({ name: 'edgeml_watcher_files_completed_total', help: 'Sources whose every expected part was acknowledged as uploaded.', registers }),
    deadLettered: new Counter({ name: 'edgeml_watcher_files_dead_lettered_total', help: 'Inputs moved to failed/, by error code.', labelNames: ['code'], registers }),
    refused: new Counter({ name: 'edgeml_watcher_entries_refused_total', help: 'Inbox entries refused (symlinks, devices, escapes), by error code.', labelNames: ['code'], registers }),
    inputRejected: new Counter({ name: 'edgeml_watcher_input_messages_rejected_total', help: 'Malformed messages on an input, by input and code.', labelNames: ['input', 'code'], registers }),
    completions: new Counter({
      name: 'edgeml_watcher_completions_total',
      help: 'completed messages by result: completed, deadLettered, waiting, duplicate, alreadyFinal, unknownId, deferred, deferralIgnored, held, leaseIgnored.',
      labelNames: ['result'],
      registers,
    }),
    deferred: new Counter({ name: 'edgeml_watcher_deferrals_total', help: 'Parts a module deferred (full quota or queue), by code; the source is offered again later.', labelNames: ['code'], registers }),
    leaseExpiries: new Counter({
      name: 'edgeml_watcher_lease_expiries_total',
      help: 'Leases that ran out because their holder stopped renewing (the source is offered again for the parts nobody holds).',
      registers,
    }),
    lateCompletions: new Counter({
      name: 'edgeml_watcher_late_completions_total',
      help: 'Dead-lettered sources that completed after all (every part uploaded later, e.g. after the uploader retried its quarantine).',
      registers,
    }),
    diskFreeBytes: new Gauge({ name: 'edgeml_watcher_disk_free_bytes', help: 'Free space of the data volume (bytes available to the module), at the last check.', registers }),
    diskBelowWatermark: new Gauge({
      name: 'edgeml_watcher_disk_below_watermark',
      help: '1 while free space on the data volume is below minFreeBytes/minFreePercent: intake defers.',
      registers,
    }),
    stagingBytes: new Gauge({ name: 'edgeml_watcher_staging_bytes', help: 'Bytes of the regular files under staging/ at the last check.', registers }),
    stagingFiles: new Gauge({ name: 'edgeml_watcher_staging_files', help: 'Regular files under staging/ at the last check.', registers }),
    reprocessed: new Counter({
      name: 'edgeml_watcher_reprocessed_total',
      help: 'Dead letters reprocessed: via=method (the reprocess method) or via=redrop (the same content dropped again, deadLetterRedrop process).',
      labelNames: ['via'],
      registers,
    }),
    held: new Gauge({ name: 'edgeml_watcher_held_files', help: 'Files in flight whose every missing part a module holds under a live lease (the completion timer waits).', registers }),
    backlog: new Gauge({ name: 'edgeml_watcher_backlog_files', help: 'Files waiting: stage=unstable (being checked), hashing, pending (stable, waiting for an in-flight slot).', labelNames: ['stage'], registers }),
    inFlight: new Gauge({ name: 'edgeml_watcher_in_flight_files', help: 'Files emitted and holding a maxInFlight slot (not completed; sources whose every missing part is held do not count).', registers }),
    backpressure: new Gauge({ name: 'edgeml_watcher_backpressure', help: '1 while maxInFlight holds pending files back.', registers }),
    detectionLatency: new Histogram({
      name: 'edgeml_watcher_detection_latency_seconds',
      help: "From a file's last modification (mtime) to its first emission.",
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800],
      registers,
    }),
    inventoryDuration: new Histogram({
      name: 'edgeml_watcher_inventory_duration_seconds',
      help: 'Duration of a full inventory walk of the inbox.',
      buckets: [0.01, 0.1, 0.5, 1, 5, 15, 60, 300],
      registers,
    }),
    inventoryFiles: new Gauge({ name: 'edgeml_watcher_inventory_files', help: 'Regular files found by the last inventory walk.', registers }),
  };
}
