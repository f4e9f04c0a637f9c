/**
 * Helpers for tests that run the whole suite through `startLocalRuntime` (tests/faults): start a
 * fresh instance, drop files the way a writer does (write beside the inbox, rename in), read the
 * `$upstream` journal, and read back every blob with its metadata and content hash.
 */
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { BlobServiceClient } from '@azure/storage-blob';
import { createLogger, sleep } from '@edgeml/shared';
import { startLocalRuntime, type LocalRuntime, type RunSummary } from '@edgeml/runtime';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A logger that discards everything (set EDGEML_TEST_LOG=info to see the runtime's own lines). */
export const quietLogger = createLogger({
  name: 'faults',
  level: process.env['EDGEML_TEST_LOG'] ?? 'silent',
  ...(process.env['EDGEML_TEST_LOG'] === undefined ? { destination: new Writable({ write: (_c, _e, cb) => cb() }) } : {}),
});

export interface SuiteHandle {
  readonly runtime: LocalRuntime;
  readonly workDir: string;
  /** Stops the runtime and removes the work folder unless EDGEML_KEEP_WORKDIR is set. */
  close(): Promise<void>;
}

/**
 * Starts the suite on a fresh work folder with no demo data and Azurite as the blob endpoint. With
 * `runtimeLog`, the runtime's own logger (hub, workload API, supervisor) writes JSON lines at debug
 * level to `<workDir>/logs/runtime.log`, as `npm start` does. `env` adds variables the manifest's
 * `$VARS` resolve from (e.g. a secret file for the uploader).
 */
export async function startSuite(prefix: string, options: { runtimeLog?: boolean; env?: Readonly<Record<string, string>> } = {}): Promise<SuiteHandle> {
  const workDir = await mkdtemp(path.join(tmpdir(), prefix));
  let logger = quietLogger;
  if (options.runtimeLog === true) {
    await mkdir(path.join(workDir, 'logs'), { recursive: true });
    logger = createLogger({ name: 'runtime', level: 'debug', destination: createWriteStream(path.join(workDir, 'logs', 'runtime.log'), { flags: 'a' }) });
  }
  const runtime = await startLocalRuntime({
    repoRoot,
    workDir,
    demo: false,
    hubPort: 0,
    env: {
      ...process.env,
      EDGEML_STORAGE_CONNECTION_STRING: '',
      EDGEML_STORAGE_CONTAINER_SAS_URL: '',
      EDGEML_STORAGE_CONNECTION_STRING_FILE: '',
      EDGEML_STORAGE_CONTAINER_SAS_URL_FILE: '',
      ...options.env,
    },
    logger,
  });
  let closed: Promise<void> | undefined;
  return {
    runtime,
    workDir,
    close() {
      closed ??= (async () => {
        await runtime.stop();
        if (process.env['EDGEML_KEEP_WORKDIR'] === undefined) await rm(workDir, { recursive: true, force: true });
        else process.stdout.write(`      work folder kept: ${workDir}\n`);
      })();
      return closed;
    },
  };
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes `data` beside the inbox (share/.<name>.partial) and renames it in, as a careful writer does. */
export async function dropFile(runtime: LocalRuntime, name: string, data: Buffer | string): Promise<string> {
  const tmp = path.join(runtime.paths.share, `.drop-${sha256(name).slice(0, 16)}.partial`);
  await writeFile(tmp, data);
  const dest = path.join(runtime.paths.inbox, name);
  await rename(tmp, dest);
  return dest;
}

export interface JournalRecord {
  readonly receivedAt: string;
  readonly source: string;
  readonly properties: Readonly<Record<string, string>>;
  readonly body: {
    readonly schema?: string;
    readonly id?: string;
    readonly part?: string;
    readonly module?: string;
    readonly code?: string;
    readonly message?: string;
    readonly details?: Readonly<Record<string, unknown>>;
    readonly source?: { readonly path: string; readonly sha256: string; readonly stableAt?: string };
    readonly outputs?: Readonly<Record<string, unknown>>;
    readonly model?: { readonly name: string; readonly version: string; readonly sha256: string; readonly digest?: string };
  };
}

export async function readJournal(file: string): Promise<JournalRecord[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as JournalRecord);
}

export const RESULT_SCHEMA = 'edgeml.inference.result/v1';
export const ALERT_SCHEMA = 'edgeml.alert/v1';

export interface BlobRecord {
  /** `<container>/<blob name>` */
  readonly name: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly sizeBytes: number;
  /** SHA-256 of the downloaded content (only when `download` was asked for). */
  readonly contentSha256?: string;
  readonly content?: Buffer;
}

/** Lists every blob in every container; with `download`, fetches each one and hashes it. */
export async function listBlobs(connectionString: string, options: { download?: boolean } = {}): Promise<BlobRecord[]> {
  const service = BlobServiceClient.fromConnectionString(connectionString);
  const out: BlobRecord[] = [];
  for await (const c of service.listContainers()) {
    const container = service.getContainerClient(c.name);
    for await (const b of container.listBlobsFlat({ includeMetadata: true })) {
      const base = { name: `${c.name}/${b.name}`, metadata: b.metadata ?? {}, sizeBytes: b.properties.contentLength ?? 0 };
      if (options.download === true) {
        const content = await container.getBlobClient(b.name).downloadToBuffer();
        out.push({ ...base, content, contentSha256: sha256(content) });
      } else out.push(base);
    }
  }
  return out;
}

/** Polls `predicate` until it is true or `timeoutMs` passes (then throws naming `what`). */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string, pollMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

/** restarts per module from the supervisor (a restart means a module process died). */
export function restartCounts(runtime: LocalRuntime): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, p] of runtime.processes) out[name] = p.snapshot().restarts;
  return out;
}

/**
 * Runs `npm start -- --until-idle` as a user does (the built runtime, a fresh hub port, Azurite as the blob
 * endpoint) on `workDir` and returns its exit code, its output and the JSON summary of its last line.
 */
export async function runUntilIdle(workDir: string, idleTimeoutS: number): Promise<{ code: number | null; stdout: string; stderr: string; summary: RunSummary | undefined }> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'deployment/runtime/dist/bin/start.js'), '--until-idle', '--workdir', workDir, '--hub-port', '0', '--idle-timeout', String(idleTimeoutS)], {
    cwd: repoRoot,
    env: { ...process.env, EDGEML_STORAGE_CONNECTION_STRING: '', EDGEML_STORAGE_CONTAINER_SAS_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  let summary: RunSummary | undefined;
  try {
    summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as RunSummary;
  } catch {
    summary = undefined; // the assertion on `code` says why, with the output
  }
  return { code, stdout, stderr, summary };
}
