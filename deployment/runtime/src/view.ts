import type { ModuleProcessState } from './supervisor.js';
import { formatActivity, moduleActivity, moduleCounts, watcherCounts } from './status.js';

export interface ViewModel {
  readonly elapsedMs: number;
  readonly processes: readonly ModuleProcessState[];
  readonly statuses: Readonly<Record<string, unknown>>;
  readonly upstreamCount: number;
  readonly latestResults: readonly string[];
  readonly errors: readonly string[];
}

function bar(done: number, total: number, width = 30): string {
  if (total <= 0) return `[${' '.repeat(width)}]`;
  const filled = Math.min(width, Math.round((done / total) * width));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

function fmtCounts(c: Record<string, number>): string {
  return Object.entries(c)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/**
 * The live view for a terminal: a progress bar while a backlog drains, per stage its items/s and p50/p99 time
 * in the stage over the last minute (each module's getStatus `activity`) beside its totals, latest results, alerts.
 */
export function renderView(m: ViewModel): string {
  const lines: string[] = [];
  const w = watcherCounts(m.statuses['watcher']);
  lines.push(`EdgeML local runtime — ${(m.elapsedMs / 1000).toFixed(0)} s — $upstream messages: ${m.upstreamCount}`);
  if (w !== undefined) {
    const closed = w.completed + w.deadLettered;
    lines.push(`progress ${bar(closed, Math.max(w.detected, closed))}  pending=${w.pending} inFlight=${w.inFlight} deadLettered=${w.deadLettered}`);
  }
  lines.push(`  ${'stage'.padEnd(12)} ${'state'.padEnd(8)} ${'last minute: items/s and time in the stage'.padEnd(44)} totals`);
  for (const p of m.processes) {
    const counts = moduleCounts(m.statuses[p.name]);
    const activity = formatActivity(moduleActivity(m.statuses[p.name])) || '-';
    const restarts = p.restarts > 0 ? ` restarts=${p.restarts}` : '';
    lines.push(`  ${p.name.padEnd(12)} ${p.state.padEnd(8)} ${activity.padEnd(44)} ${fmtCounts(counts)}${restarts}`);
  }
  if (m.latestResults.length > 0) {
    lines.push('latest results:');
    for (const r of m.latestResults) lines.push(`  ${r}`);
  }
  if (m.errors.length > 0) {
    lines.push('recent alerts:');
    for (const e of m.errors) lines.push(`  ${e}`);
  }
  return lines.join('\n');
}

/** One plain line for non-terminal output. */
export function renderLine(m: ViewModel): string {
  const parts = [`t=${(m.elapsedMs / 1000).toFixed(0)}s`, `upstream=${m.upstreamCount}`];
  for (const p of m.processes) {
    const c = moduleCounts(m.statuses[p.name]);
    const a = moduleActivity(m.statuses[p.name]);
    const rate = a === undefined ? '' : ` ${a.perSecond.toFixed(2)}/s`;
    parts.push(`${p.name}:${p.state}${Object.keys(c).length > 0 ? `(${fmtCounts(c)}${rate})` : ''}`);
  }
  return parts.join(' ');
}
