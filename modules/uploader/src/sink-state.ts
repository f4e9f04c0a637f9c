import path from 'node:path';
import { backoffDelayMs, canonicalJson, createRepeatLimiter, EdgeMLError, errorCode, errorMessage, isWithin, sendAlert, type AlertSeverity } from '@edgeml/shared';
import { createBlobSink, type BlobSink } from './blob-sink.js';
import { classifyFailure } from './classify.js';
import type { UploaderConfig } from './config.js';
import type { UploaderContext } from './context.js';
import { credentialVariablesSet, readStorageCredentials, type StorageCredentials } from './credentials.js';
import { createDirectorySink, type DirectorySink } from './dir-sink.js';
import type { UploadSink } from './sink.js';
import type { RateLimiter } from './throttle.js';
import { Wakeable } from './wakeable.js';

/** Environment variables the uploader reads besides the credentials (credentials.ts). */
export const UPLOADER_ENV = {
  deviceId: 'IOTEDGE_DEVICEID',
  moduleId: 'IOTEDGE_MODULEID',
} as const;

/**
 * - `unconfigured`: no usable credentials (none set, a secret file unreadable, a malformed
 *   connection string). Re-read every `credentialsRefreshIntervalMs`.
 * - `checking`: the access check of a new sink is running; uploads may go meanwhile.
 * - `ready`: uploads go.
 * - `paused`: the sink refused the credentials (expired, revoked, insufficient), did not answer, or
 *   lacks its container. No upload starts, no item is charged anything; the access check runs
 *   again with backoff (`sinkProbe`) and at once when the credentials change.
 */
export type SinkStateName = 'unconfigured' | 'checking' | 'ready' | 'paused';

/** Why uploads are paused: `credentials` and `configuration` need an operator (or a rotation), `unreachable` only time. */
export type PauseCause = 'credentials' | 'unreachable' | 'configuration';

/** Builds the sink for a configuration (tests pass a scripted fake). */
export type SinkFactory = (config: UploaderConfig, limiter: RateLimiter, credentials: StorageCredentials | undefined) => UploadSink;

/** One alert per pause cause and code at most this often (a flapping link is not an alert storm). */
const PAUSE_ALERT_INTERVAL_MS = 10 * 60_000;

const SEVERITY: Record<PauseCause, AlertSeverity> = { credentials: 'critical', configuration: 'error', unreachable: 'warning' };

interface Problem {
  readonly code: string;
  readonly reason: string;
  readonly cause?: PauseCause;
}

/**
 * The upload target and whether it takes writes: builds the sink from the configuration and the
 * credentials (re-read from their file, so a rotated secret needs no restart), checks it, pauses
 * every upload when it refuses or does not answer, and resumes by itself once a check passes.
 */
export class SinkState {
  readonly #ctx: UploaderContext;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #limiter: RateLimiter;
  readonly #factory: SinkFactory | undefined;
  readonly #onChange: () => void;
  readonly #stop = new AbortController();
  readonly #prober = new Wakeable();
  readonly #alertLimiter: (key: string) => { log: boolean };
  #probing: Promise<void> | undefined;
  #sink: UploadSink | undefined;
  #key = '';
  #credentials: StorageCredentials | undefined;
  #state: SinkStateName = 'unconfigured';
  #problem: Problem | undefined;
  /** When the current state began (epoch ms). */
  #sinceMs = 0;
  /** Pauses and failed checks since the last upload that went through (the probe backoff). */
  #failures = 0;
  #nextCheckAtMs = 0;
  /** The alert of the current pause went out (or was not due: see #pause). */
  #alerted = false;
  /** How many times the sink became ready: a refusal that repeats across one is the item's own. */
  #generation = 0;
  /** configure() runs one at a time (a twin change and the credentials refresh may meet). */
  #configuring: Promise<unknown> = Promise.resolve();

  /** `onChange`: the state changed (report it; uploads may resume). */
  constructor(options: { ctx: UploaderContext; env: Readonly<Record<string, string | undefined>>; limiter: RateLimiter; factory?: SinkFactory; onChange: () => void }) {
    this.#ctx = options.ctx;
    this.#env = options.env;
    this.#limiter = options.limiter;
    this.#factory = options.factory;
    this.#onChange = options.onChange;
    this.#alertLimiter = createRepeatLimiter(PAUSE_ALERT_INTERVAL_MS, options.ctx.nowMs);
  }

  get state(): SinkStateName {
    return this.#state;
  }

  get sink(): UploadSink | undefined {
    return this.#sink;
  }

  /** Counts the times the sink became ready (after a start, a pause or new credentials). */
  get generation(): number {
    return this.#generation;
  }

  /** Whether an upload may start now. */
  canUpload(): boolean {
    return this.#sink !== undefined && (this.#state === 'ready' || this.#state === 'checking');
  }

  snapshot(): Record<string, unknown> {
    const grant = this.#sink?.kind === 'blob' ? (this.#sink as BlobSink).grant : undefined;
    const c = this.#credentials;
    return {
      kind: this.#sink?.kind ?? this.#ctx.settings().sink,
      target: this.#sink?.target ?? null,
      state: this.#state,
      since: this.#sinceMs === 0 ? null : new Date(this.#sinceMs).toISOString(),
      ...(this.#problem === undefined ? {} : { code: this.#problem.code, reason: this.#problem.reason, ...(this.#problem.cause === undefined ? {} : { cause: this.#problem.cause }) }),
      ...(this.#state === 'paused' ? { nextCheckAt: new Date(this.#nextCheckAtMs).toISOString() } : {}),
      ...(c === undefined
        ? {}
        : {
            credentials: {
              from: c.from,
              ...(c.file === undefined ? {} : { file: c.file }),
              ...(grant?.expiresAt === undefined ? {} : { expiresAt: grant.expiresAt.toISOString() }),
              ...(grant?.permissions === undefined ? {} : { permissions: grant.permissions }),
            },
          }),
    };
  }

  /** Reasons the module is not ready: no credentials, or a pause that needs an operator. */
  readiness(): string[] {
    if (this.#state === 'unconfigured') return [`no upload sink: ${this.#problem?.reason ?? 'not configured'}`];
    if (this.#state === 'paused' && this.#problem?.cause !== 'unreachable') return [`uploads paused: ${this.#problem?.reason ?? ''}`];
    return [];
  }

  #set(state: SinkStateName, problem?: Problem): void {
    const previous = this.#state;
    const sinceMs = this.#sinceMs;
    this.#state = state;
    this.#problem = problem;
    if (state === previous) return;
    this.#sinceMs = this.#ctx.nowMs();
    const target = this.#sink?.target ?? null;
    if (state === 'ready') {
      this.#generation++;
      const pausedForS = previous === 'paused' ? Math.round((this.#sinceMs - sinceMs) / 1000) : undefined;
      this.#ctx.logger.info({ target, ...(pausedForS === undefined ? {} : { pausedForS }) }, previous === 'paused' ? `upload sink works again; uploads resume after ${pausedForS} s` : 'upload sink ready');
    }
    this.#onChange();
  }

  /**
   * Stops uploads for every item and schedules the next check. One alert per episode: at once for
   * refused credentials or a missing container (an operator must act), and for an unreachable sink
   * only when the first check after the pause fails too (a single dropped connection is a blip, not
   * an outage worth an alert).
   */
  #pause(cause: PauseCause, code: string, reason: string): void {
    this.#failures++;
    this.#nextCheckAtMs = this.#ctx.nowMs() + backoffDelayMs(this.#failures, { ...this.#ctx.settings().sinkProbe, jitterRatio: 0.2 }, this.#ctx.random);
    const entering = this.#state !== 'paused' || this.#problem?.cause !== cause;
    this.#set('paused', { code, reason, cause });
    if (entering) {
      this.#alerted = false;
      this.#prober.wake();
      this.#ctx.logger[cause === 'unreachable' ? 'warn' : 'error'](
        { code, cause, target: this.#sink?.target ?? null, backlog: this.#backlog() },
        `uploads paused (${cause}): ${reason}; items stay queued and resume by themselves`,
      );
    }
    if (this.#alerted || (cause === 'unreachable' && entering)) return;
    this.#alerted = true;
    if (!this.#alertLimiter(`${cause}:${code}`).log) return;
    void sendAlert(
      this.#ctx.edge,
      this.#ctx.logger,
      {
        severity: SEVERITY[cause],
        code,
        message: `uploads paused: ${reason}. Nothing is quarantined; uploads resume by themselves once the sink accepts writes${cause === 'credentials' ? ' (rotate the credentials: the secret file is read again)' : ''}.`,
        details: { target: this.#sink?.target ?? null, cause, backlog: this.#backlog() },
      },
      this.#ctx.now,
    );
  }

  #backlog(): number {
    return this.#ctx.queue.isClosed ? 0 : this.#ctx.queue.backlog();
  }

  #unconfigured(err: unknown): void {
    const reason = errorMessage(err);
    const changed = this.#state !== 'unconfigured' || this.#problem?.reason !== reason;
    this.#set('unconfigured', { code: errorCode(err), reason, cause: 'configuration' });
    if (!changed) return;
    this.#ctx.logger.error({ err }, `no upload sink: ${reason}; items stay queued`);
    if (this.#alertLimiter(`unconfigured:${reason}`).log) {
      void sendAlert(this.#ctx.edge, this.#ctx.logger, { severity: 'error', code: errorCode(err), message: `no upload sink: ${reason}; items stay queued`, details: {} }, this.#ctx.now);
    }
  }

  /**
   * Reads the credentials and builds the sink when the settings that shape it or the credentials
   * changed. Returns true when a new sink was built (the caller checks it once started).
   */
  configure(cfg: UploaderConfig): Promise<boolean> {
    const run = this.#configuring.then(() => this.#configure(cfg));
    this.#configuring = run.catch(() => undefined);
    return run;
  }

  async #configure(cfg: UploaderConfig): Promise<boolean> {
    let credentials: StorageCredentials | undefined;
    let problem: unknown;
    if (cfg.sink === 'blob') {
      try {
        credentials = await readStorageCredentials(this.#env);
      } catch (err: unknown) {
        problem = err;
      }
    }
    const key = canonicalJson([cfg.sink, cfg.containerName, cfg.createContainer, cfg.sdkRetry, cfg.singleUploadMaxBytes, cfg.blockSizeBytes, cfg.blockConcurrency, cfg.directory.path, credentials?.fingerprint ?? null, problem === undefined ? null : errorMessage(problem)]);
    if (key === this.#key && (this.#sink !== undefined || problem !== undefined)) return false;
    const rotated = this.#credentials !== undefined && credentials !== undefined && credentials.fingerprint !== this.#credentials.fingerprint;
    this.#key = key;
    this.#credentials = credentials;
    void this.#sink?.close();
    this.#sink = undefined;
    try {
      if (problem !== undefined) throw problem;
      this.#sink = this.#build(cfg, credentials);
      if (rotated) this.#ctx.logger.info({ from: credentials?.from, target: this.#sink.target }, 'storage credentials changed; checking the new ones');
      const others = credentialVariablesSet(this.#env).slice(1);
      if (credentials !== undefined && others.length > 0) this.#ctx.logOnce('credentials-precedence', 'warn', { using: credentials.from, ignored: others }, `storage credentials from ${credentials.from}; also set and ignored: ${others.join(', ')}`);
      this.#set('checking');
    } catch (err: unknown) {
      this.#unconfigured(err);
    }
    return true;
  }

  #build(cfg: UploaderConfig, credentials: StorageCredentials | undefined): UploadSink {
    if (this.#factory !== undefined) return this.#factory(cfg, this.#limiter, credentials);
    const { paths, logger } = this.#ctx;
    if (cfg.sink === 'directory') {
      const root = path.resolve(paths.cloudshare, cfg.directory.path);
      if (!isWithin(paths.cloudshare, root)) throw new EdgeMLError('CONFIG_INVALID', 'directory.path leaves cloudshare/');
      return createDirectorySink({ root, limiter: this.#limiter, logger: logger.child({ component: 'dir-sink' }) });
    }
    if (credentials === undefined) throw new EdgeMLError('CONFIG_INVALID', 'no storage credentials: set EDGEML_STORAGE_CONNECTION_STRING or EDGEML_STORAGE_CONTAINER_SAS_URL, or their _FILE forms');
    return createBlobSink({
      ...(credentials.kind === 'connectionString' ? { connectionString: credentials.value } : { containerSasUrl: credentials.value }),
      credentialsFrom: credentials.file === undefined ? credentials.from : `${credentials.from} (${credentials.file})`,
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

  /** Runs the sink's access check: `ready`, or `paused` with the reason. Never throws. */
  async check(): Promise<void> {
    const s = this.#sink;
    if (s === undefined) return;
    if (this.#state !== 'paused') this.#set('checking');
    try {
      await s.checkAccess(this.#stop.signal);
      if (this.#sink === s) this.#set('ready');
    } catch (err: unknown) {
      if (this.#sink !== s) return;
      const c = classifyFailure(err);
      if (c.kind === 'aborted') return;
      this.#pause(c.kind === 'permission' ? (c.code === 'CONFIG_INVALID' ? 'configuration' : 'credentials') : c.kind === 'unavailable' || c.kind === 'transient' ? 'unreachable' : 'configuration', c.code, errorMessage(err));
    }
  }

  /** An upload went through: whatever was concluded before (outage, rights fixed) no longer holds. */
  succeeded(): void {
    // Only a real upload resets the probe backoff: a check that passes while uploads keep failing
    // (a link that carries a probe but not a file) must not turn into a fast pause/resume cycle.
    this.#failures = 0;
    if (this.#state === 'checking' || this.#state === 'paused') this.#set('ready');
  }

  /** An upload found the sink unreachable: pause everything (the item is charged nothing). */
  unreachable(code: string, err: unknown): void {
    if (this.#state !== 'paused') this.#pause('unreachable', code, errorMessage(err));
  }

  /** An upload was refused for the credentials: pause everything; a rotated secret may be waiting already. */
  refused(code: string, err: unknown): void {
    if (this.#state === 'paused') return;
    this.#pause(code === 'CONFIG_INVALID' ? 'configuration' : 'credentials', code, errorMessage(err));
    this.#nextCheckAtMs = 0;
  }

  /** Check again now, whatever the backoff says (the `flush` and `retryQuarantined` methods). */
  recheckSoon(): void {
    this.#nextCheckAtMs = 0;
    this.#prober.wake();
  }

  /** Starts the loop that re-reads the credentials and checks a paused sink. */
  start(firstCheck: boolean): void {
    this.#probing ??= this.#probe(firstCheck);
  }

  async #probe(firstCheck: boolean): Promise<void> {
    let lastCredentialsReadMs = this.#ctx.nowMs();
    if (firstCheck) await this.check();
    while (!this.#prober.closed) {
      this.#prober.reset();
      const cfg = this.#ctx.settings();
      const t = this.#ctx.nowMs();
      try {
        const rereadDue = t - lastCredentialsReadMs >= cfg.credentialsRefreshIntervalMs;
        const checkDue = this.#state === 'paused' && t >= this.#nextCheckAtMs;
        if (rereadDue || checkDue) {
          lastCredentialsReadMs = t;
          // A changed secret (or a fixed file) builds a new sink, checked at once.
          if (await this.configure(cfg)) await this.check();
          else if (checkDue) await this.check();
        }
      } catch (err: unknown) {
        this.#ctx.logOnce('sink-probe', 'error', { err }, `sink check failed unexpectedly: ${errorMessage(err)}`);
      }
      const now = this.#ctx.nowMs();
      let delay = Math.max(0, lastCredentialsReadMs + cfg.credentialsRefreshIntervalMs - now);
      if (this.#state === 'paused') delay = Math.min(delay, Math.max(0, this.#nextCheckAtMs - now));
      await this.#prober.nap(Math.max(10, delay), this.#ctx.logger);
    }
  }

  /** Runs retention on a directory sink (whatever the sink is now: a twin change may switch it). */
  async sweep(): Promise<void> {
    const s = this.#sink;
    if (s?.kind !== 'directory') return;
    await (s as DirectorySink).sweep(this.#ctx.settings().directory.deleteAfterMinutes, this.#ctx.nowMs());
  }

  async close(): Promise<void> {
    this.#stop.abort();
    this.#prober.close();
    await this.#probing;
    await this.#sink?.close();
  }
}
