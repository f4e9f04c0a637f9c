import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  EdgeMLError,
  MAX_MESSAGE_BYTES,
  MODULE_ENDPOINTS,
  SCHEMAS,
  assertValidMessage,
  buildCompletion,
  configHash,
  createRepeatLimiter,
  deterministicMessageId,
  errorCode,
  errorMessage,
  parseMessage,
  preprocessingSignature,
  resolveInside,
  retry,
  sendAlert,
  sha256,
  sha256File,
  toRelative,
  writeFileAtomic,
  type ArtifactMessage,
  type FileMessage,
  type IncomingMessage,
  type ModuleApp,
  type ModuleDeps,
  type OutgoingMessage,
  type SourceRef,
  type TensorMessage,
  encodeNpy,
} from '@edgeml/shared';
import { profileSpec, type TransformerConfig } from './config.js';
import { contentChanged, deadLetterCodeOf, type DeadLetterCode } from './errors.js';
import { fitInside, geometryOf, orientedSize, planResize } from './geometry.js';
import { configureSharp, probeImage, renderArtifactImage, resizeToRgb } from './image.js';
import { createTransformerMetrics } from './metrics.js';
import { convertTable, type TableFormat, type TableResult } from './table/convert.js';
import { toTensor } from './tensor.js';

const OUT = MODULE_ENDPOINTS.transformer.outputs;
const SHA256_RE = /^[0-9a-f]{64}$/;
const JSONL_EXTENSIONS = new Set(['.jsonl', '.ndjson', '.json']);
/** Artifact metadata must stay small (contract: < 16 KiB); column lists beyond this are summarised. */
const MAX_METADATA_BYTES = 12 * 1024;
const SEND_RETRY = { maxAttempts: 4, initialDelayMs: 200, maxDelayMs: 2000 } as const;
/** How long the watcher waits before offering an item this module could not queue (its queue was full). */
const SHED_RETRY_AFTER_MS = 10_000;

export interface TransformerStatus {
  readonly received: number;
  readonly forwarded: number;
  readonly deadLettered: number;
  /** Dropped because the wait queue was full; the watcher re-emits them. */
  readonly shed: number;
  /** Same source already in flight; the running item answers for it. */
  readonly duplicates: number;
  /** Outputs that could not be sent after retries; the watcher re-emits the source. */
  readonly sendFailed: number;
  readonly inFlight: number;
  readonly queued: number;
  readonly failuresByCode: Readonly<Record<string, number>>;
  readonly lastDeadLetter: { readonly code: string; readonly reason: string; readonly path: string | null; readonly at: string } | null;
}

/** The app plus a test hook: resolves once nothing is in flight or queued. */
export interface TransformerApp extends ModuleApp<TransformerConfig> {
  idle(): Promise<void>;
}

interface ItemContext {
  readonly id: string | undefined;
  readonly path: string | undefined;
  readonly kind: string;
}

/**
 * Builds the transformer: input `files` → outputs `tensors`, `artifacts`, and for dead letters
 * `completed` + `alerts`. Each item ends forwarded, dead-lettered, or left for the watcher's
 * re-emission (shed under overload, or its outputs could not be sent); the module keeps going.
 */
export function createTransformerApp(deps: ModuleDeps): TransformerApp {
  const { edge, paths, now } = deps;
  const logger = deps.logger.child({ component: 'transformer' });
  const metrics = createTransformerMetrics(deps.registry);
  const shouldLog = createRepeatLimiter(60_000, () => now().getTime());
  const work = new AbortController();

  let config: TransformerConfig | undefined;
  let started = false;
  let stopping: Promise<void> | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  let active = 0;
  const waiting: ((go: boolean) => void)[] = [];
  const idleWaiters: (() => void)[] = [];
  const inFlightKeys = new Set<string>();
  const counts = { received: 0, forwarded: 0, deadLettered: 0, shed: 0, duplicates: 0, sendFailed: 0 };
  const failuresByCode: Record<string, number> = {};
  let lastDeadLetter: TransformerStatus['lastDeadLetter'] = null;

  const cfg = (): TransformerConfig => {
    if (config === undefined) throw new EdgeMLError('INTERNAL', 'transformer used before configure()');
    return config;
  };

  // ---- bounded concurrency -------------------------------------------------------------------
  const acquire = (): Promise<boolean> => {
    if (active < cfg().maxConcurrentItems && waiting.length === 0) {
      active++;
      metrics.inFlight.set(active);
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      waiting.push(resolve);
      metrics.queued.set(waiting.length);
    });
  };
  const release = (): void => {
    active--;
    while (active < cfg().maxConcurrentItems && waiting.length > 0) {
      active++;
      waiting.shift()!(true);
    }
    metrics.inFlight.set(active);
    metrics.queued.set(waiting.length);
    if (active === 0 && waiting.length === 0) for (const w of idleWaiters.splice(0)) w();
  };

  const timed = async <T>(stage: string, fn: () => Promise<T>): Promise<T> => {
    const end = metrics.stageSeconds.startTimer({ stage });
    try {
      return await fn();
    } finally {
      end();
    }
  };

  // ---- sending -----------------------------------------------------------------------------
  const send = (output: string, body: { schema: string; messageId: string }, properties: Record<string, string>): Promise<void> => {
    try {
      assertValidMessage(body);
    } catch (err: unknown) {
      // Our own message failing its contract is a bug here, not a problem with the input.
      throw new EdgeMLError('INTERNAL', `outgoing ${body.schema} is invalid: ${errorMessage(err)}`, { cause: err });
    }
    const message: OutgoingMessage = { body, messageId: body.messageId, properties: { schema: body.schema, ...properties } };
    return retry(() => edge.sendOutput(output, message), {
      ...SEND_RETRY,
      signal: work.signal,
      classify: (err) => (errorCode(err) === 'EDGE_SEND_FAILED' ? 'retry' : 'fatal'),
      onRetry: ({ attempt, err }) => logger.debug({ err, attempt, output }, 'send failed; retrying'),
    });
  };

  // ---- dead letters --------------------------------------------------------------------------
  const deadLetter = async (ctx: ItemContext, err: unknown): Promise<void> => {
    const code: DeadLetterCode = deadLetterCodeOf(err);
    const reason = errorMessage(err).slice(0, 4000);
    counts.deadLettered++;
    failuresByCode[code] = (failuresByCode[code] ?? 0) + 1;
    lastDeadLetter = { code, reason, path: ctx.path ?? null, at: now().toISOString() };
    metrics.failures.inc({ code });
    metrics.items.inc({ kind: ctx.kind, outcome: 'deadLettered' });
    const fields = { id: ctx.id, path: ctx.path, kind: ctx.kind, code, ...(code === 'INTERNAL' ? { err } : {}) };
    logger.warn(fields, `dead-lettered ${ctx.path ?? 'message'}: ${reason}`);
    if (ctx.id !== undefined) {
      const completion = buildCompletion(edge.moduleId, { id: ctx.id, part: 'transform', expectedParts: ['transform'] }, 'deadLettered', { code, reason }, now());
      try {
        await send(OUT.completed, completion, { id: ctx.id, part: 'transform', outcome: 'deadLettered', code, module: edge.moduleId });
      } catch (sendErr: unknown) {
        counts.sendFailed++;
        logger.error({ err: sendErr, id: ctx.id }, `could not send the dead-letter completion; the watcher will re-emit: ${errorMessage(sendErr)}`);
      }
    }
    await sendAlert(
      edge,
      logger,
      {
        severity: code === 'INTERNAL' ? 'error' : 'warning',
        code,
        message: `transformer dead-lettered ${ctx.path ?? 'a message'}: ${reason}`,
        ...(ctx.id === undefined ? {} : { id: ctx.id }),
        details: { path: ctx.path ?? null, kind: ctx.kind },
      },
      now,
    );
  };

  /**
   * Tells the watcher this item was not taken (the wait queue is full) so it offers it again after
   * {@link SHED_RETRY_AFTER_MS} instead of after its completion timeout. If this send fails too, the
   * timeout still brings the item back.
   */
  const defer = async (msg: FileMessage): Promise<void> => {
    const reason = `the transformer's wait queue is full (${cfg().maxQueuedItems} items behind ${cfg().maxConcurrentItems} in progress)`;
    const completion = buildCompletion(edge.moduleId, { id: msg.id, part: 'transform', expectedParts: ['transform'] }, 'deferred', { code: 'OVERLOADED', reason, retryAfterMs: SHED_RETRY_AFTER_MS }, now());
    try {
      await send(OUT.completed, completion, { id: msg.id, part: 'transform', outcome: 'deferred', code: 'OVERLOADED', module: edge.moduleId });
    } catch (err: unknown) {
      counts.sendFailed++;
      logger.warn({ err, id: msg.id }, `could not send the deferral; the watcher re-emits after its completion timeout: ${errorMessage(err)}`);
    }
  };

  // ---- reading -------------------------------------------------------------------------------
  /** Reads at most `maxBytes` (+1 to notice growth); the stat done earlier may be stale. */
  const readBounded = async (file: string, maxBytes: number, setting: string): Promise<Buffer> => {
    const handle = await open(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, (await handle.stat()).size + 1));
      let filled = 0;
      while (filled < buf.length) {
        const { bytesRead } = await handle.read(buf, filled, buf.length - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled > maxBytes) throw new EdgeMLError('FILE_TOO_LARGE', `file is over ${setting} (${maxBytes} bytes)`);
      return buf.subarray(0, filled);
    } finally {
      await handle.close();
    }
  };

  const sourceRef = (msg: FileMessage): SourceRef => ({
    path: msg.source.path,
    sha256: msg.source.sha256,
    sizeBytes: msg.source.sizeBytes,
    detectedAt: msg.source.detectedAt,
  });

  const stagingFile = (id: string, name: string): { abs: string; rel: string } => {
    const abs = path.join(paths.staging, id, name);
    return { abs, rel: toRelative(paths.root, abs) };
  };

  // ---- images --------------------------------------------------------------------------------
  const processImage = async (msg: FileMessage, file: string, c: TransformerConfig): Promise<void> => {
    const limit = c.image.limitInputPixels;
    const bytes = await timed('read', () => readBounded(file, c.image.maxFileSizeBytes, 'image.maxFileSizeBytes'));
    const digest = await timed('hash', () => Promise.resolve(sha256(bytes)));
    if (digest !== msg.id) throw contentChanged(`content changed: the file's SHA-256 is ${digest}, the message id is ${msg.id}`);
    const probe = await timed('probe', () => probeImage(bytes, limit));
    const oriented = orientedSize(probe.width, probe.height, probe.orientation);
    const enabled = Object.entries(c.image.profiles)
      .filter(([, p]) => p.enabled)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const expectedParts = [...(c.image.artifact.enabled ? ['artifact'] : []), ...enabled.map(([name]) => `result:${name}`)];
    // A re-emission names the parts already uploaded: only the missing ones are produced again.
    const done = new Set(msg.doneParts ?? []);
    const profiles = enabled.filter(([name]) => !done.has(`result:${name}`));
    if (done.size > 0) logger.debug({ id: msg.id, doneParts: [...done] }, 'parts already uploaded are not produced again');
    const createdAt = now().toISOString();
    const outgoing: { output: string; body: TensorMessage | ArtifactMessage; properties: Record<string, string> }[] = [];

    for (const [name, profile] of profiles) {
      const spec = profileSpec(profile);
      const signature = preprocessingSignature(spec);
      const plan = planResize(oriented.width, oriented.height, spec);
      const pixels = await timed('resize', () => resizeToRgb(bytes, limit, plan, spec.background));
      const tensor = await timed('normalize', () => Promise.resolve(toTensor(pixels, plan, spec)));
      const npy = await timed('encode', () => Promise.resolve(encodeNpy({ dtype: tensor.data instanceof Float32Array ? 'float32' : 'uint8', shape: tensor.shape, data: tensor.data })));
      const target = stagingFile(msg.id, `${name}-${signature}.npy`);
      await timed('write', () => writeFileAtomic(target.abs, npy));
      metrics.outputBytes.inc({ output: 'tensor' }, npy.length);
      const part = `result:${name}`;
      const body: TensorMessage = {
        schema: SCHEMAS.tensor,
        id: msg.id,
        messageId: deterministicMessageId(msg.id, 'tensor', name, signature),
        source: sourceRef(msg),
        part,
        expectedParts,
        tensor: { path: target.rel, sha256: sha256(npy), dtype: tensor.dtype, shape: tensor.shape, layout: tensor.layout },
        preprocessing: { profile: name, signature, spec, geometry: geometryOf(plan, oriented.width, oriented.height, probe.orientation) },
        createdAt,
      };
      outgoing.push({
        output: OUT.tensors,
        body,
        properties: { kind: 'image', id: msg.id, part, profile: name, signature, dtype: tensor.dtype, layout: tensor.layout, extension: msg.source.extension },
      });
    }

    if (c.image.artifact.enabled && !done.has('artifact')) {
      const a = c.image.artifact;
      const size = fitInside(oriented.width, oriented.height, a.maxWidth, a.maxHeight);
      const encoded = await timed('artifact', () => renderArtifactImage(bytes, limit, { format: a.format, width: size.width, height: size.height, jpegQuality: a.jpegQuality }));
      const settings = { format: a.format, width: encoded.width, height: encoded.height, ...(a.format === 'jpeg' ? { quality: a.jpegQuality } : {}) };
      const target = stagingFile(msg.id, `image-${configHash(settings)}.${a.format === 'png' ? 'png' : 'jpg'}`);
      await timed('write', () => writeFileAtomic(target.abs, encoded.data));
      metrics.outputBytes.inc({ output: 'artifact' }, encoded.data.length);
      const contentType = a.format === 'png' ? 'image/png' : 'image/jpeg';
      const body: ArtifactMessage = {
        schema: SCHEMAS.artifact,
        id: msg.id,
        messageId: deterministicMessageId(msg.id, 'artifact', configHash(settings)),
        source: sourceRef(msg),
        part: 'artifact',
        expectedParts,
        artifact: {
          path: target.rel,
          sha256: sha256(encoded.data),
          sizeBytes: encoded.data.length,
          kind: 'image',
          format: a.format,
          contentType,
          metadata: {
            width: encoded.width,
            height: encoded.height,
            sourceFormat: probe.format,
            sourceWidth: oriented.width,
            sourceHeight: oriented.height,
            exifOrientation: probe.orientation,
            pages: probe.pages,
            sourceName: msg.source.name,
          },
        },
        createdAt,
      };
      outgoing.push({
        output: OUT.artifacts,
        body,
        properties: { kind: 'image', id: msg.id, part: 'artifact', format: a.format, contentType, sizeBytes: String(encoded.data.length), extension: msg.source.extension },
      });
    }
    // Every file is written before anything is sent: a failure above dead-letters the whole
    // source and no consumer ever sees half of it.
    await timed('send', async () => {
      for (const o of outgoing) await send(o.output, o.body, o.properties);
    });
  };

  // ---- tables --------------------------------------------------------------------------------
  const tableMetadata = (r: TableResult): Record<string, unknown> => {
    const base: Record<string, unknown> = {
      sourceFormat: r.format,
      rows: r.rows,
      batches: r.batches,
      skippedRows: r.skippedRows,
      skippedExamples: r.skippedExamples,
      ...(r.delimiter === undefined ? {} : { delimiter: r.delimiter }),
      ...(r.header === undefined ? {} : { header: r.header }),
      columnCount: r.columns.length,
      unmatchedOverrides: r.unmatchedOverrides.slice(0, 32),
    };
    const full = { ...base, columns: r.columns };
    if (Buffer.byteLength(JSON.stringify(full)) <= MAX_METADATA_BYTES) return full;
    // Wide tables: the Arrow file carries the schema; the message carries a summary.
    const byType: Record<string, number> = {};
    for (const col of r.columns) byType[col.type] = (byType[col.type] ?? 0) + 1;
    return { ...base, columnsByType: byType, columnsTruncated: true };
  };

  const processTable = async (msg: FileMessage, file: string, sizeBytes: number, c: TransformerConfig): Promise<void> => {
    if (sizeBytes > c.table.maxFileSizeBytes) throw new EdgeMLError('FILE_TOO_LARGE', `file is ${sizeBytes} bytes; the limit (table.maxFileSizeBytes) is ${c.table.maxFileSizeBytes}`);
    const format: TableFormat = JSONL_EXTENSIONS.has(msg.source.extension) ? 'jsonl' : 'csv';
    const t = c.table;
    const settings = { format, delimiter: t.delimiter, header: t.header, raggedRows: t.raggedRows, nullValues: t.nullValues, columnTypes: t.columnTypes, batchRows: t.batchRows };
    const target = stagingFile(msg.id, `table-${configHash(settings)}.arrow`);
    const result = await convertTable({ sourcePath: file, targetPath: target.abs, format, expectedSha256: msg.id, options: t, signal: work.signal });
    metrics.stageSeconds.observe({ stage: 'table_infer' }, result.inferMs / 1000);
    metrics.stageSeconds.observe({ stage: 'table_convert' }, result.convertMs / 1000);
    metrics.outputBytes.inc({ output: 'artifact' }, result.arrowBytes);
    const digest = await timed('hash', () => sha256File(target.abs));
    const settingsHash = configHash(settings);
    const contentType = 'application/vnd.apache.arrow.file';
    const body: ArtifactMessage = {
      schema: SCHEMAS.artifact,
      id: msg.id,
      messageId: deterministicMessageId(msg.id, 'artifact', settingsHash),
      source: sourceRef(msg),
      part: 'artifact',
      expectedParts: ['artifact'],
      artifact: { path: target.rel, sha256: digest.sha256, sizeBytes: digest.sizeBytes, kind: 'table', format: 'arrow', contentType, metadata: tableMetadata(result) },
      createdAt: now().toISOString(),
    };
    await timed('send', () =>
      send(OUT.artifacts, body, {
        kind: 'table',
        id: msg.id,
        part: 'artifact',
        format: 'arrow',
        contentType,
        sizeBytes: String(digest.sizeBytes),
        rows: String(result.rows),
        skippedRows: String(result.skippedRows),
        extension: msg.source.extension,
      }),
    );
  };

  // ---- unknown kinds -------------------------------------------------------------------------
  const forwardRaw = async (msg: FileMessage, file: string): Promise<void> => {
    const digest = await timed('hash', () => sha256File(file));
    if (digest.sha256 !== msg.id) throw contentChanged(`content changed: the file's SHA-256 is ${digest.sha256}, the message id is ${msg.id}`);
    const format = msg.source.extension.replace(/^\./, '') || 'bin';
    const contentType = 'application/octet-stream';
    const body: ArtifactMessage = {
      schema: SCHEMAS.artifact,
      id: msg.id,
      messageId: deterministicMessageId(msg.id, 'artifact', 'raw'),
      source: sourceRef(msg),
      part: 'artifact',
      expectedParts: ['artifact'],
      // Raw forwards point at the share itself (path relative to the share, per the contract).
      artifact: { path: msg.source.path, sha256: digest.sha256, sizeBytes: digest.sizeBytes, kind: 'raw', format: format.slice(0, 32), contentType, metadata: { sourceName: msg.source.name } },
      createdAt: now().toISOString(),
    };
    await timed('send', () =>
      send(OUT.artifacts, body, { kind: 'raw', id: msg.id, part: 'artifact', format: body.artifact.format, contentType, sizeBytes: String(digest.sizeBytes), extension: msg.source.extension }),
    );
  };

  // ---- one item ------------------------------------------------------------------------------
  const processFile = async (msg: FileMessage): Promise<void> => {
    const c = cfg(); // one config for the whole item, even if a twin change lands meanwhile
    const kind = msg.source.kind;
    const ctx: ItemContext = { id: msg.id, path: msg.source.path, kind };
    try {
      const file = await timed('resolve', () => resolveInside(paths.share, msg.source.path, { mustBeFile: true }));
      const { size } = await stat(file);
      metrics.inputBytes.inc({ kind }, size);
      if (size === 0) throw new EdgeMLError('INPUT_MALFORMED', 'the file is empty (0 bytes)');
      if (kind === 'image') await processImage(msg, file, c);
      else if (kind === 'table') await processTable(msg, file, size, c);
      else if (c.unknownKinds === 'forwardRaw') await forwardRaw(msg, file);
      else throw new EdgeMLError('UNSUPPORTED_KIND', `files of kind '${kind}' (${msg.source.extension || 'no extension'}) are not transformed; set unknownKinds to 'forwardRaw' to upload them as they are`);
      counts.forwarded++;
      metrics.items.inc({ kind, outcome: 'forwarded' });
    } catch (err: unknown) {
      if (work.signal.aborted) {
        // Stopping: not the file's fault. Leave it; the watcher re-emits it after a restart.
        logger.info({ id: msg.id, path: msg.source.path }, 'stopped before this item finished; it will be re-emitted');
        return;
      }
      if (errorCode(err) === 'EDGE_SEND_FAILED') {
        counts.sendFailed++;
        metrics.items.inc({ kind, outcome: 'sendFailed' });
        logger.error({ err, id: msg.id, path: msg.source.path }, `outputs could not be sent; the watcher will re-emit: ${errorMessage(err)}`);
        return;
      }
      await deadLetter(ctx, err);
    }
  };

  /** What a message we could not parse says about itself, to acknowledge it if it names a source. */
  const describeInvalid = (body: Buffer): ItemContext => {
    if (body.length > MAX_MESSAGE_BYTES) return { id: undefined, path: undefined, kind: 'invalid' };
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      // parseMessage already reported why; there is simply nothing to recover.
      return { id: undefined, path: undefined, kind: 'invalid' };
    }
    const v = value as { schema?: unknown; id?: unknown; source?: { path?: unknown } } | null;
    // Only an edgeml.file/v1 message names a source we may acknowledge; anything else is not ours.
    const id = v?.schema === SCHEMAS.file && typeof v.id === 'string' && SHA256_RE.test(v.id) ? v.id : undefined;
    const p = typeof v?.source?.path === 'string' ? v.source.path.slice(0, 512) : undefined;
    return { id, path: p, kind: 'invalid' };
  };

  const onFile = async (message: IncomingMessage): Promise<void> => {
    if (stopping !== undefined) {
      const r = shouldLog('stopping');
      if (r.log) logger.info({ ignoredSinceLastLine: r.suppressed }, 'stopping: input not taken; the watcher re-emits it');
      return;
    }
    counts.received++;
    let msg: FileMessage;
    try {
      msg = parseMessage(message.body, SCHEMAS.file);
    } catch (err: unknown) {
      await deadLetter(describeInvalid(message.body), err);
      return;
    }
    const key = `${msg.id}\u0000${msg.source.path}`;
    if (inFlightKeys.has(key)) {
      counts.duplicates++;
      metrics.items.inc({ kind: msg.source.kind, outcome: 'duplicate' });
      logger.debug({ id: msg.id, path: msg.source.path }, 'already in flight; this copy is dropped');
      return;
    }
    if (active >= cfg().maxConcurrentItems && waiting.length >= cfg().maxQueuedItems) {
      counts.shed++;
      metrics.items.inc({ kind: msg.source.kind, outcome: 'shed' });
      const r = shouldLog('shed');
      if (r.log) {
        logger.warn(
          { maxQueuedItems: cfg().maxQueuedItems, shedSinceLastLine: r.suppressed + 1, shedTotal: counts.shed, retryAfterMs: SHED_RETRY_AFTER_MS },
          'wait queue full: items deferred; the watcher offers them again',
        );
      }
      await defer(msg);
      return;
    }
    inFlightKeys.add(key);
    try {
      if (!(await acquire())) return;
      try {
        await processFile(msg);
      } finally {
        release();
      }
    } finally {
      inFlightKeys.delete(key);
    }
  };

  // ---- status --------------------------------------------------------------------------------
  const status = (): TransformerStatus => ({
    ...counts,
    inFlight: active,
    queued: waiting.length,
    failuresByCode: { ...failuresByCode },
    lastDeadLetter,
  });

  const reportStatus = (): void => {
    const s = status();
    const { lastDeadLetter: last, ...small } = s;
    edge.updateReported({ status: { ...small, lastDeadLetter: last === null ? null : { ...last, reason: last.reason.slice(0, 512) }, at: now().toISOString() } }).catch((err: unknown) => {
      const r = shouldLog('status-report');
      if (r.log) logger.warn({ err, failuresSinceLastLine: r.suppressed + 1 }, 'could not report status');
    });
  };

  const scheduleStatus = (): void => {
    if (statusTimer !== undefined) clearInterval(statusTimer);
    statusTimer = setInterval(reportStatus, cfg().statusReportIntervalMs);
    statusTimer.unref();
  };

  return {
    configure(next, previous) {
      configureSharp({ vipsThreads: next.image.vipsThreads });
      config = next;
      if (started && previous?.statusReportIntervalMs !== next.statusReportIntervalMs) scheduleStatus();
      // A larger maxConcurrentItems lets waiting items start now.
      while (active < next.maxConcurrentItems && waiting.length > 0) {
        active++;
        waiting.shift()!(true);
      }
      return Promise.resolve();
    },
    start() {
      cfg();
      edge.onInput(MODULE_ENDPOINTS.transformer.inputs.files, onFile);
      started = true;
      scheduleStatus();
      logger.info({ maxConcurrentItems: cfg().maxConcurrentItems, profiles: Object.keys(cfg().image.profiles) }, 'transformer started');
      return Promise.resolve();
    },
    stop(signal) {
      stopping ??= (async () => {
        if (statusTimer !== undefined) clearInterval(statusTimer);
        // Queued items leave without running: the watcher re-emits them.
        for (const w of waiting.splice(0)) w(false);
        metrics.queued.set(0);
        if (active > 0) {
          const drained = new Promise<void>((resolve) => idleWaiters.push(resolve));
          const deadline = new Promise<void>((resolve) => {
            if (signal.aborted) resolve();
            else signal.addEventListener('abort', () => resolve(), { once: true });
          });
          await Promise.race([drained, deadline]);
        }
        // Whatever is still running is cancelled (table conversions check between batches).
        work.abort(new EdgeMLError('ABORTED', 'transformer stopping'));
        reportStatus();
      })();
      return stopping;
    },
    // `counts` is the shape every module's getStatus shares (the local runtime's live view reads it).
    status: () => ({ ...status(), counts: { ...counts } }),
    ready() {
      const reasons: string[] = [];
      if (config === undefined) reasons.push('not configured');
      if (!started) reasons.push('not started');
      if (stopping !== undefined) reasons.push('stopping');
      return { ready: reasons.length === 0, reasons };
    },
    idle() {
      if (active === 0 && waiting.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
  };
}
