import { WATCHER_CONFIG_DEFAULTS } from './config.js';
import { Ledger } from './ledger.js';
import { createPathFilter } from './patterns.js';

/**
 * `--self-check` beyond the shared one: the better-sqlite3 native addon loads and a ledger works
 * (in memory), and the default patterns compile. Returns the problems (empty when fine).
 */
export function watcherSelfCheck(): string[] {
  const problems: string[] = [];
  try {
    const ledger = Ledger.open(':memory:');
    try {
      const id = '0'.repeat(64);
      ledger.recordStable([{ path: 'self-check', sizeBytes: 0, mtimeMs: 0, id, detectedAt: 0, stableAt: 0 }], 0);
      if (ledger.takeForEmission(1, 0).length !== 1) problems.push('ledger: a recorded file could not be taken for emission');
    } finally {
      ledger.close();
    }
  } catch (err: unknown) {
    problems.push(`ledger: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    const accepted = createPathFilter(WATCHER_CONFIG_DEFAULTS)('a.jpg').accepted;
    if (!accepted) problems.push('patterns: the default filter refuses a.jpg');
  } catch (err: unknown) {
    problems.push(`patterns: ${err instanceof Error ? err.message : String(err)}`);
  }
  return problems;
}
