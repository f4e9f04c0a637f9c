import { backoffDelayMs, EdgeMLError, errorMessage } from '@edgeml/shared';
import type { Acknowledger } from './acks.js';
import { classifyFailure, type Classified } from './classify.js';
import { acksOf, type ResultLine, type UploadItem, type UploaderContext } from './context.js';
import { DatasetFiles } from './dataset-files.js';
import type { DatasetBatch, DatasetWriter } from './datasets.js';
import type { UploaderMetrics } from './metrics.js';
import type { Quarantine } from './quarantine.js';
import type { QueuePolicy } from './queue-policy.js';
import { blobMetadata, type UploadRequest, type UploadResult, type UploadSink } from './sink.js';
import type { SinkState } from './sink-state.js';
import { removeStagingFile } from './staging.js';
import { Wakeable } from './wakeable.js';

/** The longest the loop sleeps when nothing wakes it (it re-reads the queue's schedule then). */
const IDLE_POLL_MS = 1_000;
/** How soon a batch waiting for its hard examples' images is tried again. */
const IMAGES_FIRST_RETRY_MS = 250;

/**
 * Picks due items (highest class first), uploads up to `concurrency` at once through the sink
 * (which applies the bandwidth cap), and settles each: completed with its acknowledgements,
 * released, charged an attempt, or quarantined, as classify.ts decides.
 */
export class UploadLoop {
  readonly #ctx: UploaderContext;
  readonly #sink: SinkState;
  readonly #policy: QueuePolicy;
  readonly #acks: Acknowledger;
  readonly #metrics: UploaderMetrics;
  readonly #quarantine: Quarantine;
  readonly #datasets: DatasetWriter;
  readonly #inflight = new Map<number, { item: UploadItem; abort: AbortController; done: Promise<void> }>();
  readonly #wake = new Wakeable();
  readonly #datasetFiles: DatasetFiles;
  /** Items refused for the credentials, with the sink generation at the refusal (see #refused). */
  readonly #refusedAt = new Map<number, number>();
  #loop: Promise<void> | undefined;
  #stopping = false;

  constructor(options: { ctx: UploaderContext; sink: SinkState; policy: QueuePolicy; acks: Acknowledger; metrics: UploaderMetrics; quarantine: Quarantine; datasets: DatasetWriter }) {
    this.#datasets = options.datasets;
    this.#ctx = options.ctx;
    this.#datasetFiles = new DatasetFiles(options.ctx.logOnce);
    this.#sink = options.sink;
    this.#policy = options.policy;
    this.#acks = options.acks;
    this.#metrics = options.metrics;
    this.#quarantine = options.quarantine;
  }

  get inflight(): number {
    return this.#inflight.size;
  }

  wake(): void {
    this.#wake.wake();
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Lets uploads in flight finish until `signal` aborts, then aborts them (they go back to pending). */
  async stop(signal: AbortSignal): Promise<void> {
    this.#stopping = true;
    this.#wake.close();
    const drained = Promise.allSettled([...this.#inflight.values()].map((f) => f.done));
    const onDeadline = (): void => {
      for (const f of this.#inflight.values()) f.abort.abort(new EdgeMLError('ABORTED', 'module stopping'));
    };
    if (signal.aborted) onDeadline();
    else signal.addEventListener('abort', onDeadline, { once: true });
    await drained;
    signal.removeEventListener('abort', onDeadline);
    await this.#loop;
  }

  #canUpload(): boolean {
    return this.#ctx.settings().uploadOn && this.#sink.canUpload();
  }

  async #run(): Promise<void> {
    const { queue } = this.#ctx;
    while (!this.#stopping) {
      this.#wake.reset();
      try {
        this.#policy.sealDue();
        while (this.#canUpload() && this.#inflight.size < this.#ctx.settings().concurrency) {
          const item = queue.claimNext();
          if (item === undefined) break;
          this.#launch(item);
        }
      } catch (err: unknown) {
        this.#ctx.logOnce('pump', 'error', { err }, `upload scheduler failed: ${errorMessage(err)}`);
      }
      if (this.#stopping) break;
      const next = queue.nextDueAtMs();
      const t = this.#ctx.nowMs();
      let delay = IDLE_POLL_MS;
      if (next !== null && next > t) delay = Math.min(delay, next - t);
      await this.#wake.nap(Math.max(5, delay), this.#ctx.logger);
    }
  }

  #launch(item: UploadItem): void {
    const abort = new AbortController();
    const done = this.#upload(item, abort.signal).finally(() => {
      this.#inflight.delete(item.seq);
      this.wake();
    });
    this.#inflight.set(item.seq, { item, abort, done });
  }

  #request(item: UploadItem): { request: UploadRequest; rows: ResultLine[]; datasets?: DatasetBatch } | undefined {
    const p = item.payload;
    if (p.type === 'file') {
      return {
        request: { name: p.name, source: { file: p.file }, sizeBytes: p.sizeBytes, expectedSha256: p.sha256, contentType: p.contentType, metadata: p.metadata },
        rows: [],
      };
    }
    const rows = this.#ctx.queue.batchRows(item.seq);
    if (rows.length === 0) return undefined;
    const data = Buffer.from(rows.map((r) => r.line).join('\n') + '\n', 'utf8');
    const versions = [...new Set(rows.map((r) => r.ack.modelVersion).filter((v): v is string => v !== undefined))].sort();
    return {
      request: {
        name: p.name,
        source: { data },
        sizeBytes: data.length,
        contentType: 'application/x-ndjson',
        metadata: blobMetadata(this.#ctx.deviceId, { kind: 'results', lines: String(rows.length), modelversion: versions.join(',').slice(0, 256) || undefined }),
      },
      rows,
      datasets: this.#datasets.build(p.windowStartMs, rows),
    };
  }

  async #upload(item: UploadItem, signal: AbortSignal): Promise<void> {
    try {
      await this.#attempt(item, signal);
    } finally {
      // Settled one way or another; a released item keeps its refusal record until it goes through.
      if (this.#refusedAt.has(item.seq) && !this.#ctx.queue.isClosed && this.#ctx.queue.get(item.seq)?.state !== 'pending') this.#refusedAt.delete(item.seq);
    }
  }

  async #attempt(item: UploadItem, signal: AbortSignal): Promise<void> {
    const { queue } = this.#ctx;
    const sink = this.#sink.sink as UploadSink;
    let rows: ResultLine[] = [];
    try {
      const built = this.#request(item);
      if (built === undefined) {
        queue.drop(item.seq, []);
        return;
      }
      rows = built.rows;
      if (this.#imagesFirst(item, built.datasets)) return;
      // A batch's dataset lines go first: the batch commits (with its hard-example messages) only once they are in.
      for (const extra of built.datasets?.requests ?? []) await sink.upload(extra, signal);
      const result = await sink.upload(built.request, signal);
      const p = item.payload;
      const deleteFile = p.type === 'file' && p.owned && (this.#ctx.settings().deleteAfterUpload || this.#quarantine.holds(p.file));
      // The completion must be durable before the only local copy goes: after a power cut a
      // completion lost from the queue would bring the item back with its file already deleted.
      this.#completed(item, result, rows, sink.kind, deleteFile, built.datasets?.hardExamples ?? []);
      if (built.datasets !== undefined) this.#datasets.committed(built.datasets);
      this.#sink.succeeded();
      if (deleteFile) await removeStagingFile(this.#ctx, p.file);
      const cfg = this.#ctx.settings();
      await this.#datasetFiles.ensure(sink, { template: p.type === 'file' ? cfg.blobNameTemplate : cfg.resultsBlobNameTemplate, blobName: result.name, metadata: built.request.metadata }, signal);
      for (const extra of built.datasets?.requests ?? []) await this.#datasetFiles.ensureLines(sink, extra.name, this.#ctx.deviceId, signal);
    } catch (err: unknown) {
      await this.#failed(item, err, rows);
    }
  }

  /**
   * A batch with hard examples whose images are still queued waits for them (served first, as
   * priority items), so a hard-example message never names an image not yet in the sink. Released
   * without an attempt charged; true when it waits.
   */
  #imagesFirst(item: UploadItem, datasets: DatasetBatch | undefined): boolean {
    const pending = datasets?.imagesPending ?? [];
    if (pending.length === 0) return false;
    for (const key of pending) this.#ctx.queue.prioritise(key);
    this.#ctx.queue.release(item.seq, this.#ctx.nowMs() + IMAGES_FIRST_RETRY_MS);
    this.#ctx.logger.debug({ key: item.key, images: pending.length }, 'results batch waits for its hard examples\' images');
    return true;
  }

  /** `also`: other outbox bodies committed with the completions (a batch's hard-example messages). */
  #completed(item: UploadItem, result: UploadResult, rows: readonly ResultLine[], sinkKind: 'blob' | 'directory', durable: boolean, also: readonly string[]): void {
    const p = item.payload;
    const blob = { sink: sinkKind, name: result.name, md5: result.md5 };
    const keys = p.type === 'file' ? [item.key] : rows.map((r) => `r:${r.messageId}`);
    this.#ctx.queue.complete(item.seq, {
      keys,
      blobName: result.name,
      md5: result.md5,
      sink: sinkKind,
      contentSha256: p.type === 'file' ? p.sha256 : null,
      outbox: [...acksOf(p, rows).map((a) => this.#acks.body(a, 'uploaded', { blob })), ...also],
    }, { durable });
    this.#acks.committed();
    this.#metrics.uploaded(item.cls, result, item.enqueuedAtMs);
    this.#ctx.logger.debug({ name: result.name, md5: result.md5, outcome: result.outcome, bytesSent: result.bytesSent, blocksSkipped: result.blocksSkipped }, 'uploaded');
  }

  /**
   * Refused for the credentials. The first time, that is the sink's problem, not the item's:
   * every upload pauses and the item is charged nothing (an expired SAS must not quarantine the
   * backlog). If the sink's check then passes (it accepts writes) and this item is refused again,
   * the refusal is the item's own (a blob the rights may not touch): it is charged an attempt like
   * any other failure, so it can never hold the queue in a pause/resume loop.
   */
  async #refused(item: UploadItem, c: Classified, err: unknown, rows: readonly ResultLine[]): Promise<void> {
    const { queue } = this.#ctx;
    const cfg = this.#ctx.settings();
    const before = this.#refusedAt.get(item.seq);
    if (before === undefined || before === this.#sink.generation) {
      this.#refusedAt.set(item.seq, this.#sink.generation);
      queue.release(item.seq, 0);
      this.#sink.refused(c.code, err);
      return;
    }
    const t = this.#ctx.nowMs();
    const attempts = queue.fail(item.seq, { code: c.code, reason: errorMessage(err), nextAttemptAtMs: t + backoffDelayMs(item.attempts + 1, cfg.retry, this.#ctx.random) });
    this.#ctx.logOnce('refused-item', 'warn', { err, key: item.key, attempts }, `upload refused for this item while the sink accepts writes (attempt ${attempts} of ${cfg.maxAttempts}): ${errorMessage(err)}`);
    if (attempts >= cfg.maxAttempts) await this.#quarantine.park(item, c, `refused ${attempts} times while the sink accepted other writes: ${errorMessage(err)}`, rows);
  }

  async #failed(item: UploadItem, err: unknown, rows: readonly ResultLine[]): Promise<void> {
    const { queue } = this.#ctx;
    const cfg = this.#ctx.settings();
    const c = classifyFailure(err);
    if (c.kind !== 'aborted') this.#metrics.failure(c.reason);
    switch (c.kind) {
      case 'aborted':
        queue.release(item.seq, 0);
        return;
      case 'unavailable':
        // The sink did not answer: pause every upload, charge nothing to the item.
        queue.release(item.seq, 0);
        this.#sink.unreachable(c.code, err);
        this.#ctx.logOnce('sink-unavailable', 'warn', { err, code: c.code }, `sink unavailable; uploads paused: ${errorMessage(err)}`);
        return;
      case 'transient': {
        const t = this.#ctx.nowMs();
        const attempts = queue.fail(item.seq, { code: c.code, reason: errorMessage(err), nextAttemptAtMs: t + backoffDelayMs(item.attempts + 1, cfg.retry, this.#ctx.random) });
        this.#ctx.logOnce(`transient:${c.reason}`, 'warn', { err, key: item.key, attempts, maxAttempts: cfg.maxAttempts }, `upload failed (attempt ${attempts} of ${cfg.maxAttempts}): ${errorMessage(err)}`);
        if (attempts >= cfg.maxAttempts) await this.#quarantine.park(item, c, `gave up after ${attempts} attempts: ${errorMessage(err)}`, rows);
        return;
      }
      case 'permission':
        await this.#refused(item, c, err, rows);
        return;
      case 'conflict':
      case 'fatal':
        await this.#quarantine.park(item, c, errorMessage(err), rows);
        return;
    }
  }
}
