/**
 * Tensor messages in: each one ends in exactly one outcome — a result sent, dead-lettered (the
 * tensor's own fault, with a completion and an alert), or deferred back to the watcher (the intake
 * is full, the tensor file is gone, a session worker stopped). The intake is bounded in items and
 * bytes: when full it answers `deferred` (OVERLOADED) at once instead of holding the message, and
 * the watcher, which counts deferred sources as in flight, offers it again later.
 */
import { realpath } from 'node:fs/promises';
import {
  EdgeMLError,
  SCHEMAS,
  errorCode,
  parseMessage,
  resolveInside,
  resolveInsideSync,
  type DataPaths,
  type ActivityWindow,
  type Logger,
  type TensorMessage,
} from '@edgeml/shared';
import type { Admission } from './admission.js';
import { effectiveBatching } from './batching.js';
import type { Batcher } from './batcher.js';
import type { InferencerConfig } from './config.js';
import { batchKey, type ItemResult, type QueuedTensor } from './execution.js';
import type { ModelServing } from './models/serving.js';
import type { Outputs } from './outputs.js';
import { isWorkerStopped } from './session/pool.js';
import type { StagingFiles } from './staging.js';
import type { InferencerCounts, InferencerMetrics } from './status.js';
import { itemShapeOf, tensorBytes, tensorMismatch } from './tensor-checks.js';

/** How soon the watcher offers a source again when its tensor file was missing here. */
export const MISSING_TENSOR_RETRY_MS = 5_000;
/**
 * How soon the watcher offers a source again when the intake was full. A full intake holds
 * `maxQueueItems` tensors (256 by default, seconds of work at the measured rates); the watcher
 * doubles the wait on each repeated deferral of the same source.
 */
export const OVERLOAD_RETRY_MS = 2_000;

export interface IntakeOptions {
  readonly paths: DataPaths;
  readonly serving: ModelServing;
  readonly admission: Admission;
  readonly batcher: Batcher<QueuedTensor, ItemResult>;
  readonly outputs: Outputs;
  readonly staging: StagingFiles;
  readonly config: () => InferencerConfig;
  readonly counts: InferencerCounts;
  /** Tensors turned into a result in the last minute, with their time in the inferencer (getStatus `activity`). */
  readonly activity: ActivityWindow;
  readonly metrics: InferencerMetrics;
  readonly logger: Logger;
  /** Aborted when the module stops. */
  readonly signal: AbortSignal;
}

export class Intake {
  readonly #o: IntakeOptions;

  #root: Promise<string> | undefined;

  constructor(options: IntakeOptions) {
    this.#o = options;
  }

  /** The data root with symlinks resolved, once (it does not move while the module runs). */
  #rootReal(): Promise<string> {
    this.#root ??= realpath(this.#o.paths.root);
    return this.#root;
  }

  /** Handles one tensor message to its outcome. Never throws. */
  async handle(body: Buffer): Promise<void> {
    const o = this.#o;
    o.counts.received++;
    const finished = o.activity.start();
    let msg: TensorMessage;
    try {
      msg = parseMessage(body, SCHEMAS.tensor);
    } catch (err: unknown) {
      const partial = partialMessage(body);
      await o.outputs.deadLetter(partial, err);
      await this.#removeNamedFile(partial?.tensor?.path);
      return;
    }
    let file: string | undefined;
    let release: (() => void) | undefined;
    try {
      // Resolved first, so that every outcome below removes the file from staging. The read checks that it
      // is a regular file (one syscall less per tensor than asking here). Synchronous: one realpath(3) of a
      // local path costs microseconds, its round trip through libuv's thread pool several times that.
      file = resolveInsideSync(await this.#rootReal(), msg.tensor.path);
      o.staging.hold(file);
      const profile = msg.preprocessing.profile;
      const model = o.serving.serving(profile);
      if (model === undefined) throw new EdgeMLError('TENSOR_MISMATCH', `no model is configured for preprocessing profile ${profile} (configured: ${o.serving.profiles().join(', ') || 'none'})`);
      const why = tensorMismatch(msg, model.manifest);
      if (why !== undefined) throw new EdgeMLError('TENSOR_MISMATCH', why);
      const c = o.config();
      const bytes = tensorBytes(msg.tensor);
      if (bytes > c.maxTensorBytes) throw new EdgeMLError('FILE_TOO_LARGE', `tensor of ${bytes} bytes exceeds maxTensorBytes (${c.maxTensorBytes})`);
      if (o.admission.exceedsBound(bytes)) throw new EdgeMLError('FILE_TOO_LARGE', `tensor of ${bytes} bytes exceeds maxQueueBytes (${o.admission.maxBytes})`);
      release = o.admission.tryAcquire(bytes);
      if (release === undefined) {
        await o.outputs.defer(msg, 'OVERLOADED', `the inferencer's intake is full (${o.admission.items} of ${o.admission.maxItems} tensors, ${o.admission.bytes} of ${o.admission.maxBytes} bytes admitted)`, OVERLOAD_RETRY_MS);
        return;
      }
      const itemShape = itemShapeOf(msg.tensor.shape, model.manifest.inputs[0]!.shape.length) as readonly number[];
      const batching = effectiveBatching({ ...model, provider: model.session.provider }, c);
      const queued: QueuedTensor = { message: msg, file, itemShape, verifySha256: !o.staging.contains(file) };
      const batched = await o.batcher.push(batchKey(profile, msg.tensor.dtype, itemShape), queued, batching);
      const { model: resultModel, post, inferMs, comparison } = batched.result;
      await o.outputs.sendResult(msg, resultModel, post, { batchSize: batched.batchSize, queueMs: batched.queueMs, inferMs }, comparison);
      finished();
    } catch (err: unknown) {
      await this.#failed(msg, err);
    } finally {
      release?.();
      if (file !== undefined) await o.staging.release(file, tensorBytes(msg.tensor));
    }
  }

  /** A message that failed its schema may still name a staging file: it is nobody's any more. */
  async #removeNamedFile(rel: unknown): Promise<void> {
    if (typeof rel !== 'string') return;
    const file = await resolveInside(this.#o.paths.root, rel, { mustBeFile: true }).catch(() => undefined);
    if (file === undefined || !this.#o.staging.contains(file)) return;
    this.#o.staging.hold(file);
    await this.#o.staging.release(file, 0);
  }

  async #failed(msg: TensorMessage, err: unknown): Promise<void> {
    const o = this.#o;
    const code = errorCode(err);
    if (code === 'FILE_NOT_FOUND') {
      // Staging is this suite's own area: a tensor file gone before it was read is a duplicate whose
      // twin was already consumed (and its file removed), or a cleaned volume — never the source's fault.
      await o.outputs.defer(msg, 'FILE_NOT_FOUND', `tensor file ${msg.tensor.path} is missing (already consumed by a duplicate, or staging was cleaned)`, MISSING_TENSOR_RETRY_MS);
    } else if (isWorkerStopped(err)) {
      await o.outputs.defer(msg, 'INFERENCE_FAILED', `${(err as Error).message}; the model is being reopened`, MISSING_TENSOR_RETRY_MS);
    } else if (o.signal.aborted && code === 'ABORTED') {
      o.counts.retried++;
      o.logger.info({ id: msg.id, part: msg.part }, 'stopping: tensor left for re-emission by the watcher');
    } else if (code === 'EDGE_SEND_FAILED') {
      o.counts.retried++;
      o.metrics.failures.inc({ code });
      o.logger.error({ err, id: msg.id, part: msg.part }, 'result could not be sent; the watcher will re-emit the source');
    } else {
      await o.outputs.deadLetter(msg, err);
    }
  }
}

/** What a message that failed its schema still tells (id, part, parts), for its dead-letter completion. */
function partialMessage(body: Buffer): Partial<TensorMessage> | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as Partial<TensorMessage>) : undefined;
  } catch {
    return undefined; // not JSON at all: nothing to acknowledge; the alert and the log say why
  }
}
