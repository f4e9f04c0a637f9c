/**
 * What the running suite reports: the status (each module's getStatus, its process, the hub's
 * figures) and the run summary (files seen and where they went, from the status, the dead-letter
 * records and the storage account).
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { EdgeHub } from '@edgeml/edge-hub';
import { errorMessage } from '@edgeml/shared';
import { countLines } from './journal.js';
import { moduleCounts, openItems, watcherCounts } from './status.js';
import { countBlobs } from './storage.js';
import type { ModuleProcess, ModuleProcessState } from './supervisor.js';

export interface RuntimeStatus {
  readonly elapsedMs: number;
  readonly processes: readonly ModuleProcessState[];
  /** getStatus payload per module (or `{ error }`). */
  readonly modules: Readonly<Record<string, unknown>>;
  readonly hub: ReturnType<EdgeHub['stats']> & { readonly port: number; readonly metricsPort: number | null };
  readonly upstreamCount: number;
}

export interface RunSummary {
  readonly filesSeen: number;
  readonly transformed: number;
  /** Inference results, a chain's per-crop steps included. */
  readonly inferred: number;
  /** Per-file chain results (the aggregator's): one per image a chain ran on. */
  readonly chainResults: number;
  readonly uploaded: number;
  readonly completed: number;
  readonly deadLettered: number;
  readonly deadLetteredByReason: Readonly<Record<string, number>>;
  readonly unaccounted: number;
  readonly upstreamMessages: number;
  readonly blobs: number;
  readonly restarts: Readonly<Record<string, number>>;
  readonly wallTimeMs: number;
  readonly ok: boolean;
}

/** Counts the watcher's dead-letter records (`*.error.json` anywhere under share/failed) by their `code`. */
async function deadLettersByCode(failedDir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const entries = await readdir(failedDir, { recursive: true }).catch(() => [] as string[]);
  for (const rel of entries) {
    if (!rel.endsWith('.error.json')) continue;
    try {
      const doc = JSON.parse(await readFile(path.join(failedDir, rel), 'utf8')) as { code?: unknown };
      const code = typeof doc.code === 'string' ? doc.code : 'UNKNOWN';
      out[code] = (out[code] ?? 0) + 1;
    } catch {
      out['UNREADABLE_RECORD'] = (out['UNREADABLE_RECORD'] ?? 0) + 1;
    }
  }
  return out;
}

/** Asks every supervised module for its getStatus (through `hub`) and adds the processes' and the hub's state. */
export async function collectStatus(hub: EdgeHub, processes: ReadonlyMap<string, ModuleProcess>, startedAt: number): Promise<RuntimeStatus> {
  const modules: Record<string, unknown> = {};
  await Promise.all(
    [...processes.keys()].map(async (name) => {
      try {
        const r = await hub.invokeMethod(name, 'getStatus', null, { responseTimeoutMs: 5_000 });
        modules[name] = r.status === 200 ? r.payload : { error: `getStatus answered ${r.status}`, status: r.status, payload: r.payload };
      } catch (err: unknown) {
        modules[name] = { error: errorMessage(err) };
      }
    }),
  );
  return {
    elapsedMs: Date.now() - startedAt,
    processes: [...processes.values()].map((p) => p.snapshot()),
    modules,
    hub: { ...hub.stats(), port: hub.port, metricsPort: hub.metricsPort ?? null },
    upstreamCount: await countLines(hub.upstreamJournalFile),
  };
}

/** The run summary from status `s`, the dead-letter records under `failedDir` and the blobs in the storage account. */
export async function summarise(s: RuntimeStatus, failedDir: string, storageConnectionString: string | undefined, startedAt: number): Promise<RunSummary> {
  const w = watcherCounts(s.modules['watcher']);
  const reasons = await deadLettersByCode(failedDir);
  const t = moduleCounts(s.modules['transformer']);
  const inf = moduleCounts(s.modules['inferencer']);
  const up = moduleCounts(s.modules['uploader']);
  const agg = moduleCounts(s.modules['aggregator']);
  const detected = w?.detected ?? 0;
  const restarts: Record<string, number> = {};
  for (const p of s.processes) restarts[p.name] = p.restarts;
  const unaccounted = w === undefined ? -1 : openItems(w);
  return {
    filesSeen: detected,
    transformed: t['forwarded'] ?? 0,
    inferred: inf['results'] ?? 0,
    chainResults: agg['results'] ?? 0,
    uploaded: up['uploaded'] ?? 0,
    completed: w?.completed ?? 0,
    deadLettered: w?.deadLettered ?? 0,
    deadLetteredByReason: reasons,
    unaccounted,
    upstreamMessages: s.upstreamCount,
    blobs: await countBlobs(storageConnectionString).catch(() => -1),
    restarts,
    wallTimeMs: Date.now() - startedAt,
    ok: unaccounted === 0,
  };
}
