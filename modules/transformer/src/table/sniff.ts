import { classifyText } from './values.js';

/** Delimiters auto-detection chooses from, in order of preference on a tie. */
export const DELIMITER_CANDIDATES = [',', '\t', ';', '|'] as const;
export type Delimiter = (typeof DELIMITER_CANDIDATES)[number];

/** How many leading records the sniffers look at. */
export const SNIFF_RECORDS = 20;

/**
 * Counts each candidate delimiter outside quotes, per record, over the first `SNIFF_RECORDS`
 * records of `sample` (quoted fields may span lines). When `complete` is false the last,
 * possibly cut-off record is ignored.
 */
export function delimiterCounts(sample: string, complete: boolean): Map<Delimiter, number[]> {
  const counts = new Map<Delimiter, number[]>(DELIMITER_CANDIDATES.map((d) => [d, []]));
  let current = new Map<Delimiter, number>(DELIMITER_CANDIDATES.map((d) => [d, 0]));
  let inQuotes = false;
  let records = 0;
  let recordHasContent = false;
  const endRecord = (): void => {
    if (recordHasContent) {
      for (const d of DELIMITER_CANDIDATES) counts.get(d)!.push(current.get(d)!);
      records++;
    }
    current = new Map<Delimiter, number>(DELIMITER_CANDIDATES.map((d) => [d, 0]));
    recordHasContent = false;
  };
  for (let i = 0; i < sample.length && records < SNIFF_RECORDS; i++) {
    const ch = sample[i]!;
    if (inQuotes) {
      if (ch === '"') {
        if (sample[i + 1] === '"') i++;
        else inQuotes = false;
      }
      continue;
    }
    if (ch === '"') {
      inQuotes = true;
      recordHasContent = true;
    } else if (ch === '\n' || ch === '\r') {
      endRecord();
    } else {
      recordHasContent = true;
      if (ch === ',' || ch === '\t' || ch === ';' || ch === '|') current.set(ch, current.get(ch)! + 1);
    }
  }
  if (complete && !inQuotes && records < SNIFF_RECORDS) endRecord();
  return counts;
}

/**
 * Picks the delimiter: the candidate that appears the same, non-zero number of times in every
 * sampled record (the most such times wins; ties go by {@link DELIMITER_CANDIDATES} order);
 * failing that, the one most often at its most common count; failing that `,` (one column).
 */
export function detectDelimiter(sample: string, complete: boolean): Delimiter {
  const counts = delimiterCounts(sample, complete);
  let best: Delimiter | undefined;
  let bestCount = 0;
  for (const d of DELIMITER_CANDIDATES) {
    const c = counts.get(d)!;
    const first = c[0] ?? 0;
    if (first > 0 && c.every((n) => n === first) && first > bestCount) {
      best = d;
      bestCount = first;
    }
  }
  if (best !== undefined) return best;
  let bestScore = 0;
  for (const d of DELIMITER_CANDIDATES) {
    const freq = new Map<number, number>();
    for (const n of counts.get(d)!) if (n > 0) freq.set(n, (freq.get(n) ?? 0) + 1);
    const score = Math.max(0, ...freq.values());
    if (score > bestScore) {
      best = d;
      bestScore = score;
    }
  }
  return best ?? ',';
}

/**
 * Whether the first record is a header: every non-empty cell is text (not a number, boolean or
 * date), at least one cell is non-empty, and the non-empty cells are distinct. A table whose
 * every cell is text is read as having a header; the twin's `table.header` overrides.
 */
export function detectHeader(first: readonly string[], nullValues: ReadonlySet<string>): boolean {
  const cells = first.filter((c) => !nullValues.has(c) && c.trim().length > 0);
  if (cells.length === 0) return false;
  if (new Set(cells).size !== cells.length) return false;
  return cells.every((c) => classifyText(c.trim()) === 'utf8');
}

/** Column names from a header row: empty names become `column_<n>`, duplicates get `_2`, `_3`, …. */
export function columnNames(header: readonly string[] | undefined, width: number): string[] {
  const names: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < width; i++) {
    const raw = header?.[i]?.trim() ?? '';
    const base = raw.length > 0 ? raw : `column_${i + 1}`;
    let name = base;
    for (let n = 2; seen.has(name); n++) name = `${base}_${n}`;
    seen.add(name);
    names.push(name);
  }
  return names;
}
