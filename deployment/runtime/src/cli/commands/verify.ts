import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import Database from 'better-sqlite3';
import { AZURITE_ACCOUNT, AZURITE_KEY } from '../../azurite.js';
import { CliError, EXIT_CODES, usageError, type CliCommand, type CliContext } from '../command.js';
import { renderTable, toJson } from '../render.js';

/**
 * `edgeml verify`: the administrator's check that what the watcher's ledger holds as completed is in
 * Blob Storage, intact. The watcher's ledger knows which parts of a file the uploader acknowledged,
 * not under which blob name; the uploader's queue file keeps a committed record per upload (`done`:
 * blob name, MD5, content SHA-256; key `a:<blob>` for an artifact, `r:<message id>` for a result
 * line). So, read-only, from both files:
 * - every `completed` file with an `uploaded` artifact part → the uploader's record whose blob name
 *   holds the file's id (blob names must contain `{id}`) → the blob exists and its Content-MD5 (or,
 *   when the service kept none, the MD5 of its bytes) equals the record's;
 * - every result batch blob the uploader committed → the same check (result lines are batched
 *   across files, so they are verified per batch, not per file).
 * A gap: no record, a missing blob, another MD5. Records the uploader pruned (after its done-ledger
 * retention) are gaps too, reported as such. Directory-sink records are checked as files below
 * `--directory` (default `<data>/cloudshare`).
 */

interface Check {
  readonly file: string;
  readonly id: string;
  readonly part: string;
  readonly blob: string;
  readonly status: 'ok' | 'missing' | 'md5 mismatch' | 'no upload record';
  readonly detail?: string;
}

interface DoneRow {
  readonly key: string;
  readonly blob_name: string;
  readonly md5: string;
  readonly sink: string;
}

interface Options {
  connectionString?: string;
  container: string;
  dataDir?: string;
  directory?: string;
}

function parseArgs(args: readonly string[], ctx: CliContext): Options {
  const o: Options = { container: 'edgeml' };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw usageError(`${a} needs a value`);
      return v;
    };
    if (a === '--connection-string') o.connectionString = value();
    else if (a === '--container') o.container = value();
    else if (a === '--data') o.dataDir = path.resolve(ctx.cwd, value());
    else if (a === '--directory') o.directory = path.resolve(ctx.cwd, value());
    else throw usageError(`verify: unknown option ${a}`);
  }
  return o;
}

/** The running suite's data folder and Azurite endpoint (runtime.json), when there is one. */
async function runtimeInfo(workDir: string): Promise<{ dataDir?: string; blobEndpoint?: string }> {
  try {
    return JSON.parse(await readFile(path.join(workDir, 'runtime.json'), 'utf8')) as { dataDir?: string; blobEndpoint?: string };
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read runtime.json: ${(err as Error).message}`, EXIT_CODES.failed, { cause: err });
  }
}

function openReadOnly(file: string, what: string): Database.Database {
  if (!existsSync(file)) throw new CliError(`no ${what} at ${file} (pass --data <the device's /data folder>)`, EXIT_CODES.failed);
  return new Database(file, { readonly: true, fileMustExist: true });
}

/** What the two files say should be in storage: one expected blob per check. */
function expectations(dataDir: string): { checks: Omit<Check, 'status'>[]; records: Map<string, DoneRow> } {
  const ledger = openReadOnly(path.join(dataDir, 'state', 'watcher', 'ledger.sqlite'), "watcher's ledger");
  const queue = openReadOnly(path.join(dataDir, 'state', 'uploader', 'queue.sqlite'), "uploader's queue file");
  try {
    const done = queue.prepare('SELECT key, blob_name, md5, sink FROM done').all() as DoneRow[];
    const records = new Map(done.map((d) => [d.blob_name, d]));
    const artifacts = done.filter((d) => d.key.startsWith('a:'));
    const parts = ledger
      .prepare("SELECT i.id AS id, i.path AS path, a.part AS part FROM items i JOIN acks a ON a.id = i.id WHERE i.state = 'completed' AND a.outcome = 'uploaded' AND a.part = 'artifact' ORDER BY i.path")
      .all() as { id: string; path: string; part: string }[];
    const checks: Omit<Check, 'status'>[] = parts.map((p) => {
      const record = artifacts.find((d) => d.blob_name.split('/').includes(p.id));
      return { file: p.path, id: p.id, part: p.part, blob: record?.blob_name ?? '' };
    });
    const batches = [...new Set(done.filter((d) => d.key.startsWith('r:')).map((d) => d.blob_name))].sort();
    for (const b of batches) checks.push({ file: '(result batch)', id: '', part: 'results', blob: b });
    return { checks, records };
  } finally {
    ledger.close();
    queue.close();
  }
}

async function md5OfBlob(container: ContainerClient, name: string): Promise<string | undefined> {
  const blob = container.getBlobClient(name);
  if (!(await blob.exists())) return undefined;
  const props = await blob.getProperties();
  if (props.contentMD5 !== undefined && props.contentMD5.length > 0) return Buffer.from(props.contentMD5).toString('base64');
  return createHash('md5').update(await blob.downloadToBuffer()).digest('base64');
}

async function md5OfFile(file: string): Promise<string | undefined> {
  try {
    return createHash('md5').update(await readFile(file)).digest('base64');
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function render(checks: readonly Check[]): string {
  const gaps = checks.filter((c) => c.status !== 'ok').length;
  const rows = checks.map((c) => [c.file, c.id.slice(0, 12), c.part, c.blob || '-', c.status]);
  return `${renderTable(['file', 'id', 'part', 'blob', 'status'], rows)}\n${checks.length} checked, ${gaps} gap${gaps === 1 ? '' : 's'}\n`;
}

export const verifyCommand: CliCommand = {
  name: 'verify',
  usage: 'verify [--data DIR] [--connection-string CS] [--container NAME] [--directory DIR]   every completed file\'s blob exists with its MD5 (exit 1 on a gap)',
  async run(args, ctx) {
    const o = parseArgs(args, ctx);
    const info = await runtimeInfo(ctx.workDir);
    const dataDir = o.dataDir ?? info.dataDir ?? path.join(ctx.workDir, 'data');
    const cs =
      o.connectionString ??
      ctx.env['EDGEML_STORAGE_CONNECTION_STRING'] ??
      (info.blobEndpoint === undefined ? undefined : `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${info.blobEndpoint};`);
    const { checks: expected, records } = expectations(dataDir);
    const container = cs === undefined ? undefined : BlobServiceClient.fromConnectionString(cs).getContainerClient(o.container);
    const directory = o.directory ?? path.join(dataDir, 'cloudshare');
    const checks: Check[] = [];
    for (const e of expected) {
      const record = records.get(e.blob);
      if (record === undefined) {
        checks.push({ ...e, status: 'no upload record', detail: 'the uploader keeps no committed record for this file (never uploaded, or pruned)' });
        continue;
      }
      if (record.sink === 'blob' && container === undefined) throw new CliError('no storage to check: pass --connection-string, set EDGEML_STORAGE_CONNECTION_STRING, or run it while npm start runs', EXIT_CODES.failed);
      const md5 = record.sink === 'blob' ? await md5OfBlob(container!, e.blob) : await md5OfFile(path.join(directory, ...e.blob.split('/')));
      if (md5 === undefined) checks.push({ ...e, status: 'missing' });
      else if (md5 !== record.md5) checks.push({ ...e, status: 'md5 mismatch', detail: `stored ${md5}, uploaded ${record.md5}` });
      else checks.push({ ...e, status: 'ok' });
    }
    const gaps = checks.filter((c) => c.status !== 'ok');
    ctx.write(ctx.json ? toJson({ ok: gaps.length === 0, checked: checks.length, gaps: gaps.length, checks }) : render(checks));
    for (const g of gaps) ctx.warn(`gap: ${g.status}: ${g.blob || g.file}${g.detail === undefined ? '' : ` (${g.detail})`}`);
    return gaps.length === 0 ? EXIT_CODES.ok : EXIT_CODES.failed;
  },
};
