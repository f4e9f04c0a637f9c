/**
 * Builds the real watcher around an edge client on a real temp directory. The client comes from
 * `connect` (default: the in-memory double); the hub-based suite swaps in the real adapter by
 * passing its own `connect` and reading messages from its hub instead of `edge.sent`.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createMemoryEdgeClient,
  dataPaths,
  runModule,
  SCHEMAS,
  type CompletionMessage,
  type DataPaths,
  type EdgeClient,
  type FileMessage,
  type MemoryEdgeClient,
  type RunningModule,
} from '@edgeml/shared';
import { createWatcherApp, watcherModule, type WatcherApp, type WatcherAppOptions } from '@edgeml/watcher';

/** Fast settings for tests; each test overrides what it exercises. */
export const FAST = {
  stabilityWindowMs: 300,
  stabilityChecks: 2,
  inventoryIntervalMs: 1_000,
  completionTimeoutMs: 60_000,
} as const;

export interface Harness {
  readonly root: string;
  readonly paths: DataPaths;
  readonly edge: MemoryEdgeClient;
  readonly app: WatcherApp;
  readonly running: RunningModule;
  /** Writes a file into the inbox (parents created). */
  drop(rel: string, content: string | Buffer): Promise<string>;
  /** `files` messages sent so far, parsed. */
  files(): FileMessage[];
  /** Sends an `uploaded` completion for every expected part of `id` (default one part: artifact). */
  ack(id: string, options?: Partial<Pick<CompletionMessage, 'part' | 'expectedParts' | 'outcome' | 'code' | 'reason' | 'retryAfterMs' | 'leaseMs' | 'module'>>): Promise<void>;
  stop(): Promise<void>;
}

export async function makeRoot(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'edgeml-watcher-'));
}

export function completion(id: string, options: Partial<Pick<CompletionMessage, 'part' | 'expectedParts' | 'outcome' | 'code' | 'reason' | 'module' | 'retryAfterMs' | 'leaseMs'>> = {}): CompletionMessage {
  const part = options.part ?? 'artifact';
  return {
    schema: SCHEMAS.completion,
    id,
    messageId: randomUUID(),
    part,
    expectedParts: options.expectedParts ?? [part],
    outcome: options.outcome ?? 'uploaded',
    module: options.module ?? 'uploader',
    ...(options.code === undefined ? {} : { code: options.code }),
    ...(options.reason === undefined ? {} : { reason: options.reason }),
    ...(options.retryAfterMs === undefined ? {} : { retryAfterMs: options.retryAfterMs }),
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    createdAt: new Date().toISOString(),
  };
}

export async function startHarness(
  options: {
    root?: string;
    desired?: Record<string, unknown>;
    appOptions?: WatcherAppOptions;
    connect?: () => Promise<MemoryEdgeClient>;
  } = {},
): Promise<Harness> {
  const root = options.root ?? (await makeRoot());
  const paths = dataPaths(root);
  await mkdir(paths.inbox, { recursive: true });
  const edge = options.connect !== undefined ? await options.connect() : createMemoryEdgeClient({ moduleId: 'watcher', initialDesired: { ...FAST, ...(options.desired ?? {}) } });
  let app: WatcherApp | undefined;
  const running = await runModule(
    { ...watcherModule, createApp: (deps) => (app = createWatcherApp(deps, options.appOptions)) },
    {
      env: { EDGEML_DATA_ROOT: root, EDGEML_METRICS_PORT: '0', EDGEML_LOG_LEVEL: process.env['WATCHER_TEST_LOG'] ?? 'silent' },
      argv: [],
      connect: () => Promise.resolve(edge as EdgeClient),
      twinWaitMs: 2_000,
    },
  );
  const h: Harness = {
    root,
    paths,
    edge,
    app: app!,
    running,
    async drop(rel, content) {
      const abs = path.join(paths.inbox, rel);
      await mkdir(path.dirname(abs), { recursive: true });
      await writeFile(abs, content);
      return abs;
    },
    files: () => edge.sentTo('files').map((m) => m.json as FileMessage),
    ack: (id, o = {}) => edge.deliver('completed', completion(id, o)),
    stop: () => running.stop('test'),
  };
  return h;
}

export async function removeRoot(root: string): Promise<void> {
  await rm(root, { recursive: true, force: true });
}

/** Polls `predicate` every 25 ms until true or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
