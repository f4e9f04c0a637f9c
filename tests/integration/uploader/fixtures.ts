/** Shared set-up for the uploader's integration tests: a data root, messages, the app on a memory edge client. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type * as Storage from '@azure/storage-blob';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createLogger,
  createMemoryEdgeClient,
  createTwinConfigBinder,
  dataPaths,
  deterministicMessageId,
  Registry,
  SCHEMAS,
  type ArtifactMessage,
  type CompletionMessage,
  type DataPaths,
  type InferenceResultMessage,
  type MemoryEdgeClient,
} from '@edgeml/shared';
import { buildUploaderConfig, createUploaderApp, UPLOADER_CONFIG_SCHEMA, type UploaderConfig } from '@edgeml/uploader';

/**
 * The storage SDK as the uploader resolves it (12.32, in modules/uploader/node_modules). A bare
 * import from tests/ would get the root's 12.8 (Azurite's dependency), which is slow against Azurite.
 */
export const storage = createRequire(new URL('../../../modules/uploader/package.json', import.meta.url))('@azure/storage-blob') as typeof Storage;

export const logger = createLogger({ name: 'uploader-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

export function configFrom(desired: Record<string, unknown>): UploaderConfig {
  const binder = createTwinConfigBinder<UploaderConfig>({
    schema: UPLOADER_CONFIG_SCHEMA,
    build: buildUploaderConfig,
    apply: () => Promise.resolve(),
    report: () => Promise.resolve(),
    logger,
  });
  const r = binder.validate(desired);
  if ('problems' in r) throw new Error(`bad test config: ${r.problems.join('; ')}`);
  return r.config;
}

export async function makeDataRoot(): Promise<DataPaths> {
  const root = await mkdtemp(path.join(tmpdir(), 'edgeml-uploader-'));
  const paths = dataPaths(root);
  for (const d of [paths.share, paths.inbox, paths.staging, paths.cloudshare]) await mkdir(d, { recursive: true });
  return paths;
}

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
export const md5b64 = (b: Buffer): string => createHash('md5').update(b).digest('base64');

export interface StagedArtifact {
  readonly message: ArtifactMessage;
  readonly content: Buffer;
  readonly file: string;
}

/** Writes a staging file and returns the artifact message that announces it. */
export async function stageArtifact(paths: DataPaths, options: { content?: Buffer; sizeBytes?: number; detectedAt?: string; kind?: 'image' | 'table' | 'raw'; seed?: string } = {}): Promise<StagedArtifact> {
  const content = options.content ?? randomBytes(options.sizeBytes ?? 4096);
  const sourceSha = sha(Buffer.concat([content, Buffer.from(options.seed ?? 'src')]));
  const id = sourceSha;
  const kind = options.kind ?? 'image';
  const rel = kind === 'raw' ? `inbox/${id.slice(0, 12)}.bin` : `staging/${id}/artifact.png`;
  const file = kind === 'raw' ? path.join(paths.share, rel) : path.join(paths.root, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
  const message: ArtifactMessage = {
    schema: SCHEMAS.artifact,
    id,
    messageId: deterministicMessageId('artifact', id),
    source: { path: `inbox/${id.slice(0, 12)}.jpg`, sha256: sourceSha, sizeBytes: content.length, detectedAt: options.detectedAt ?? '2026-11-24T10:00:00.000Z' },
    part: 'artifact',
    expectedParts: ['artifact', 'result:cls'],
    artifact: { path: rel, sha256: sha(content), sizeBytes: content.length, kind, format: kind === 'raw' ? 'bin' : 'png', contentType: 'image/png', metadata: { width: 1 } },
    createdAt: new Date().toISOString(),
  };
  return { message, content, file };
}

export function resultMessage(n: number, detectedAt = '2026-11-24T10:00:00.000Z'): InferenceResultMessage {
  const id = sha(`source-${n}`);
  return {
    schema: SCHEMAS.result,
    id,
    messageId: deterministicMessageId('result', id, 'cls', '1.0.0'),
    source: { path: `inbox/${n}.jpg`, sha256: id, sizeBytes: 100, detectedAt },
    part: 'result:cls',
    expectedParts: ['artifact', 'result:cls'],
    model: { name: 'cls', version: '1.0.0', sha256: sha('model') },
    runtime: { provider: 'cpu', batchSize: 1, queueMs: 0, inferMs: 1 },
    outputs: { label: n % 2 === 0 ? '0' : '180', score: 0.9 },
    createdAt: new Date().toISOString(),
  };
}

export function completionsOf(edge: MemoryEdgeClient): CompletionMessage[] {
  return edge.sentTo('completed').map((m) => m.json as CompletionMessage);
}

export interface TestApp {
  readonly edge: MemoryEdgeClient;
  readonly app: ReturnType<typeof createUploaderApp>;
  readonly registry: Registry;
  stop(): Promise<void>;
  /** Completions other than `held` (uploaded, deadLettered, deferred), in order. */
  completions(): CompletionMessage[];
  /** The `held` completions (acceptances and lease renewals). */
  held(): CompletionMessage[];
}

export async function startApp(paths: DataPaths, env: Record<string, string | undefined>, desired: Record<string, unknown> = {}, now: () => Date = () => new Date()): Promise<TestApp> {
  const edge = createMemoryEdgeClient({ deviceId: 'dev-1', moduleId: 'uploader' });
  const registry = new Registry();
  const app = createUploaderApp({ edge, logger, registry, paths, env: { IOTEDGE_DEVICEID: 'dev-1', ...env }, now });
  await app.configure(configFrom(desired), undefined);
  await edge.open();
  await app.start();
  return {
    edge,
    app,
    registry,
    stop: () => app.stop(AbortSignal.timeout(10_000)),
    completions: () => completionsOf(edge).filter((c) => c.outcome !== 'held'),
    held: () => completionsOf(edge).filter((c) => c.outcome === 'held'),
  };
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
