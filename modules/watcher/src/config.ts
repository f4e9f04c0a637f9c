import { ConfigError, createLogger, createTwinConfigBinder } from '@edgeml/shared';
import { compileGlobs } from './patterns.js';

/** What happens to an input file once every expected part has been acknowledged. */
export type AfterCompletionAction = 'keep' | 'move' | 'delete';

/** Content dropped into the inbox again after it was dead-lettered: processed anew, or refused (moved to failed/ again). */
export type DeadLetterRedropPolicy = 'process' | 'refuse';

/**
 * The watcher's typed configuration (twin desired properties, after validation and defaults).
 * Durations in milliseconds, sizes in bytes; names carry their unit.
 */
export interface WatcherConfig {
  /** Globs (picomatch, relative to the inbox, `/` separators) a file must match to be ingested. */
  readonly include: readonly string[];
  /** Globs that exclude a file even when it matches `include`. */
  readonly exclude: readonly string[];
  /** Base-name globs of temporary and partial files that are never ingested (writers rename them when done). */
  readonly ignoredNames: readonly string[];
  /** Size and mtime must stay unchanged for at least this long before a file is stable. */
  readonly stabilityWindowMs: number;
  /** ...and over at least this many consecutive checks (spread over the window). */
  readonly stabilityChecks: number;
  /** Marker mode: a file is ingested only once `<name><markerSuffix>` exists beside it (for preallocating writers). */
  readonly markerMode: boolean;
  readonly markerSuffix: string;
  /**
   * Filesystem events (chokidar) as detection hints. Off, detection relies on the inventory and
   * `shareEvents` alone: for very large inboxes, where chokidar holds every entry in memory.
   */
  readonly useEvents: boolean;
  /** Stat polling instead of inotify, for SMB/NFS mounts where events are lost. */
  readonly usePolling: boolean;
  readonly pollingIntervalMs: number;
  /** Period of the full inventory scan of the inbox (the source of truth; events only make detection faster). */
  readonly inventoryIntervalMs: number;
  /** At most this many files emitted and not yet completed. */
  readonly maxInFlight: number;
  /** A file not completed this long after an emission is re-emitted (or dead-lettered after `maxAttempts`). */
  readonly completionTimeoutMs: number;
  /** Emissions per file, the first included. */
  readonly maxAttempts: number;
  /** Reads (hash attempts) of an unreadable file before it is dead-lettered. */
  readonly maxReadAttempts: number;
  readonly afterCompletion: AfterCompletionAction;
  /** Files hashed concurrently. */
  readonly hashConcurrency: number;
  /** Candidates (files seen but not yet stable) tracked at once; more are picked up by a later inventory. */
  readonly maxTrackedFiles: number;
  /** How often a small `status` object goes to reported properties. */
  readonly statusReportIntervalMs: number;
  /**
   * Finished items (completed, dead-lettered, gone) whose file is no longer in the inbox are
   * removed from the ledger this long after they finished. Within it, the same content dropped
   * again is recognised and not emitted again; after it, it is a new file.
   */
  readonly ledgerRetentionMs: number;
  /**
   * The same content dropped into the inbox again after it was dead-lettered (the cause fixed):
   * `process` resets its ledger entry and processes it anew; `refuse` moves it straight to
   * `failed/` again with the earlier reasons (while the ledger remembers it, `ledgerRetentionMs`).
   */
  readonly deadLetterRedrop: DeadLetterRedropPolicy;
  /**
   * Free-space watermark of the data volume (`/data`), in bytes and in percent of its size: below
   * either, new files wait in the inbox (nothing fails); intake resumes once free space is 10 %
   * above both. 0 turns a threshold off.
   */
  readonly minFreeBytes: number;
  readonly minFreePercent: number;
  /** Period of the free-space check and of the measurement of `staging/`. */
  readonly diskCheckIntervalMs: number;
}

/** Defaults in one place; the schema below and the README table are generated from the same values. */
export const WATCHER_CONFIG_DEFAULTS = {
  include: ['**/*'],
  exclude: [],
  ignoredNames: ['*.tmp', '*.temp', '*.partial', '*.part', '*.crdownload', '*.filepart', '*.swp', '~$*', '.*'],
  stabilityWindowMs: 2_000,
  stabilityChecks: 3,
  markerMode: false,
  markerSuffix: '.done',
  useEvents: true,
  usePolling: false,
  pollingIntervalMs: 1_000,
  inventoryIntervalMs: 30_000,
  maxInFlight: 100,
  completionTimeoutMs: 600_000,
  maxAttempts: 3,
  maxReadAttempts: 5,
  afterCompletion: 'keep',
  hashConcurrency: 4,
  maxTrackedFiles: 100_000,
  statusReportIntervalMs: 60_000,
  ledgerRetentionMs: 2_592_000_000,
  deadLetterRedrop: 'process',
  minFreeBytes: 536_870_912,
  minFreePercent: 1,
  diskCheckIntervalMs: 10_000,
} as const satisfies WatcherConfig;

const globList = (def: readonly string[], minItems: number) => ({
  type: 'array',
  minItems,
  maxItems: 64,
  items: { type: 'string', minLength: 1, maxLength: 512 },
  default: [...def],
});
const int = (def: number, minimum: number, maximum: number, description: string) => ({ type: 'integer', minimum, maximum, default: def, description });

/**
 * Desired-properties JSON Schema (draft-07): every property has a default, unknown keys are
 * refused. The deployment manifest's default twin is checked against it.
 */
export const WATCHER_CONFIG_SCHEMA = {
  $id: 'https://edgeml.example/schemas/watcher.desired.json',
  title: 'watcher desired properties',
  type: 'object',
  additionalProperties: false,
  properties: {
    include: { ...globList(WATCHER_CONFIG_DEFAULTS.include, 1), description: 'Globs relative to the inbox a file must match.' },
    exclude: { ...globList(WATCHER_CONFIG_DEFAULTS.exclude, 0), description: 'Globs relative to the inbox that exclude a file.' },
    ignoredNames: { ...globList(WATCHER_CONFIG_DEFAULTS.ignoredNames, 0), description: 'Base-name globs of temp/partial files, never ingested.' },
    stabilityWindowMs: int(WATCHER_CONFIG_DEFAULTS.stabilityWindowMs, 0, 3_600_000, 'Size and mtime unchanged for this long.'),
    stabilityChecks: int(WATCHER_CONFIG_DEFAULTS.stabilityChecks, 1, 100, 'Consecutive unchanged checks required.'),
    markerMode: { type: 'boolean', default: WATCHER_CONFIG_DEFAULTS.markerMode, description: 'Ingest a file only once its marker file exists.' },
    markerSuffix: {
      type: 'string',
      minLength: 1,
      maxLength: 64,
      pattern: '^[^/\\\\\\u0000]+$',
      default: WATCHER_CONFIG_DEFAULTS.markerSuffix,
      description: 'Marker name = file name + this suffix.',
    },
    useEvents: { type: 'boolean', default: WATCHER_CONFIG_DEFAULTS.useEvents, description: 'Filesystem events as detection hints (the inventory is the source of truth).' },
    usePolling: { type: 'boolean', default: WATCHER_CONFIG_DEFAULTS.usePolling, description: 'Stat polling (SMB/NFS) instead of inotify.' },
    pollingIntervalMs: int(WATCHER_CONFIG_DEFAULTS.pollingIntervalMs, 100, 600_000, 'Polling interval when usePolling is on.'),
    inventoryIntervalMs: int(WATCHER_CONFIG_DEFAULTS.inventoryIntervalMs, 100, 86_400_000, 'Period of the full inventory scan.'),
    maxInFlight: int(WATCHER_CONFIG_DEFAULTS.maxInFlight, 1, 100_000, 'Files emitted and not yet completed.'),
    completionTimeoutMs: int(WATCHER_CONFIG_DEFAULTS.completionTimeoutMs, 100, 604_800_000, 'Re-emit when not completed within this time.'),
    maxAttempts: int(WATCHER_CONFIG_DEFAULTS.maxAttempts, 1, 100, 'Emissions per file before it is dead-lettered.'),
    maxReadAttempts: int(WATCHER_CONFIG_DEFAULTS.maxReadAttempts, 1, 100, 'Reads of an unreadable file before it is dead-lettered.'),
    afterCompletion: { enum: ['keep', 'move', 'delete'], default: WATCHER_CONFIG_DEFAULTS.afterCompletion, description: 'keep, move to processed/, or delete.' },
    hashConcurrency: int(WATCHER_CONFIG_DEFAULTS.hashConcurrency, 1, 64, 'Files hashed concurrently.'),
    maxTrackedFiles: int(WATCHER_CONFIG_DEFAULTS.maxTrackedFiles, 100, 10_000_000, 'Unstable candidates tracked at once.'),
    statusReportIntervalMs: int(WATCHER_CONFIG_DEFAULTS.statusReportIntervalMs, 1_000, 86_400_000, 'Period of the status reported property.'),
    ledgerRetentionMs: int(WATCHER_CONFIG_DEFAULTS.ledgerRetentionMs, 60_000, 315_360_000_000, 'Finished items without a file in the inbox are forgotten after this.'),
    deadLetterRedrop: {
      enum: ['process', 'refuse'],
      default: WATCHER_CONFIG_DEFAULTS.deadLetterRedrop,
      description: 'Content dropped again after a dead letter: process it anew, or refuse it (to failed/ again).',
    },
    minFreeBytes: int(WATCHER_CONFIG_DEFAULTS.minFreeBytes, 0, Number.MAX_SAFE_INTEGER, 'Intake defers while the data volume has less free space than this (bytes; 0: off).'),
    minFreePercent: {
      type: 'number',
      minimum: 0,
      maximum: 100,
      default: WATCHER_CONFIG_DEFAULTS.minFreePercent,
      description: 'Intake defers while the data volume has less free space than this percentage of its size (0: off).',
    },
    diskCheckIntervalMs: int(WATCHER_CONFIG_DEFAULTS.diskCheckIntervalMs, 1_000, 3_600_000, 'Period of the free-space check and the staging measurement.'),
  },
} as const;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Cross-field checks the schema cannot express, then the frozen typed config. Used as the module's
 * `buildConfig` (after schema validation and defaults).
 */
export function buildWatcherConfig(validated: Record<string, unknown>): { config: WatcherConfig } | { problems: string[] } {
  const c = validated as unknown as WatcherConfig;
  const problems: string[] = [];
  for (const key of ['include', 'exclude', 'ignoredNames'] as const) {
    const list = c[key];
    for (const [i, glob] of list.entries()) {
      if (glob.includes('\u0000')) problems.push(`/${key}/${i}: contains NUL`);
      else if (glob.startsWith('/') || /^[A-Za-z]:[\\/]/.test(glob)) problems.push(`/${key}/${i}: must be relative to the inbox, got ${JSON.stringify(glob.slice(0, 80))}`);
      else if (glob.split('/').includes('..')) problems.push(`/${key}/${i}: must not contain '..'`);
    }
    const compiled = compileGlobs(list);
    if ('problems' in compiled) problems.push(...compiled.problems.map((p) => `/${key}: ${p}`));
  }
  if (c.completionTimeoutMs < c.stabilityWindowMs) {
    problems.push(`/completionTimeoutMs: ${c.completionTimeoutMs} is shorter than stabilityWindowMs ${c.stabilityWindowMs}`);
  }
  if (problems.length > 0) return { problems };
  return { config: deepFreeze(structuredClone(c)) };
}

/**
 * `unknown` in, frozen typed config out (defaults filled). For tests and tools; the running module
 * goes through the twin binder, which applies the same schema and {@link buildWatcherConfig}.
 * @throws ConfigError with every problem
 */
export function parseWatcherConfig(desired: unknown): WatcherConfig {
  if (desired === null || typeof desired !== 'object' || Array.isArray(desired)) throw new ConfigError('watcher configuration', ['(root): must be an object']);
  const binder = createTwinConfigBinder<WatcherConfig>({
    schema: WATCHER_CONFIG_SCHEMA,
    build: buildWatcherConfig,
    apply: () => Promise.resolve(),
    report: () => Promise.resolve(),
    logger: createLogger({ name: 'watcher', level: 'silent' }),
  });
  const result = binder.validate(desired as Record<string, unknown>);
  if ('problems' in result) throw new ConfigError('watcher configuration', result.problems);
  return result.config;
}
