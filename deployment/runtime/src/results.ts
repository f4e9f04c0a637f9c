/**
 * What was inferred per source file, folded from `$upstream` journal records (pure, no I/O): the
 * `edgeml results` command and the live view's latest results. Generic over result kinds: a chain's
 * text (or labels), a classifier's label and score, a detector's box count, anomaly windows; a result
 * of another kind shows its profile and output keys. The latest record of a part wins, so a model
 * swap or a re-run replaces what the line says instead of adding to it.
 */

/** Longest text shown on a line before it is cut with `…` (the JSON form keeps it whole). */
export const RESULT_LINE_TEXT_CHARS = 60;
/** Flagged anomaly rows named on a line before `…`. */
const ROWS_NAMED = 3;

/** One chain's result for the file (`edgeml.chain.result/v1`). */
export interface ChainSummary {
  readonly chain: string;
  /** The accepted items' text, rows on their own lines (empty when the reader is a classifier or nothing was read). */
  readonly text: string;
  readonly lines: number;
  /** Items the chain read, and of those the accepted ones. */
  readonly items: number;
  readonly accepted: number;
  /** Mean confidence (or score) of the accepted items; absent when none was accepted. */
  readonly confidence?: number;
  /** A classifier chain's labels, of the accepted items in reading order. */
  readonly labels: readonly string[];
  readonly upsideDown: boolean;
}

/** One `result:<profile>` of the file (anomaly windows are gathered in {@link AnomalySummary}). */
export type PartSummary =
  | { readonly kind: 'classification'; readonly profile: string; readonly model: string; readonly label: string; readonly score: number; readonly disagrees?: boolean }
  | { readonly kind: 'detection'; readonly profile: string; readonly model: string; readonly boxes: number }
  | { readonly kind: 'text'; readonly profile: string; readonly model: string; readonly text: string; readonly confidence?: number }
  | { readonly kind: 'other'; readonly profile: string; readonly model: string; readonly keys: readonly string[] };

/** The anomaly windows of one profile seen so far. */
export interface AnomalySummary {
  readonly profile: string;
  readonly model: string;
  readonly windows: number;
  readonly rows: number;
  /** Flagged rows of the whole table (row numbers of the source), ascending. */
  readonly flaggedRows: readonly number[];
}

/** Everything known about one source file, as `edgeml results --json` prints it (one object per file). */
export interface FileSummary {
  /** The source's path on the share, e.g. `inbox/sample-03.png`. */
  readonly file: string;
  /** The source's content id (SHA-256). */
  readonly id: string;
  /** `receivedAt` of the latest record that changed it. */
  readonly updatedAt: string;
  /** The first chain's text, when it read any. */
  readonly text?: string;
  /** The first classifier's label and score. */
  readonly label?: string;
  readonly score?: number;
  /** The first detector's box count. */
  readonly boxes?: number;
  /** One entry per anomaly profile (usually one). */
  readonly anomalies?: readonly AnomalySummary[];
  readonly chains: readonly ChainSummary[];
  readonly results: readonly PartSummary[];
  /** Why the uploader put a result of this file in its `to-label` dataset, when it did. */
  readonly hardExample?: readonly string[];
}

interface AnomalyWindow {
  readonly firstRow: number;
  readonly rows: number;
  readonly flagged: readonly number[];
}

interface FileState {
  readonly file: string;
  readonly id: string;
  updatedAt: string;
  readonly chains: Map<string, ChainSummary>;
  readonly parts: Map<string, PartSummary>;
  /** profile → model and window part → window. */
  readonly anomalies: Map<string, { model: string; windows: Map<string, AnomalyWindow> }>;
  hardExample?: readonly string[];
}

type Obj = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** `result:anomaly.w3` → `anomaly` and the window; `result:cls` → `cls`. */
function profileOf(part: string): { profile: string; window?: string } {
  const name = part.startsWith('result:') ? part.slice('result:'.length) : part;
  const m = /^(.*)\.(w\d+)$/.exec(name);
  return m === null ? { profile: name } : { profile: m[1]!, window: m[2]! };
}

function chainSummary(body: Obj): ChainSummary {
  const items = Array.isArray(body['items']) ? body['items'].filter(isObj) : [];
  const accepted = items.filter((i) => i['accepted'] === true);
  const confidences = accepted.map((i) => num(i['confidence']) ?? num(i['score'])).filter((c): c is number => c !== undefined);
  const text = str(body['text']) ?? '';
  return {
    chain: str(body['chain']) ?? '?',
    text,
    lines: text === '' ? 0 : text.split('\n').length,
    items: items.length,
    accepted: accepted.length,
    ...(confidences.length === 0 ? {} : { confidence: confidences.reduce((a, b) => a + b, 0) / confidences.length }),
    labels: accepted.map((i) => str(i['label'])).filter((l): l is string => l !== undefined),
    upsideDown: body['upsideDown'] === true,
  };
}

/** What one whole-file inference result says, by the shape of its outputs. */
function partSummary(profile: string, model: string, outputs: Obj, comparison: unknown): PartSummary {
  const text = str(outputs['text']);
  if (text !== undefined) {
    const confidence = num(outputs['confidence']) ?? num(outputs['score']);
    return { kind: 'text', profile, model, text, ...(confidence === undefined ? {} : { confidence }) };
  }
  const boxes = Array.isArray(outputs['boxes']) ? outputs['boxes'].length : num(outputs['boxCount']);
  if (boxes !== undefined) return { kind: 'detection', profile, model, boxes };
  const score = num(outputs['score']);
  if (outputs['label'] !== undefined && score !== undefined) {
    const disagrees = isObj(comparison) && comparison['agrees'] === false;
    return { kind: 'classification', profile, model, label: String(outputs['label']), score, ...(disagrees ? { disagrees } : {}) };
  }
  return { kind: 'other', profile, model, keys: Object.keys(outputs) };
}

function anomalyWindow(outputs: Obj): AnomalyWindow | undefined {
  const firstRow = num(outputs['firstRow']);
  const rows = num(outputs['rows']);
  if (firstRow === undefined || rows === undefined || !Array.isArray(outputs['flagged'])) return undefined;
  const flagged = outputs['flagged'].map((f) => (isObj(f) ? num(f['row']) : undefined)).filter((r): r is number => r !== undefined);
  return { firstRow, rows, flagged };
}

/**
 * The fold over `$upstream` records: {@link FileResults.add} each record in journal order, then read
 * {@link FileResults.summaries} (files in order of first appearance) or {@link FileResults.lines}.
 */
export class FileResults {
  readonly #files = new Map<string, FileState>();
  /** The same keys, least recently changed first. */
  readonly #recent = new Map<string, true>();
  readonly #maxFiles: number;

  /**
   * @param options.maxFiles files kept (default: no bound); beyond it the least recently changed file
   * is forgotten, so a long-running view stays bounded
   */
  constructor(options: { readonly maxFiles?: number } = {}) {
    this.#maxFiles = options.maxFiles ?? Number.POSITIVE_INFINITY;
    if (!(this.#maxFiles >= 1)) throw new RangeError(`maxFiles must be at least 1, got ${String(options.maxFiles)}`);
  }

  /**
   * Takes one journal record (`{ receivedAt, body, … }`, as parsed from a line).
   * @returns the key of the file whose results it changed, or undefined for a record that is not about
   * a file's inference (alerts, rollouts, a chain's per-crop readings, anything unreadable)
   */
  add(record: unknown): string | undefined {
    if (!isObj(record) || !isObj(record['body'])) return undefined;
    const body = record['body'];
    const source = isObj(body['source']) ? body['source'] : undefined;
    const file = str(source?.['path']);
    const id = str(body['id']) ?? str(source?.['sha256']);
    if (file === undefined || id === undefined) return undefined;
    const schema = body['schema'];
    const apply =
      schema === 'edgeml.chain.result/v1'
        ? (s: FileState) => this.#addChain(s, body)
        : schema === 'edgeml.inference.result/v1'
          ? (s: FileState) => this.#addResult(s, body)
          : schema === 'edgeml.hard-example/v1'
            ? (s: FileState) => this.#addHardExample(s, body)
            : undefined;
    if (apply === undefined) return undefined;
    // A chain's per-crop reading is about a crop; the chain's result sums the file up.
    if (schema === 'edgeml.inference.result/v1' && body['chain'] !== undefined) return undefined;
    const key = `${file}\u0000${id}`;
    const known = this.#files.get(key);
    const state: FileState = known ?? { file, id, updatedAt: '', chains: new Map(), parts: new Map(), anomalies: new Map() };
    if (!apply(state)) return undefined;
    if (known === undefined) this.#files.set(key, state);
    state.updatedAt = str(record['receivedAt']) ?? str(body['createdAt']) ?? state.updatedAt;
    this.#recent.delete(key);
    this.#recent.set(key, true);
    for (const oldest of this.#recent.keys()) {
      if (this.#recent.size <= this.#maxFiles) break;
      this.#recent.delete(oldest);
      this.#files.delete(oldest);
    }
    return key;
  }

  #addChain(state: FileState, body: Obj): boolean {
    const summary = chainSummary(body);
    state.chains.set(summary.chain, summary);
    return true;
  }

  #addResult(state: FileState, body: Obj): boolean {
    const part = str(body['part']);
    if (part === undefined || !isObj(body['outputs'])) return false;
    const model = str(isObj(body['model']) ? body['model']['name'] : undefined) ?? '?';
    const { profile, window } = profileOf(part);
    const anomaly = window === undefined ? undefined : anomalyWindow(body['outputs']);
    if (window !== undefined && anomaly !== undefined) {
      const entry = state.anomalies.get(profile) ?? { model, windows: new Map<string, AnomalyWindow>() };
      entry.model = model;
      entry.windows.set(window, anomaly);
      state.anomalies.set(profile, entry);
      return true;
    }
    state.parts.set(part, partSummary(profile, model, body['outputs'], body['comparison']));
    return true;
  }

  #addHardExample(state: FileState, body: Obj): boolean {
    const reasons = Array.isArray(body['reasons']) ? body['reasons'].map(String) : [];
    state.hardExample = [...new Set([...(state.hardExample ?? []), ...reasons])];
    return true;
  }

  /** The summary of one file by the key {@link add} returned; undefined for an unknown key. */
  summary(key: string): FileSummary | undefined {
    const s = this.#files.get(key);
    return s === undefined ? undefined : summarise(s);
  }

  /** Every file's summary, in order of first appearance. */
  summaries(): FileSummary[] {
    return [...this.#files.values()].map(summarise);
  }

  /** The `count` most recently changed files' lines, the latest last (the live view's latest results). */
  latestLines(count: number): string[] {
    const keys = [...this.#recent.keys()].slice(-count);
    return keys.map((k) => describeFile(summarise(this.#files.get(k)!)));
  }

  /** One line per file ({@link describeFile}), in order of first appearance. */
  lines(): string[] {
    return this.summaries().map(describeFile);
  }
}

function summarise(s: FileState): FileSummary {
  const chains = [...s.chains.values()];
  // By part name, so a line reads the same whichever result arrived first.
  const results = [...s.parts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => p);
  const withText = chains.find((c) => c.text !== '');
  const cls = results.find((r) => r.kind === 'classification');
  const det = results.find((r) => r.kind === 'detection');
  const anomalies = [...s.anomalies.entries()].map(([profile, a]): AnomalySummary => {
    const windows = [...a.windows.values()];
    const flaggedRows = [...new Set(windows.flatMap((w) => w.flagged))].sort((x, y) => x - y);
    return { profile, model: a.model, windows: windows.length, rows: windows.reduce((n, w) => n + w.rows, 0), flaggedRows };
  });
  return {
    file: s.file,
    id: s.id,
    updatedAt: s.updatedAt,
    ...(withText === undefined ? {} : { text: withText.text }),
    ...(cls === undefined ? {} : { label: cls.label, score: cls.score }),
    ...(det === undefined ? {} : { boxes: det.boxes }),
    ...(anomalies.length === 0 ? {} : { anomalies }),
    chains,
    results,
    ...(s.hardExample === undefined ? {} : { hardExample: s.hardExample }),
  };
}

/** `text` on one line (rows joined by ` | `), cut at `maxChars` with `…`. */
export function oneLine(text: string, maxChars = RESULT_LINE_TEXT_CHARS): string {
  const flat = text.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' | ');
  return flat.length > maxChars ? `${flat.slice(0, maxChars - 1)}…` : flat;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function describeChain(c: ChainSummary): string {
  const turned = c.upsideDown ? ', upside down' : '';
  const conf = c.confidence === undefined ? '' : `, conf ${c.confidence.toFixed(2)}`;
  if (c.text !== '') return `text "${oneLine(c.text)}" (${plural(c.lines, 'line')}${conf}${turned})`;
  if (c.labels.length > 0) return `${c.chain} ${oneLine(c.labels.join(', '))} (${plural(c.accepted, 'item')}${conf}${turned})`;
  return `${c.chain} nothing read (${c.accepted} of ${plural(c.items, 'item')} accepted)`;
}

function describePart(p: PartSummary): string {
  switch (p.kind) {
    case 'classification':
      return `${p.profile} ${p.label} (${p.score.toFixed(3)})${p.disagrees === true ? ' candidate disagrees' : ''}`;
    case 'detection':
      return `${p.profile} ${plural(p.boxes, 'box', 'boxes')}`;
    case 'text':
      return `${p.profile} "${oneLine(p.text)}"${p.confidence === undefined ? '' : ` (conf ${p.confidence.toFixed(2)})`}`;
    case 'other':
      return `${p.profile} ${p.model} {${p.keys.join(',')}}`;
  }
}

function describeAnomalies(a: AnomalySummary): string {
  const named = a.flaggedRows.slice(0, ROWS_NAMED).join(', ');
  const rows = a.flaggedRows.length === 0 ? '' : ` (${a.flaggedRows.length === 1 ? 'row' : 'rows'} ${named}${a.flaggedRows.length > ROWS_NAMED ? ', …' : ''})`;
  return `${a.profile} ${a.flaggedRows.length} of ${a.rows} rows flagged${rows} in ${plural(a.windows, 'window')}`;
}

/**
 * One line for a person: the file, then what each chain read, each result, the anomaly windows, e.g.
 * `inbox/sample-11.png  text "Rack C-04" (1 line, conf 0.99)  cls 0 (0.983)  det 1 box`.
 */
export function describeFile(f: FileSummary): string {
  const parts = [...f.chains.map(describeChain), ...f.results.map(describePart), ...(f.anomalies ?? []).map(describeAnomalies)];
  if (f.hardExample !== undefined) parts.push(`hard example (${f.hardExample.join(', ')})`);
  return [f.file, ...(parts.length === 0 ? ['no result yet'] : parts)].join('  ');
}
