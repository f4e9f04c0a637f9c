import { rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  backoffDelayMs,
  buildCompletion,
  canonicalJson,
  Counter,
  createRepeatLimiter,
  decodeJsonBody,
  EdgeMLError,
  errorCode,
  errorMessage,
  Gauge,
  isWithin,
  jsonMethod,
  moveFile,
  parseMessage,
  resolveInside,
  SCHEMAS,
  sendAlert,
  sha256,
  sleep,
  writeFileAtomic,
  type ArtifactMessage,
  type CompletionDetails,
  type CompletionMessage,
  type IncomingMessage,
  type InferenceResultMessage,
  type ModuleApp,
  type ModuleDeps,
} from '@edgeml/shared';
import { createBlobSink } from './blob-sink.js';
import { classifyFailure, type Classified } from './classify.js';
import { classOfArtifact, QUEUE_CLASSES, UPLOADER_DEFAULTS, type QueueClass, type UploaderConfig } from './config.js';
import { createDirectorySink, type DirectorySink } from './dir-sink.js';
import { renderBlobName } from './names.js';
import { DurableQueue, type EnqueueOutcome, type QueueItem, type ResultRow } from './queue.js';
import type { UploadRequest, UploadResult, UploadSink } from './sink.js';

/** How soon the watcher offers a source again when its staging file was missing here. */
const STAGING_MISSING_RETRY_MS = 5_000;
import { RateLimiter } from './throttle.js';

export const MODULE_NAME = 'uploader';

/** Environment variables the uploader reads (through `deps.env`). */
export const UPLOADER_ENV = {
  connectionString: 'EDGEML_STORAGE_CONNECTION_STRING',
  containerSasUrl: 'EDGEML_STORAGE_CONTAINER_SAS_URL',
  deviceId: 'IOTEDGE_DEVICEID',
  moduleId: 'IOTEDGE_MODULEID',
} as const;

/** What a completion needs to name the part it acknowledges. */
export interface PartAck {
  readonly id: string;
  readonly part: string;
  readonly expectedParts: readonly string[];
  readonly modelVersion?: string;
}

export type ItemPayload =
  | {
      readonly type: 'file';
      readonly name: string;
      /** Absolute path; a staging file, a share file (raw, never deleted) or our quarantine copy. */
      readonly file: string;
      /** True when the uploader may delete the file once uploaded (staging or quarantine copy). */
      readonly owned: boolean;
      readonly sizeBytes: number;
      readonly sha256: string;
      readonly contentType: string;
      readonly metadata: Readonly<Record<string, string>>;
      readonly ack: PartAck;
    }
  | { readonly type: 'batch'; readonly name: string; readonly windowStartMs: number; readonly lines: number };

type Queue = DurableQueue<ItemPayload, PartAck>;

export type SinkState = 'unconfigured' | 'checking' | 'ready' | 'unavailable' | 'fatal';

export interface UploaderAppOptions {
  /** Jitter source for backoff. Default Math.random. */
  readonly random?: () => number;
  /** Where the queue and quarantine live. Default `paths.state('uploader')`. */
  readonly stateDir?: string;
  /**
   * Builds the sink instead of blob-sink.ts / dir-sink.ts (tests use a scripted fake). Receives the
   * config and the shared bandwidth limiter.
   */
  readonly createSink?: (config: UploaderConfig, limiter: RateLimiter) => UploadSink;
}

export const FLUSH_PAYLOAD_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { waitMs: { type: 'integer', minimum: 0, maximum: 600_000, default: 0, description: 'Wait up to this long for the backlog to drain.' } },
} as const;

export const RETRY_QUARANTINED_PAYLOAD_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    all: { const: true },
    keys: { type: 'array', minItems: 1, maxItems: 1000, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 1100 } },
  },
  oneOf: [{ required: ['all'] }, { required: ['keys'] }],
} as const;

/** The uploader application: durable queue → sink, acknowledged per part on `completed`. */
export function createUploaderApp(deps: ModuleDeps, options: UploaderAppOptions = {}): ModuleApp<UploaderConfig> & {
  /** Resolves once nothing is queued, in flight or waiting in the outbox, or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean>;
} {
  const { edge, paths, env } = deps;
  const logger = deps.logger.child({ component: 'uploader' });
  const random = options.random ?? Math.random;
  const stateDir = options.stateDir ?? paths.state(MODULE_NAME);
  const quarantineDir = path.join(stateDir, 'quarantine');
  const deviceId = env[UPLOADER_ENV.deviceId] ?? edge.deviceId;
  const moduleId = env[UPLOADER_ENV.moduleId] ?? edge.moduleId;
  const nowMs = (): number => deps.now().getTime();
  const shouldLog = createRepeatLimiter(60_000, nowMs);

  let config: UploaderConfig | undefined;
  let queue: Queue | undefined;
  let sink: UploadSink | undefined;
  let sinkKey = '';
  let sinkState: SinkState = 'unconfigured';
  let sinkProblem: { code: string; reason: string; at: string } | undefined;
  let sinkFailures = 0;
  let sinkPausedUntilMs = 0;
  const limiter = new RateLimiter(0);
  const inflight = new Map<number, { item: QueueItem<ItemPayload>; abort: AbortController }>();
  let started = false;
  let stopping = false;
  let flushRequested = false;
  const loops: Promise<void>[] = [];
  const timers: NodeJS.Timeout[] = [];
  const totals = { uploaded: 0, alreadyPresent: 0, bytes: 0, blocksSkipped: 0, quarantined: 0, deadLettered: 0, deferred: 0, reacknowledged: 0 };
  /** `fullAlertAt`: when the last "quota full, deferring" alert went out (one a minute per class at most). */
  const quotaEvents: Record<QueueClass, { rejected: number; evicted: number; lastAt: string | null; warned: boolean; fullAlertAt: number }> = {
    results: { rejected: 0, evicted: 0, lastAt: null, warned: false, fullAlertAt: 0 },
    artifacts: { rejected: 0, evicted: 0, lastAt: null, warned: false, fullAlertAt: 0 },
    raw: { rejected: 0, evicted: 0, lastAt: null, warned: false, fullAlertAt: 0 },
  };
  const recentBytes: { t: number; bytes: number }[] = [];

  // --- metrics -------------------------------------------------------------------------------
  const registers = [deps.registry];
  const usageOf = (cls: QueueClass) => (queue === undefined || queue.isClosed ? undefined : queue.usage(cls));
  new Gauge({
    name: 'edgeml_uploader_queue_items',
    help: 'Items waiting to upload (pending or in flight), by class; result lines count one each.',
    labelNames: ['class'],
    registers,
    collect() {
      for (const c of QUEUE_CLASSES) {
        const u = usageOf(c);
        if (u !== undefined) this.set({ class: c }, u.items);
      }
    },
  });
  new Gauge({
    name: 'edgeml_uploader_queue_bytes',
    help: 'Bytes waiting to upload, by class.',
    labelNames: ['class'],
    registers,
    collect() {
      for (const c of QUEUE_CLASSES) {
        const u = usageOf(c);
        if (u !== undefined) this.set({ class: c }, u.bytes);
      }
    },
  });
  new Gauge({
    name: 'edgeml_uploader_oldest_item_age_seconds',
    help: 'Age of the oldest item still waiting, by class (0 when empty).',
    labelNames: ['class'],
    registers,
    collect() {
      for (const c of QUEUE_CLASSES) {
        const u = usageOf(c);
        if (u !== undefined) this.set({ class: c }, u.oldestEnqueuedAtMs === null ? 0 : Math.max(0, (nowMs() - u.oldestEnqueuedAtMs) / 1000));
      }
    },
  });
  new Gauge({
    name: 'edgeml_uploader_quarantined_items',
    help: 'Items parked in quarantine, by class.',
    labelNames: ['class'],
    registers,
    collect() {
      for (const c of QUEUE_CLASSES) {
        const u = usageOf(c);
        if (u !== undefined) this.set({ class: c }, u.quarantinedItems);
      }
    },
  });
  new Gauge({
    name: 'edgeml_uploader_upload_bytes_per_second',
    help: 'Upload throughput over the last 10 seconds.',
    registers,
    collect() {
      this.set(bytesPerSecond());
    },
  });
  const uploadedItems = new Counter({ name: 'edgeml_uploader_uploaded_items_total', help: 'Items committed and verified, by class and outcome.', labelNames: ['class', 'outcome'], registers });
  const uploadedBytes = new Counter({ name: 'edgeml_uploader_uploaded_bytes_total', help: 'Bytes sent to the sink, by class.', labelNames: ['class'], registers });
  const failures = new Counter({ name: 'edgeml_uploader_failures_total', help: 'Upload failures by classified reason.', labelNames: ['reason'], registers });
  const quotaCounter = new Counter({ name: 'edgeml_uploader_quota_events_total', help: 'Items refused or evicted by a full quota.', labelNames: ['class', 'action'], registers });
  const deadLetters = new Counter({ name: 'edgeml_uploader_dead_lettered_total', help: 'Parts acknowledged as dead-lettered, by error code.', labelNames: ['code'], registers });

  function bytesPerSecond(): number {
    const t = nowMs();
    while (recentBytes.length > 0 && (recentBytes[0]?.t ?? t) < t - 10_000) recentBytes.shift();
    return recentBytes.reduce((s, r) => s + r.bytes, 0) / 10;
  }

  // --- wake-ups -------------------------------------------------------------------------------
  let pumpWake = new AbortController();
  let pumpWakeRequested = false;
  const wakePump = (): void => {
    pumpWakeRequested = true;
    pumpWake.abort();
  };
  let outboxWake = new AbortController();
  let outboxWakeRequested = false;
  const wakeOutbox = (): void => {
    outboxWakeRequested = true;
    outboxWake.abort();
  };
  const stopController = new AbortController();

  /** Abortable nap that ends early on a wake-up or on stop; never throws. */
  const nap = async (ms: number, wake: AbortSignal): Promise<void> => {
    try {
      await sleep(ms, AbortSignal.any([wake, stopController.signal]));
    } catch (err: unknown) {
      if (errorCode(err) !== 'ABORTED') logger.warn({ err }, 'unexpected error while waiting');
    }
  };

  // --- acknowledgements -------------------------------------------------------------------
  const completionBody = (ack: PartAck, outcome: CompletionMessage['outcome'], details: CompletionDetails): string =>
    JSON.stringify(buildCompletion(MODULE_NAME, ack, outcome, details, deps.now()));

  const logOnce = (key: string, level: 'warn' | 'error', obj: Record<string, unknown>, msg: string): void => {
    const r = shouldLog(key);
    if (r.log) logger[level]({ ...obj, ...(r.suppressed > 0 ? { repeatedSinceLastLog: r.suppressed } : {}) }, msg);
  };

  /** Dead-letters a part that never entered the queue (bad input, quota): ack + alert + log. */
  const deadLetterPart = async (ack: PartAck | undefined, code: string, reason: string, details: Record<string, unknown> = {}): Promise<void> => {
    deadLetters.inc({ code });
    totals.deadLettered++;
    logOnce(`dl:${code}`, 'warn', { code, reason, id: ack?.id, part: ack?.part, ...details }, `dead-lettered: ${reason}`);
    if (ack !== undefined && queue !== undefined && !queue.isClosed) {
      queue.addOutbox([completionBody(ack, 'deadLettered', { code, reason })]);
      wakeOutbox();
    }
    await sendAlert(edge, logger, { severity: 'warning', code, message: reason, ...(ack === undefined ? {} : { id: ack.id }), details: { part: ack?.part ?? null, ...details } }, deps.now);
  };

  /**
   * A full rejectNew quota: the part is not taken now. The watcher keeps the source and offers it
   * again after quotaRetryAfterMs; nothing is dropped. One alert per quota-full episode, not per item.
   */
  const deferPart = (ack: PartAck, cls: QueueClass, reason: string, code: 'QUOTA_EXCEEDED' | 'FILE_NOT_FOUND' = 'QUOTA_EXCEEDED', retryMs?: number): void => {
    totals.deferred++;
    const retryAfterMs = retryMs ?? config?.quotaRetryAfterMs ?? UPLOADER_DEFAULTS.quotaRetryAfterMs;
    logOnce(`deferred:${cls}:${code}`, 'warn', { code, reason, id: ack.id, part: ack.part, class: cls, retryAfterMs }, `deferred: ${reason}; the watcher offers it again`);
    if (queue !== undefined && !queue.isClosed) {
      queue.addOutbox([completionBody(ack, 'deferred', { code, reason, retryAfterMs })]);
      wakeOutbox();
    }
    if (code !== 'QUOTA_EXCEEDED') return;
    const q = quotaEvents[cls];
    const nowMs = deps.now().getTime();
    if (nowMs - q.fullAlertAt >= 60_000) {
      q.fullAlertAt = nowMs;
      void sendAlert(edge, logger, { severity: 'warning', code: 'QUOTA_EXCEEDED', message: `${cls} quota full: new items are deferred until uploads free room (${reason})`, details: { class: cls, policy: 'rejectNew', retryAfterMs } }, deps.now);
    }
  };

  /** Best effort: the part a malformed message was about, so the watcher can close it. */
  const tryAck = (body: Buffer): PartAck | undefined => {
    try {
      const data = decodeJsonBody(body) as Record<string, unknown> | null;
      if (data === null || typeof data !== 'object') return undefined;
      const { id, part, expectedParts } = data;
      if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id) || typeof part !== 'string' || part.length === 0 || part.length > 128) return undefined;
      if (!Array.isArray(expectedParts) || expectedParts.length === 0 || expectedParts.length > 32 || !expectedParts.every((p) => typeof p === 'string' && p.length > 0 && p.length <= 128)) return undefined;
      return { id, part, expectedParts: expectedParts as string[] };
    } catch (err: unknown) {
      logger.debug({ err }, 'message body not decodable; no part to acknowledge');
      return undefined;
    }
  };

  const afterEnqueue = async (cls: QueueClass, outcome: EnqueueOutcome<ItemPayload, PartAck>, ack: PartAck): Promise<void> => {
    if (outcome.status === 'rejected') {
      noteQuota(cls, 'rejected', 1);
      if (outcome.permanent) await deadLetterPart(ack, 'QUOTA_EXCEEDED', outcome.reason, { class: cls, policy: config?.classes[cls].policy });
      else deferPart(ack, cls, outcome.reason);
      return;
    }
    if (outcome.status === 'queued') {
      if (outcome.evicted.length > 0) {
        noteQuota(cls, 'evicted', outcome.evicted.length);
        for (const e of outcome.evicted) {
          const acks = e.type === 'result' ? [e.row.ack] : e.item.payload.type === 'file' ? [e.item.payload.ack] : [];
          for (const a of acks) await deadLetterPart(a, 'QUOTA_EXCEEDED', `evicted: the ${cls} quota is full and its policy is evictOldest`, { class: cls, policy: 'evictOldest' });
        }
      }
      checkQuotaWarning(cls);
      wakePump();
    }
  };

  const noteQuota = (cls: QueueClass, action: 'rejected' | 'evicted', n: number): void => {
    quotaCounter.inc({ class: cls, action }, n);
    quotaEvents[cls][action] += n;
    quotaEvents[cls].lastAt = deps.now().toISOString();
    logOnce(`quota:${cls}:${action}`, 'warn', { class: cls, action, total: quotaEvents[cls][action] }, `${cls} quota full: ${action} ${n} item(s)`);
    void reportStatus();
  };

  const checkQuotaWarning = (cls: QueueClass): void => {
    if (queue === undefined || config === undefined) return;
    const u = queue.usage(cls);
    const quota = config.classes[cls].quotaBytes;
    const ratio = quota === 0 ? 1 : u.bytes / quota;
    const q = quotaEvents[cls];
    if (!q.warned && ratio >= config.quotaWarnRatio) {
      q.warned = true;
      logger.warn({ class: cls, bytes: u.bytes, quotaBytes: quota, ratio }, `${cls} queue at ${Math.round(ratio * 100)}% of its quota`);
      void sendAlert(edge, logger, { severity: 'warning', code: 'QUOTA_EXCEEDED', message: `${cls} queue at ${Math.round(ratio * 100)}% of its ${quota}-byte quota`, details: { class: cls } }, deps.now);
      void reportStatus();
    } else if (q.warned && ratio < config.quotaWarnRatio * 0.9) q.warned = false;
  };

  // --- inputs -------------------------------------------------------------------------------
  const accepting = (): boolean => !stopping && queue !== undefined && !queue.isClosed && config !== undefined;

  const onArtifact = async (msg: IncomingMessage): Promise<void> => {
    if (!accepting()) {
      logOnce('stopping', 'warn', {}, 'message arrived while stopping; not accepted (the watcher re-emits)');
      return;
    }
    let m: ArtifactMessage;
    try {
      m = parseMessage(msg.body, SCHEMAS.artifact);
    } catch (err: unknown) {
      await deadLetterPart(tryAck(msg.body), errorCode(err), errorMessage(err), { input: 'artifacts' });
      return;
    }
    const ack: PartAck = { id: m.id, part: m.part, expectedParts: [...m.expectedParts] };
    const cfg = config as UploaderConfig;
    const q = queue as Queue;
    try {
      const cls = classOfArtifact(m.artifact.kind);
      const resolve = async (): Promise<string> => {
        if (m.artifact.kind === 'raw') return resolveInside(paths.share, m.artifact.path, { mustBeFile: true });
        const f = await resolveInside(paths.root, m.artifact.path, { mustBeFile: true });
        if (!isWithin(paths.staging, f)) throw new EdgeMLError('PATH_OUTSIDE_ROOT', `artifact ${JSON.stringify(m.artifact.path)} is not in staging/`);
        return f;
      };
      const name = renderBlobName(cfg.blobNameTemplate, { deviceId, moduleId, kind: m.artifact.kind, date: new Date(m.source.detectedAt), id: m.id, part: m.part, ext: m.artifact.format });
      const key = `a:${name}`;
      // Replays are checked before the file: a copy of an artifact uploaded (and its staging file
      // deleted) a moment ago must be acknowledged again, not failed for a missing file.
      const done = q.lookupDone(key);
      if (done !== undefined && done.contentSha256 === m.artifact.sha256) {
        totals.reacknowledged++;
        q.addOutbox([completionBody(ack, 'uploaded', { blob: { sink: done.sink, name: done.blobName, md5: done.md5 } })]);
        wakeOutbox();
        const stale = await resolve().catch(() => undefined);
        if (stale !== undefined && isWithin(paths.staging, stale) && cfg.deleteAfterUpload) await removeStagingFile(stale);
        return;
      }
      let file: string;
      try {
        file = await resolve();
      } catch (err: unknown) {
        if (errorCode(err) !== 'FILE_NOT_FOUND' || m.artifact.kind === 'raw') throw err;
        // Our own staging file is gone (a duplicate whose twin was consumed, a cleaned volume): not
        // the source's fault. Deferred, so the watcher offers the source again if the part is still missing.
        deferPart(ack, cls, `staging file ${m.artifact.path} is missing`, 'FILE_NOT_FOUND', STAGING_MISSING_RETRY_MS);
        return;
      }
      const size = (await stat(file)).size;
      if (size !== m.artifact.sizeBytes) throw new EdgeMLError('INPUT_MALFORMED', `artifact is ${size} bytes on disk, the message says ${m.artifact.sizeBytes}`);
      const owned = isWithin(paths.staging, file);
      const payload: ItemPayload = {
        type: 'file',
        name,
        file,
        owned,
        sizeBytes: m.artifact.sizeBytes,
        sha256: m.artifact.sha256,
        contentType: m.artifact.contentType,
        metadata: blobMetadata({
          edgemlid: m.id,
          part: m.part,
          kind: m.artifact.kind,
          sourcesha256: m.source.sha256,
          contentsha256: m.artifact.sha256,
          modelversion: typeof m.artifact.metadata['modelVersion'] === 'string' ? m.artifact.metadata['modelVersion'] : undefined,
        }),
        ack,
      };
      await afterEnqueue(cls, q.enqueue({ key, cls, sizeBytes: m.artifact.sizeBytes, payload }), ack);
    } catch (err: unknown) {
      await deadLetterPart(ack, errorCode(err), errorMessage(err), { input: 'artifacts', path: m.artifact.path.slice(0, 256) });
    }
  };

  const onResult = async (msg: IncomingMessage): Promise<void> => {
    if (!accepting()) {
      logOnce('stopping', 'warn', {}, 'message arrived while stopping; not accepted (the producer re-emits)');
      return;
    }
    let m: InferenceResultMessage;
    try {
      m = parseMessage(msg.body, SCHEMAS.result);
    } catch (err: unknown) {
      await deadLetterPart(tryAck(msg.body), errorCode(err), errorMessage(err), { input: 'results' });
      return;
    }
    const ack: PartAck = { id: m.id, part: m.part, expectedParts: [...m.expectedParts], modelVersion: m.model.version };
    const cfg = config as UploaderConfig;
    const q = queue as Queue;
    try {
      const detectedMs = Date.parse(m.source.detectedAt);
      if (Number.isNaN(detectedMs)) throw new EdgeMLError('MESSAGE_INVALID', `source.detectedAt ${JSON.stringify(m.source.detectedAt)} is not a date`);
      const done = q.lookupDone(`r:${m.messageId}`);
      if (done !== undefined) {
        totals.reacknowledged++;
        q.addOutbox([completionBody(ack, 'uploaded', { blob: { sink: done.sink, name: done.blobName, md5: done.md5 } })]);
        wakeOutbox();
        return;
      }
      const windowMs = cfg.results.batchWindowMs;
      const windowStartMs = windowMs > 0 ? Math.floor(detectedMs / windowMs) * windowMs : detectedMs;
      const outcome = q.addResult({ messageId: m.messageId, windowKey: windowStartMs, line: canonicalJson(m), ack });
      await afterEnqueue('results', outcome, ack);
    } catch (err: unknown) {
      await deadLetterPart(ack, errorCode(err), errorMessage(err), { input: 'results' });
    }
  };

  // --- batches ----------------------------------------------------------------------------
  const makeBatch = (windowStartMs: number, rows: readonly ResultRow<PartAck>[]): { key: string; payload: ItemPayload } => {
    const cfg = config as UploaderConfig;
    const batchId = sha256(rows.map((r) => r.messageId).join('\n')).slice(0, 16);
    const name = renderBlobName(cfg.resultsBlobNameTemplate, { deviceId, moduleId, kind: 'results', date: new Date(windowStartMs), batchId });
    return { key: `b:${name}`, payload: { type: 'batch', name, windowStartMs, lines: rows.length } };
  };

  const sealDue = (): void => {
    if (queue === undefined || config === undefined) return;
    const force = flushRequested;
    flushRequested = false;
    queue.sealBatches({ windowMs: config.results.batchWindowMs, maxItems: config.results.batchMaxItems, maxBytes: config.results.batchMaxBytes, force, makeBatch });
  };

  // --- the upload of one item ---------------------------------------------------------------
  const buildRequest = (item: QueueItem<ItemPayload>, q: Queue): { request: UploadRequest; rows: ResultRow<PartAck>[] } | undefined => {
    const p = item.payload;
    if (p.type === 'file') {
      return {
        request: { name: p.name, source: { file: p.file }, sizeBytes: p.sizeBytes, expectedSha256: p.sha256, contentType: p.contentType, metadata: p.metadata },
        rows: [],
      };
    }
    const rows = q.batchRows(item.seq);
    if (rows.length === 0) return undefined;
    const data = Buffer.from(rows.map((r) => r.line).join('\n') + '\n', 'utf8');
    const versions = [...new Set(rows.map((r) => r.ack.modelVersion).filter((v): v is string => v !== undefined))].sort();
    return {
      request: {
        name: p.name,
        source: { data },
        sizeBytes: data.length,
        contentType: 'application/x-ndjson',
        metadata: blobMetadata({ kind: 'results', lines: String(rows.length), modelversion: versions.join(',').slice(0, 256) || undefined }),
      },
      rows,
    };
  };

  function blobMetadata(fields: Record<string, string | undefined>): Record<string, string> {
    const out: Record<string, string> = { deviceid: deviceId };
    for (const [k, v] of Object.entries(fields)) {
      // Metadata travels as HTTP headers: ASCII only.
      if (v !== undefined && v !== '') out[k] = v.replace(/[^\x20-\x7e]/g, '?').slice(0, 1024);
    }
    return out;
  }

  async function removeStagingFile(file: string): Promise<void> {
    try {
      await rm(file, { force: true });
      const dir = path.dirname(file);
      // The transformer stages per content id (staging/<id>/…); drop the directory once empty.
      if (isWithin(paths.staging, dir) && dir !== paths.staging) {
        await rmdir(dir).catch((err: unknown) => {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') logger.debug({ err, dir }, 'staging directory not removed');
        });
      }
    } catch (err: unknown) {
      logOnce('rm-staging', 'warn', { err, file }, 'could not delete an uploaded staging file');
    }
  }

  const processItem = async (item: QueueItem<ItemPayload>, abort: AbortController): Promise<void> => {
    const q = queue as Queue;
    const s = sink as UploadSink;
    const cfg = config as UploaderConfig;
    let rows: ResultRow<PartAck>[] = [];
    try {
      const built = buildRequest(item, q);
      if (built === undefined) {
        q.drop(item.seq, []);
        return;
      }
      rows = built.rows;
      const result = await s.upload(built.request, abort.signal);
      onUploaded(item, result, rows, s.kind);
      sinkFailures = 0;
      // A success proves the sink works again, whatever was concluded before (outage, rights fixed).
      if (sinkState !== 'ready' && sinkState !== 'unconfigured') setSinkState('ready');
      if (item.payload.type === 'file' && item.payload.owned && (cfg.deleteAfterUpload || item.payload.file.startsWith(quarantineDir))) await removeStagingFile(item.payload.file);
    } catch (err: unknown) {
      await onFailed(item, err, rows);
    }
  };

  const onUploaded = (item: QueueItem<ItemPayload>, result: UploadResult, rows: readonly ResultRow<PartAck>[], sinkKind: 'blob' | 'directory'): void => {
    const q = queue as Queue;
    const blob = { sink: sinkKind, name: result.name, md5: result.md5 };
    const p = item.payload;
    const acks = p.type === 'file' ? [p.ack] : rows.map((r) => r.ack);
    const keys = p.type === 'file' ? [item.key] : rows.map((r) => `r:${r.messageId}`);
    q.complete(item.seq, { keys, blobName: result.name, md5: result.md5, sink: sinkKind, contentSha256: p.type === 'file' ? p.sha256 : null, outbox: acks.map((a) => completionBody(a, 'uploaded', { blob })) });
    wakeOutbox();
    uploadedItems.inc({ class: item.cls, outcome: result.outcome });
    uploadedBytes.inc({ class: item.cls }, result.bytesSent);
    recentBytes.push({ t: nowMs(), bytes: result.bytesSent });
    if (recentBytes.length > 10_000) recentBytes.shift();
    totals.uploaded++;
    totals.bytes += result.bytesSent;
    totals.blocksSkipped += result.blocksSkipped;
    if (result.outcome === 'alreadyPresent') totals.alreadyPresent++;
    logger.debug({ name: result.name, md5: result.md5, outcome: result.outcome, bytesSent: result.bytesSent, blocksSkipped: result.blocksSkipped }, 'uploaded');
  };

  const onFailed = async (item: QueueItem<ItemPayload>, err: unknown, rows: ResultRow<PartAck>[]): Promise<void> => {
    const q = queue as Queue;
    const cfg = config as UploaderConfig;
    const c = classifyFailure(err);
    if (c.kind !== 'aborted') failures.inc({ reason: c.reason });
    const t = nowMs();
    switch (c.kind) {
      case 'aborted':
        q.release(item.seq, 0);
        return;
      case 'unavailable': {
        // The sink did not answer: pause the whole queue, charge nothing to the item.
        sinkFailures++;
        sinkPausedUntilMs = t + backoffDelayMs(sinkFailures, cfg.retry, random);
        q.release(item.seq, 0);
        setSinkState('unavailable', { code: c.code, reason: errorMessage(err) });
        logOnce('sink-unavailable', 'warn', { err, code: c.code, retryInMs: sinkPausedUntilMs - t }, `sink unavailable; uploads paused: ${errorMessage(err)}`);
        return;
      }
      case 'transient': {
        const attempts = q.fail(item.seq, { code: c.code, reason: errorMessage(err), nextAttemptAtMs: t + backoffDelayMs(item.attempts + 1, cfg.retry, random) });
        logOnce(`transient:${c.reason}`, 'warn', { err, key: item.key, attempts, maxAttempts: cfg.maxAttempts }, `upload failed (attempt ${attempts} of ${cfg.maxAttempts}): ${errorMessage(err)}`);
        if (attempts >= cfg.maxAttempts) await quarantine(item, c, `gave up after ${attempts} attempts: ${errorMessage(err)}`, rows);
        return;
      }
      case 'permission':
        setSinkState('fatal', { code: c.code, reason: errorMessage(err) });
        await quarantine(item, c, errorMessage(err), rows);
        return;
      case 'conflict':
      case 'fatal':
        await quarantine(item, c, errorMessage(err), rows);
        return;
    }
  };

  /** Parks an item so the queue moves on: a copy in the quarantine folder, dead-letter acks, an alert. */
  const quarantine = async (item: QueueItem<ItemPayload>, c: Classified, reason: string, knownRows: ResultRow<PartAck>[]): Promise<void> => {
    const q = queue as Queue;
    let payload = item.payload;
    const base = path.join(quarantineDir, `${item.seq}`);
    try {
      if (payload.type === 'file' && payload.owned && !payload.file.startsWith(quarantineDir)) {
        const dest = `${base}-${path.basename(payload.file)}`;
        await moveFile(payload.file, dest);
        payload = { ...payload, file: dest };
      }
      const rows = payload.type === 'batch' ? (knownRows.length > 0 ? knownRows : q.batchRows(item.seq)) : [];
      if (payload.type === 'batch') await writeFileAtomic(`${base}-batch.jsonl`, rows.map((r) => r.line).join('\n') + '\n');
      await writeFileAtomic(
        `${base}.error.json`,
        JSON.stringify({ key: item.key, class: item.cls, code: c.code, reason, attempts: item.attempts + 1, at: deps.now().toISOString(), payload }, null, 2),
      );
    } catch (err: unknown) {
      logger.error({ err, key: item.key }, 'could not write the quarantine copy; the item is quarantined in the queue only');
    }
    const rows = payload.type === 'batch' ? (knownRows.length > 0 ? knownRows : q.batchRows(item.seq)) : [];
    const acks = payload.type === 'file' ? [payload.ack] : rows.map((r) => r.ack);
    q.quarantine(item.seq, { code: c.code, reason, payload, outbox: acks.map((a) => completionBody(a, 'deadLettered', { code: c.code, reason })) });
    wakeOutbox();
    totals.quarantined++;
    deadLetters.inc({ code: c.code }, acks.length);
    logOnce(`quarantine:${c.code}`, 'error', { code: c.code, key: item.key, reason }, `quarantined ${payload.name}: ${reason}`);
    await sendAlert(
      edge,
      logger,
      {
        severity: c.kind === 'permission' ? 'critical' : 'error',
        code: c.code,
        message: `upload of ${payload.name} quarantined: ${reason}`,
        ...(payload.type === 'file' ? { id: payload.ack.id } : {}),
        details: { key: item.key, class: item.cls, quarantine: quarantineDir },
      },
      deps.now,
    );
  };

  // --- sink state -----------------------------------------------------------------------------
  function setSinkState(state: SinkState, problem?: { code: string; reason: string }): void {
    const changed = state !== sinkState;
    sinkState = state;
    sinkProblem = problem === undefined ? undefined : { ...problem, at: deps.now().toISOString() };
    if (!changed) return;
    if (state === 'fatal') {
      logger.fatal({ code: problem?.code, reason: problem?.reason, target: sink?.target }, `upload sink refuses writes: ${problem?.reason ?? ''}`);
      void sendAlert(edge, logger, { severity: 'critical', code: problem?.code ?? 'SINK_PERMISSION_DENIED', message: problem?.reason ?? 'sink refuses writes', details: { target: sink?.target ?? null } }, deps.now);
    } else if (state === 'ready') logger.info({ target: sink?.target }, 'upload sink ready');
    void reportStatus();
  }

  const checkSink = async (): Promise<void> => {
    const s = sink;
    if (s === undefined) return;
    setSinkState('checking');
    try {
      await s.checkAccess(stopController.signal);
      if (sink === s) setSinkState('ready');
    } catch (err: unknown) {
      if (sink !== s) return;
      const c = classifyFailure(err);
      if (c.kind === 'aborted') return;
      if (c.kind === 'unavailable' || c.kind === 'transient') {
        setSinkState('unavailable', { code: c.code, reason: errorMessage(err) });
        logger.warn({ err }, `upload sink not reachable at start; items stay queued: ${errorMessage(err)}`);
      } else setSinkState('fatal', { code: c.code, reason: errorMessage(err) });
    }
  };

  const buildSink = (cfg: UploaderConfig): void => {
    const connectionString = env[UPLOADER_ENV.connectionString];
    const containerSasUrl = env[UPLOADER_ENV.containerSasUrl];
    const key = canonicalJson([cfg.sink, cfg.containerName, cfg.createContainer, cfg.sdkRetry, cfg.singleUploadMaxBytes, cfg.blockSizeBytes, cfg.blockConcurrency, cfg.directory.path]);
    if (key === sinkKey && sink !== undefined) return;
    sinkKey = key;
    void sink?.close();
    sink = undefined;
    try {
      if (options.createSink !== undefined) sink = options.createSink(cfg, limiter);
      else if (cfg.sink === 'directory') {
        const root = path.resolve(paths.cloudshare, cfg.directory.path);
        if (!isWithin(paths.cloudshare, root)) throw new EdgeMLError('CONFIG_INVALID', 'directory.path leaves cloudshare/');
        sink = createDirectorySink({ root, limiter, logger: logger.child({ component: 'dir-sink' }) });
      } else {
        sink = createBlobSink({
          ...(connectionString === undefined ? {} : { connectionString }),
          ...(containerSasUrl === undefined ? {} : { containerSasUrl }),
          containerName: cfg.containerName,
          createContainer: cfg.createContainer,
          sdkRetry: cfg.sdkRetry,
          singleUploadMaxBytes: cfg.singleUploadMaxBytes,
          blockSizeBytes: cfg.blockSizeBytes,
          blockConcurrency: cfg.blockConcurrency,
          limiter,
          deviceId,
          logger: logger.child({ component: 'blob-sink' }),
          now: deps.now,
        });
      }
      setSinkState('checking');
    } catch (err: unknown) {
      // Missing or malformed credentials: items stay queued (nothing is quarantined for this).
      setSinkState('unconfigured', { code: errorCode(err), reason: errorMessage(err) });
      logger.error({ err }, `no upload sink: ${errorMessage(err)}`);
    }
  };

  // --- loops ----------------------------------------------------------------------------------
  const canUpload = (): boolean => config !== undefined && config.uploadOn && sink !== undefined && sinkState !== 'unconfigured' && nowMs() >= sinkPausedUntilMs;

  const pumpLoop = async (): Promise<void> => {
    while (!stopping) {
      pumpWakeRequested = false;
      try {
        sealDue();
        while (canUpload() && inflight.size < (config as UploaderConfig).concurrency) {
          const item = (queue as Queue).claimNext();
          if (item === undefined) break;
          const abort = new AbortController();
          inflight.set(item.seq, { item, abort });
          void processItem(item, abort).finally(() => {
            inflight.delete(item.seq);
            wakePump();
          });
        }
      } catch (err: unknown) {
        logOnce('pump', 'error', { err }, `upload scheduler failed: ${errorMessage(err)}`);
      }
      if (stopping || pumpWakeRequested) continue;
      const next = (queue as Queue).nextDueAtMs();
      const t = nowMs();
      let delay = 1_000;
      if (next !== null && next > t) delay = Math.min(delay, next - t);
      if (sinkPausedUntilMs > t) delay = Math.min(delay, sinkPausedUntilMs - t);
      pumpWake = new AbortController();
      if (pumpWakeRequested) continue;
      await nap(Math.max(5, delay), pumpWake.signal);
    }
  };

  const outboxLoop = async (): Promise<void> => {
    let failuresInRow = 0;
    while (!stopping || failuresInRow === 0) {
      outboxWakeRequested = false;
      const q = queue;
      if (q === undefined || q.isClosed) return;
      const batch = q.peekOutbox(100);
      const sent: number[] = [];
      for (const entry of batch) {
        try {
          const message = JSON.parse(entry.body) as CompletionMessage;
          await edge.sendOutput('completed', {
            body: message,
            messageId: message.messageId,
            properties: { schema: SCHEMAS.completion, outcome: message.outcome, part: message.part, module: MODULE_NAME },
          });
          sent.push(entry.seq);
          failuresInRow = 0;
        } catch (err: unknown) {
          failuresInRow++;
          logOnce('outbox', 'warn', { err, pending: q.outboxSize() }, `could not send a completion; will retry: ${errorMessage(err)}`);
          break;
        }
      }
      if (!q.isClosed) q.removeOutbox(sent);
      if (stopping && (failuresInRow > 0 || batch.length === 0)) return;
      if (batch.length > 0 && failuresInRow === 0) continue;
      const delay = failuresInRow > 0 ? backoffDelayMs(failuresInRow, { initialDelayMs: 500, maxDelayMs: 30_000 }, random) : 1_000;
      outboxWake = new AbortController();
      if (outboxWakeRequested && failuresInRow === 0) continue;
      await nap(delay, outboxWake.signal);
    }
  };

  // --- status ---------------------------------------------------------------------------------
  const statusSnapshot = (): Record<string, unknown> => {
    const usage: Record<string, unknown> = {};
    if (queue !== undefined && !queue.isClosed && config !== undefined) {
      for (const c of QUEUE_CLASSES) {
        const u = queue.usage(c);
        const quota = config.classes[c].quotaBytes;
        usage[c] = {
          items: u.items,
          bytes: u.bytes,
          quotaBytes: quota,
          usedRatio: quota === 0 ? 0 : Math.round((u.bytes / quota) * 1000) / 1000,
          oldestAgeS: u.oldestEnqueuedAtMs === null ? 0 : Math.round((nowMs() - u.oldestEnqueuedAtMs) / 1000),
          quarantined: u.quarantinedItems,
          policy: config.classes[c].policy,
          rejected: quotaEvents[c].rejected,
          evicted: quotaEvents[c].evicted,
          lastQuotaEventAt: quotaEvents[c].lastAt,
        };
      }
    }
    return {
      uploadOn: config?.uploadOn ?? false,
      sink: { kind: sink?.kind ?? config?.sink ?? null, target: sink?.target ?? null, state: sinkState, ...(sinkProblem === undefined ? {} : { problem: sinkProblem }) },
      usage,
      openResultLines: queue !== undefined && !queue.isClosed ? queue.openResults().lines : 0,
      inflight: inflight.size,
      outbox: queue !== undefined && !queue.isClosed ? queue.outboxSize() : 0,
      bytesPerSecond: Math.round(bytesPerSecond()),
      totals: { ...totals },
      // The counts shape every module's getStatus shares (read by the local runtime's view and summary).
      counts: { uploaded: totals.uploaded, alreadyPresent: totals.alreadyPresent, quarantined: totals.quarantined, deadLettered: totals.deadLettered },
    };
  };

  let reporting = false;
  async function reportStatus(): Promise<void> {
    if (!started || reporting) return;
    reporting = true;
    try {
      await edge.updateReported({ status: statusSnapshot() });
    } catch (err: unknown) {
      logOnce('report', 'warn', { err }, `could not report status: ${errorMessage(err)}`);
    } finally {
      reporting = false;
    }
  }

  const idle = async (timeoutMs: number): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const q = queue;
      if (q === undefined || q.isClosed) return true;
      if (inflight.size === 0 && q.backlog() === 0 && q.outboxSize() === 0) return true;
      if (Date.now() >= deadline) return false;
      await sleep(50);
    }
  };

  // --- the ModuleApp --------------------------------------------------------------------------
  return {
    async configure(cfg: UploaderConfig): Promise<void> {
      if (queue === undefined) {
        queue = DurableQueue.open<ItemPayload, PartAck>({ file: path.join(stateDir, 'queue.sqlite'), classes: cfg.classes, now: nowMs });
      }
      queue.setClasses(cfg.classes);
      limiter.setRate(cfg.bandwidthBytesPerSecond);
      const previousSink = sink;
      config = cfg;
      buildSink(cfg);
      if (started && sink !== previousSink) void checkSink();
      wakePump();
    },

    async start(): Promise<void> {
      if (started) return;
      if (config === undefined || queue === undefined) throw new EdgeMLError('INTERNAL', 'uploader started before it was configured');
      started = true;
      edge.onInput('artifacts', onArtifact);
      edge.onInput('results', onResult);
      edge.onMethod(
        'flush',
        jsonMethod<{ waitMs?: number }>({
          schema: FLUSH_PAYLOAD_SCHEMA,
          logger,
          handler: async (p) => {
            const q = queue as Queue;
            flushRequested = true;
            sinkPausedUntilMs = 0;
            const madeDue = q.makeAllDue();
            wakePump();
            const waitMs = p.waitMs ?? 0;
            const drained = waitMs > 0 ? await idle(waitMs) : undefined;
            return { madeDue, backlog: q.isClosed ? 0 : q.backlog(), ...(drained === undefined ? {} : { drained }) };
          },
        }),
      );
      edge.onMethod(
        'retryQuarantined',
        jsonMethod<{ all?: true; keys?: string[] }>({
          schema: RETRY_QUARANTINED_PAYLOAD_SCHEMA,
          logger,
          handler: async (p) => {
            const q = queue as Queue;
            const requeued = q.requeueQuarantined(p.all === true ? undefined : p.keys);
            logger.info({ requeued }, 'quarantined items requeued by operator');
            // Rights may have been fixed since: check the sink again.
            if (sinkState === 'fatal') await checkSink();
            wakePump();
            return { requeued, sink: sinkState };
          },
        }),
      );
      loops.push(pumpLoop(), outboxLoop());
      void checkSink();
      const cfg = config;
      timers.push(setInterval(() => void reportStatus(), cfg.statusReportIntervalMs));
      // Runs whatever the sink is now (a twin change may switch to the directory sink later).
      timers.push(
        setInterval(() => {
          const s = sink;
          if (s?.kind === 'directory' && config !== undefined) {
            (s as DirectorySink).sweep(config.directory.deleteAfterMinutes, nowMs()).catch((err: unknown) => logOnce('sweep', 'warn', { err }, 'directory retention failed'));
          }
        }, cfg.directory.sweepIntervalMs),
      );
      for (const t of timers) t.unref();
      logger.info({ sink: config.sink, target: sink?.target ?? null, deviceId, backlog: queue.backlog() }, 'uploader started');
      void reportStatus();
    },

    async stop(signal: AbortSignal): Promise<void> {
      if (stopping) {
        await Promise.allSettled(loops);
        return;
      }
      stopping = true;
      for (const t of timers) clearInterval(t);
      wakePump();
      // Drain: let uploads in flight finish until the deadline, then abort them (they go back to pending).
      const drained = Promise.allSettled([...inflight.values()].map((f) => idleOne(f.item.seq)));
      const onDeadline = (): void => {
        for (const f of inflight.values()) f.abort.abort(new EdgeMLError('ABORTED', 'module stopping'));
      };
      if (signal.aborted) onDeadline();
      else signal.addEventListener('abort', onDeadline, { once: true });
      await drained;
      signal.removeEventListener('abort', onDeadline);
      wakeOutbox();
      stopController.abort();
      await Promise.allSettled(loops);
      await sink?.close();
      queue?.close();
      logger.info({ totals }, 'uploader stopped');
    },

    status: statusSnapshot,

    ready() {
      const reasons: string[] = [];
      if (sinkState === 'unconfigured') reasons.push(`no upload sink: ${sinkProblem?.reason ?? 'not configured'}`);
      if (sinkState === 'fatal') reasons.push(`upload sink refuses writes: ${sinkProblem?.reason ?? ''}`);
      return { ready: reasons.length === 0, reasons };
    },

    idle,
  };

  async function idleOne(seq: number): Promise<void> {
    while (inflight.has(seq)) await sleep(20);
  }
}
