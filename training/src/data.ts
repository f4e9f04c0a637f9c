/**
 * The training data: a Parquet or CSV file, or a folder — the uploaded dataset folder with its
 * `MLTable` (its `paths` and read transform are followed), or, without one, every Parquet file under it
 * (else every CSV). Read through DuckDB (the transformer's adapter), only the profile's columns, and
 * turned into feature rows exactly as the transformer's table profile does (scaled, missing values
 * filled per `missing`).
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { EdgeMLError, errorMessage, type TablePreprocessingSpec } from '@edgeml/shared';
import { createDuckDbEngine } from '@edgeml/transformer';

export type DataFormat = 'parquet' | 'csv';

/** The files to read and how. */
export interface DataSource {
  readonly format: DataFormat;
  readonly files: readonly string[];
  /** Where they were found: `MLTable`, a folder scan, or the file itself. */
  readonly via: 'mltable' | 'scan' | 'file';
}

const CSV_EXTENSIONS = new Set(['.csv', '.tsv', '.txt']);

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

/** A glob of MLTable's `pattern:` (`*`, `?`, `[…]`; `**` crosses folders) as a RegExp over relative paths. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = glob.indexOf(']', i);
      re += end < 0 ? '\\[' : glob.slice(i, end + 1);
      if (end >= 0) i = end;
    } else re += /[.+^${}()|\\]/.test(ch) ? `\\${ch}` : ch;
  }
  return new RegExp(`^${re}$`);
}

/** The files an `MLTable` names (relative paths only: the folder as Azure ML mounts or downloads it). */
async function fromMlTable(dir: string, text: string): Promise<DataSource> {
  const doc = parseYaml(text) as { paths?: unknown; transformations?: unknown } | null;
  const bad = (why: string): EdgeMLError => new EdgeMLError('INPUT_MALFORMED', `${path.join(dir, 'MLTable')}: ${why}`);
  if (!Array.isArray(doc?.paths) || doc.paths.length === 0) throw bad('no paths');
  const transforms = Array.isArray(doc.transformations) ? (doc.transformations as unknown[]) : [];
  const names = transforms.map((t) => (typeof t === 'string' ? t : Object.keys((t ?? {}) as object)[0]));
  const format: DataFormat | undefined = names.includes('read_parquet') ? 'parquet' : names.includes('read_delimited') ? 'csv' : undefined;
  if (format === undefined) throw bad('the training reads read_parquet or read_delimited tables');
  const all = (await walk(dir)).map((f) => path.relative(dir, f).split(path.sep).join('/'));
  const files = new Set<string>();
  for (const entry of doc.paths as Record<string, unknown>[]) {
    const [kind, value] = Object.entries(entry ?? {})[0] ?? [];
    if (typeof value !== 'string' || /^[a-z][a-z0-9+.-]*:/i.test(value)) throw bad(`path ${JSON.stringify(value)}: only paths relative to the MLTable are read here (Azure ML mounts the folder)`);
    const rel = path.posix.normalize(value.replace(/^\.\//, ''));
    if (rel.startsWith('..')) throw bad(`path ${value} leaves the folder`);
    if (kind === 'file') {
      files.add(rel);
    } else if (kind === 'folder') {
      for (const f of all) if (rel === '.' || f.startsWith(`${rel}/`)) files.add(f);
    } else if (kind === 'pattern') {
      const re = globToRegExp(rel);
      for (const f of all) if (re.test(f)) files.add(f);
    } else throw bad(`unknown path kind ${String(kind)} (file, folder, pattern)`);
  }
  const list = [...files].filter((f) => f !== 'MLTable').sort().map((f) => path.join(dir, f));
  if (list.length === 0) throw bad('its paths match no file');
  return { format, files: list, via: 'mltable' };
}

/** @throws EdgeMLError FILE_NOT_FOUND, INPUT_MALFORMED (nothing readable, an MLTable the training cannot follow) */
export async function locateData(input: string): Promise<DataSource> {
  const info = await stat(input).catch((err: unknown) => {
    throw new EdgeMLError('FILE_NOT_FOUND', `training data ${input} cannot be read: ${errorMessage(err)}`, { cause: err });
  });
  if (info.isFile()) {
    const ext = path.extname(input).toLowerCase();
    if (ext === '.parquet') return { format: 'parquet', files: [input], via: 'file' };
    if (CSV_EXTENSIONS.has(ext)) return { format: 'csv', files: [input], via: 'file' };
    throw new EdgeMLError('INPUT_MALFORMED', `training data ${input}: a .parquet or .csv file, or a folder, is expected`);
  }
  const mltable = await readFile(path.join(input, 'MLTable'), 'utf8').catch(() => undefined);
  if (mltable !== undefined) return fromMlTable(input, mltable);
  const all = await walk(input);
  const parquet = all.filter((f) => f.toLowerCase().endsWith('.parquet'));
  if (parquet.length > 0) return { format: 'parquet', files: parquet, via: 'scan' };
  const csv = all.filter((f) => CSV_EXTENSIONS.has(path.extname(f).toLowerCase()));
  if (csv.length > 0) return { format: 'csv', files: csv, via: 'scan' };
  throw new EdgeMLError('INPUT_MALFORMED', `training data ${input}: no MLTable, Parquet or CSV file in the folder`);
}

const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;
const sqlIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;

/**
 * The feature rows of the data, in the profile's units.
 * @throws EdgeMLError INPUT_MALFORMED when a column of the profile is missing; INTERNAL for DuckDB failures
 */
export async function readFeatureRows(source: DataSource, spec: TablePreprocessingSpec, options: { memoryLimitBytes?: number; threads?: number } = {}): Promise<number[][]> {
  const engine = createDuckDbEngine(() => ({ memoryLimitBytes: options.memoryLimitBytes ?? 512 * 1024 * 1024, threads: options.threads ?? 2 }));
  const session = await engine.session();
  try {
    const list = `[${source.files.map(sqlString).join(', ')}]`;
    const from = source.format === 'parquet' ? `read_parquet(${list}, union_by_name = true)` : `read_csv(${list}, header = true, union_by_name = true)`;
    const described = await session.all(`DESCRIBE SELECT * FROM ${from}`);
    const present = new Set(described.map((r) => String(r['column_name'])));
    const absent = spec.columns.filter((c) => !present.has(c));
    if (absent.length > 0) throw new EdgeMLError('INPUT_MALFORMED', `the training data has no column ${absent.map((c) => JSON.stringify(c)).join(', ')} (columns: ${[...present].join(', ')})`);
    const select = spec.columns.map((c, i) => `TRY_CAST(${sqlIdent(c)} AS DOUBLE) AS c${i}`).join(', ');
    // A row with none of the columns is no training row (another table's, in a folder of several datasets).
    const anyPresent = spec.columns.map((c) => `${sqlIdent(c)} IS NOT NULL`).join(' OR ');
    const rows = await session.all(`SELECT ${select} FROM ${from} WHERE ${anyPresent}`);
    const fill = spec.columns.map((_, i) => (spec.missing === 'mean' ? 0 : (0 - spec.mean[i]!) / spec.std[i]!));
    return rows.map((r) =>
      spec.columns.map((_, i) => {
        const v = r[`c${i}`];
        return typeof v === 'number' && Number.isFinite(v) ? (v - spec.mean[i]!) / spec.std[i]! : fill[i]!;
      }),
    );
  } finally {
    session.close();
    engine.close();
  }
}
