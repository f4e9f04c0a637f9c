import path from 'node:path';
import { backoffDelayMs, canonicalJson, EdgeMLError, errorCode, errorMessage, isWithin, sendAlert } from '@edgeml/shared';
import { createBlobSink } from './blob-sink.js';
import { classifyFailure } from './classify.js';
import type { UploaderConfig } from './config.js';
import type { UploaderContext } from './context.js';
import { createDirectorySink, type DirectorySink } from './dir-sink.js';
import type { UploadSink } from './sink.js';
import type { RateLimiter } from './throttle.js';

/** Environment variables the uploader reads (through `deps.env`). */
export const UPLOADER_ENV = {
  connectionString: 'EDGEML_STORAGE_CONNECTION_STRING',
  containerSasUrl: 'EDGEML_STORAGE_CONTAINER_SAS_URL',
  deviceId: 'IOTEDGE_DEVICEID',
  moduleId: 'IOTEDGE_MODULEID',
} as const;

export type SinkStateName = 'unconfigured' | 'checking' | 'ready' | 'unavailable' | 'fatal';

export interface SinkProblem {
  readonly code: string;
  readonly reason: string;
  readonly at: string;
}

/** Builds the sink for a configuration (tests pass a scripted fake). */
export type SinkFactory = (config: UploaderConfig, limiter: RateLimiter) => UploadSink;

/**
 * The upload target and whether it takes writes: builds the sink from the configuration and the
 * credentials, checks it, and moves between the states the rest of the uploader acts on:
 * - `unconfigured`: no (usable) credentials; items stay queued.
 * - `checking`: the access check is running.
 * - `ready`: uploads go.
 * - `unavailable`: the sink did not answer; uploads pause with backoff, items are charged nothing.
 * - `fatal`: the sink refused the credentials.
 */
export class SinkState {
  readonly #ctx: UploaderContext;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #limiter: RateLimiter;
  readonly #factory: SinkFactory | undefined;
  readonly #onChange: () => void;
  readonly #stop = new AbortController();
  #sink: UploadSink | undefined;
  #key = '';
  #state: SinkStateName = 'unconfigured';
  #problem: SinkProblem | undefined;
  #failures = 0;
  #pausedUntilMs = 0;

  constructor(options: { ctx: UploaderContext; env: Readonly<Record<string, string | undefined>>; limiter: RateLimiter; factory?: SinkFactory; onChange: () => void }) {
    this.#ctx = options.ctx;
    this.#env = options.env;
    this.#limiter = options.limiter;
    this.#factory = options.factory;
    this.#onChange = options.onChange;
  }

  get state(): SinkStateName {
    return this.#state;
  }

  get sink(): UploadSink | undefined {
    return this.#sink;
  }

  /** Until when uploads wait after the sink stopped answering (epoch ms; 0 = not paused). */
  get pausedUntilMs(): number {
    return this.#pausedUntilMs;
  }

  snapshot(): Record<string, unknown> {
    return {
      kind: this.#sink?.kind ?? (this.#ctx.settings().sink as string),
      target: this.#sink?.target ?? null,
      state: this.#state,
      ...(this.#problem === undefined ? {} : { problem: this.#problem }),
    };
  }

  readiness(): string[] {
    if (this.#state === 'unconfigured') return [`no upload sink: ${this.#problem?.reason ?? 'not configured'}`];
    if (this.#state === 'fatal') return [`upload sink refuses writes: ${this.#problem?.reason ?? ''}`];
    return [];
  }

  /** Whether an upload may start now. */
  canUpload(): boolean {
    return this.#sink !== undefined && this.#state !== 'unconfigured' && this.#ctx.nowMs() >= this.#pausedUntilMs;
  }

  /** Uploads may start again at once (the `flush` method). */
  resume(): void {
    this.#pausedUntilMs = 0;
  }

  #set(state: SinkStateName, problem?: { code: string; reason: string }): void {
    const changed = state !== this.#state;
    this.#state = state;
    this.#problem = problem === undefined ? undefined : { ...problem, at: this.#ctx.now().toISOString() };
    if (!changed) return;
    const target = this.#sink?.target ?? null;
    if (state === 'fatal') {
      this.#ctx.logger.fatal({ code: problem?.code, reason: problem?.reason, target }, `upload sink refuses writes: ${problem?.reason ?? ''}`);
      void sendAlert(
        this.#ctx.edge,
        this.#ctx.logger,
        { severity: 'critical', code: problem?.code ?? 'SINK_PERMISSION_DENIED', message: problem?.reason ?? 'sink refuses writes', details: { target } },
        this.#ctx.now,
      );
    } else if (state === 'ready') this.#ctx.logger.info({ target }, 'upload sink ready');
    this.#onChange();
  }

  /**
   * Builds the sink when the settings that shape it changed. Returns true when a new sink was
   * built (the caller checks it once started).
   */
  configure(cfg: UploaderConfig): boolean {
    const key = canonicalJson([cfg.sink, cfg.containerName, cfg.createContainer, cfg.sdkRetry, cfg.singleUploadMaxBytes, cfg.blockSizeBytes, cfg.blockConcurrency, cfg.directory.path]);
    if (key === this.#key && this.#sink !== undefined) return false;
    this.#key = key;
    void this.#sink?.close();
    this.#sink = undefined;
    try {
      this.#sink = this.#build(cfg);
      this.#set('checking');
    } catch (err: unknown) {
      // Missing or malformed credentials: items stay queued (nothing is quarantined for this).
      this.#set('unconfigured', { code: errorCode(err), reason: errorMessage(err) });
      this.#ctx.logger.error({ err }, `no upload sink: ${errorMessage(err)}`);
    }
    return true;
  }

  #build(cfg: UploaderConfig): UploadSink {
    if (this.#factory !== undefined) return this.#factory(cfg, this.#limiter);
    const { paths, logger } = this.#ctx;
    if (cfg.sink === 'directory') {
      const root = path.resolve(paths.cloudshare, cfg.directory.path);
      if (!isWithin(paths.cloudshare, root)) throw new EdgeMLError('CONFIG_INVALID', 'directory.path leaves cloudshare/');
      return createDirectorySink({ root, limiter: this.#limiter, logger: logger.child({ component: 'dir-sink' }) });
    }
    const connectionString = this.#env[UPLOADER_ENV.connectionString];
    const containerSasUrl = this.#env[UPLOADER_ENV.containerSasUrl];
    return createBlobSink({
      ...(connectionString === undefined ? {} : { connectionString }),
      ...(containerSasUrl === undefined ? {} : { containerSasUrl }),
      containerName: cfg.containerName,
      createContainer: cfg.createContainer,
      sdkRetry: cfg.sdkRetry,
      singleUploadMaxBytes: cfg.singleUploadMaxBytes,
      blockSizeBytes: cfg.blockSizeBytes,
      blockConcurrency: cfg.blockConcurrency,
      limiter: this.#limiter,
      deviceId: this.#ctx.deviceId,
      logger: logger.child({ component: 'blob-sink' }),
      now: this.#ctx.now,
    });
  }

  /** Runs the sink's access check and moves to `ready`, `unavailable` or `fatal`. Never throws. */
  async check(): Promise<void> {
    const s = this.#sink;
    if (s === undefined) return;
    this.#set('checking');
    try {
      await s.checkAccess(this.#stop.signal);
      if (this.#sink === s) this.#set('ready');
    } catch (err: unknown) {
      if (this.#sink !== s) return;
      const c = classifyFailure(err);
      if (c.kind === 'aborted') return;
      if (c.kind === 'unavailable' || c.kind === 'transient') {
        this.#set('unavailable', { code: c.code, reason: errorMessage(err) });
        this.#ctx.logger.warn({ err }, `upload sink not reachable at start; items stay queued: ${errorMessage(err)}`);
      } else this.#set('fatal', { code: c.code, reason: errorMessage(err) });
    }
  }

  /** An upload went through: whatever was concluded before (outage, rights fixed) no longer holds. */
  succeeded(): void {
    this.#failures = 0;
    if (this.#state !== 'ready' && this.#state !== 'unconfigured') this.#set('ready');
  }

  /** The sink did not answer: pause every upload with backoff. Returns how long (ms). */
  unavailable(code: string, err: unknown): number {
    this.#failures++;
    const t = this.#ctx.nowMs();
    this.#pausedUntilMs = t + backoffDelayMs(this.#failures, this.#ctx.settings().retry, this.#ctx.random);
    this.#set('unavailable', { code, reason: errorMessage(err) });
    return this.#pausedUntilMs - t;
  }

  /** The sink refused the credentials. */
  refused(code: string, err: unknown): void {
    this.#set('fatal', { code, reason: errorMessage(err) });
  }

  /** Runs retention on a directory sink (whatever the sink is now: a twin change may switch it). */
  async sweep(): Promise<void> {
    const s = this.#sink;
    if (s?.kind !== 'directory') return;
    await (s as DirectorySink).sweep(this.#ctx.settings().directory.deleteAfterMinutes, this.#ctx.nowMs());
  }

  async close(): Promise<void> {
    this.#stop.abort();
    await this.#sink?.close();
  }
}
