import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import {
  Registry,
  SCHEMAS,
  createLogger,
  createMemoryEdgeClient,
  createTwinConfigBinder,
  dataPaths,
  sha256,
  type DataPaths,
  type FileKind,
  type FileMessage,
  type MemoryEdgeClient,
} from '@edgeml/shared';
import { createTransformerApp, transformerModule, type TransformerApp, type TransformerConfig } from '@edgeml/transformer';

/** A temp data root with the share layout. */
export async function makeDataRoot(): Promise<{ paths: DataPaths; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'edgeml-transformer-'));
  const paths = dataPaths(root);
  await mkdir(paths.inbox, { recursive: true });
  await mkdir(paths.staging, { recursive: true });
  return { paths, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** Validates a desired document like the twin binder does (defaults filled in). */
export function configFrom(desired: Record<string, unknown> = {}): TransformerConfig {
  const binder = createTwinConfigBinder<TransformerConfig>({
    schema: transformerModule.configSchema,
    build: transformerModule.buildConfig!,
    apply: () => Promise.resolve(),
    report: () => Promise.resolve(),
    logger: createLogger({ name: 'test', level: 'silent' }),
  });
  const r = binder.validate(desired);
  if ('problems' in r) throw new Error(`test config invalid: ${r.problems.join('; ')}`);
  return r.config;
}

export function kindOf(name: string): FileKind {
  const ext = path.extname(name).toLowerCase();
  if (['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif'].includes(ext)) return 'image';
  if (['.csv', '.tsv', '.jsonl', '.ndjson'].includes(ext)) return 'table';
  return 'other';
}

/** Writes `content` into the inbox and returns the edgeml.file/v1 message the watcher would send. */
export async function dropFile(paths: DataPaths, name: string, content: Buffer | string): Promise<FileMessage> {
  const abs = path.join(paths.inbox, name);
  await mkdir(path.dirname(abs), { recursive: true });
  await writeFile(abs, content);
  return fileMessageFor(name, Buffer.isBuffer(content) ? content : Buffer.from(content));
}

export function fileMessageFor(name: string, content: Buffer, rel = `inbox/${name}`): FileMessage {
  const id = sha256(content);
  const t = '2026-11-24T12:00:00.000Z';
  return {
    schema: SCHEMAS.file,
    id,
    messageId: `${id.slice(0, 16)}-1`,
    attempt: 1,
    source: {
      path: rel,
      sha256: id,
      sizeBytes: content.length,
      detectedAt: t,
      name: path.basename(name),
      extension: path.extname(name).toLowerCase(),
      kind: kindOf(name),
      mtimeMs: 1,
    },
    detectedAt: t,
    stableAt: t,
    createdAt: t,
  };
}

export interface Harness {
  readonly edge: MemoryEdgeClient;
  readonly app: TransformerApp;
  readonly paths: DataPaths;
  readonly registry: Registry;
  readonly logLines: () => Record<string, unknown>[];
  stop(): Promise<void>;
}

/** The real app around a memory edge client, configured and started. */
export async function startApp(paths: DataPaths, desired: Record<string, unknown> = {}): Promise<Harness> {
  const edge = createMemoryEdgeClient({ moduleId: 'transformer' });
  const registry = new Registry();
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = createLogger({ name: 'transformer', level: 'info', destination });
  const app = createTransformerApp({ edge, logger, registry, paths, env: {}, now: () => new Date('2026-11-24T12:00:01.000Z') });
  await app.configure(configFrom(desired), undefined);
  await app.start();
  return {
    edge,
    app,
    paths,
    registry,
    logLines: () =>
      lines
        .join('')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    stop: () => app.stop(AbortSignal.timeout(5000)),
  };
}
