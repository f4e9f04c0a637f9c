/**
 * Everything the inferencer sends: results (retried until edgeHub persisted them), the completions
 * of tensors it dead-letters or defers (so the watcher never waits for a timeout), and alerts.
 */
import { randomUUID } from 'node:crypto';
import {
  EdgeMLError,
  MODULE_ENDPOINTS,
  SCHEMAS,
  buildCompletion,
  completionOutput,
  createRepeatLimiter,
  deterministicMessageId,
  errorCode,
  errorMessage,
  retry,
  sendAlert,
  type AlertSeverity,
  type ChainStep,
  type EdgeClient,
  type InferenceResultMessage,
  type Logger,
  type ResultComparison,
  type RolloutMessage,
  type TensorMessage,
} from '@edgeml/shared';
import type { PostprocessResult } from './postprocess/types.js';
import type { InferencerCounts, InferencerMetrics } from './status.js';

/** The model a result came from, as the result names it. */
export interface ResultModel {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
  /** The OCI artifact's manifest digest, else `sha256:<model.onnx>`. */
  readonly digest: string;
  readonly provider: string;
}

export interface ResultRuntime {
  readonly batchSize: number;
  readonly queueMs: number;
  readonly inferMs: number;
}

export interface OutputsOptions {
  readonly edge: EdgeClient;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Aborts send retries when the module stops. */
  readonly signal: AbortSignal;
  readonly counts: InferencerCounts;
  readonly metrics: InferencerMetrics;
}

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;

/** Where a chain crop's result goes, by its step (shared chains.ts). */
const CHAIN_STEP_OUTPUTS = {
  orient: MODULE_ENDPOINTS.inferencer.outputs.orientations,
  read: MODULE_ENDPOINTS.inferencer.outputs.readings,
} as const satisfies Record<ChainStep, string>;

export class Outputs {
  readonly #o: OutputsOptions;
  readonly #shouldLog = createRepeatLimiter();

  constructor(options: OutputsOptions) {
    this.#o = options;
  }

  /**
   * Sends the result of one tensor; resolves once edgeHub has persisted it.
   * @throws EdgeMLError EDGE_SEND_FAILED after retries, MESSAGE_TOO_LARGE, ABORTED
   */
  async sendResult(msg: TensorMessage, model: ResultModel, post: PostprocessResult, runtime: ResultRuntime, comparison?: ResultComparison): Promise<void> {
    const profile = msg.preprocessing.profile;
    const link = msg.chain;
    const result: InferenceResultMessage = {
      schema: SCHEMAS.result,
      id: msg.id,
      // A chain's crops share the source id and profile: the run, step and crop tell their results apart.
      // A table's windows share the source id and profile: their parts (`result:<profile>.w<n>`) tell them apart.
      messageId: deterministicMessageId(msg.id, profile, model.name, model.version, ...(link === undefined ? [] : [link.name, link.run, link.step, link.index]), ...(msg.part === `result:${profile}` ? [] : [msg.part])),
      source: msg.source,
      part: msg.part,
      expectedParts: msg.expectedParts,
      model: { name: model.name, version: model.version, sha256: model.sha256, digest: model.digest },
      runtime: { provider: model.provider, batchSize: runtime.batchSize, queueMs: round3(runtime.queueMs), inferMs: round3(runtime.inferMs) },
      outputs: post.outputs,
      ...(comparison === undefined ? {} : { comparison }),
      ...(link === undefined ? {} : { chain: link }),
      createdAt: this.#o.now().toISOString(),
    };
    // The body is built from a validated message and a model whose post-processor's output was checked
    // against the result contract at warm-up (models/warmup.ts); what could still break a route is a
    // score that is not a number (a model emitting NaN), so that alone is checked per item.
    if (post.score !== undefined && !Number.isFinite(post.score)) throw new EdgeMLError('INFERENCE_FAILED', `the model produced a score of ${String(post.score)}`);
    const properties: Record<string, string> = {
      schema: SCHEMAS.result,
      id: msg.id,
      part: msg.part,
      profile,
      model: model.name,
      modelVersion: model.version,
      modelDigest: model.digest,
      provider: model.provider,
      ...(post.label === undefined ? {} : { label: post.label }),
      ...(post.score === undefined ? {} : { score: String(post.score) }),
      ...(comparison === undefined ? {} : { comparison: comparison.agrees ? 'agrees' : 'disagrees' }),
      ...(link === undefined ? {} : { chain: link.name, chainStep: link.step, chainIndex: String(link.index) }),
    };
    // A chain's crop results leave on the output of their step, so routes carry them to the next step
    // without a WHERE clause (MQTT 5 subscriptions cannot filter): `orientations`, `readings`.
    const output = link === undefined ? 'results' : CHAIN_STEP_OUTPUTS[link.step];
    await retry(() => this.#o.edge.sendOutput(output, { body: result, messageId: result.messageId, properties }), {
      maxAttempts: 5,
      initialDelayMs: 200,
      classify: (err) => (errorCode(err) === 'MESSAGE_TOO_LARGE' ? 'fatal' : 'retry'),
      signal: this.#o.signal,
    });
    this.#o.counts.results++;
    this.#o.metrics.results.inc({ profile, label: post.label ?? '-' });
  }

  /**
   * Dead-letters a tensor: a `deadLettered` completion (when the message names its part), an alert
   * and a log line with the code and the reason. Never throws.
   */
  async deadLetter(msg: Partial<TensorMessage> | undefined, err: unknown): Promise<void> {
    const code = errorCode(err);
    const reason = errorMessage(err).slice(0, 4000);
    this.#o.counts.deadLettered++;
    this.#o.metrics.failures.inc({ code });
    const id = typeof msg?.id === 'string' && /^[0-9a-f]{64}$/.test(msg.id) ? msg.id : undefined;
    const part = typeof msg?.part === 'string' && msg.part.length > 0 && msg.part.length <= 128 ? msg.part : undefined;
    const expected = Array.isArray(msg?.expectedParts) && msg.expectedParts.length > 0 && msg.expectedParts.every((p) => typeof p === 'string') ? msg.expectedParts : undefined;
    const limiter = this.#shouldLog(`dead-letter:${code}`);
    if (limiter.log) this.#o.logger.error({ err, id, part, code, suppressedSinceLast: limiter.suppressed }, `tensor dead-lettered: ${reason}`);
    if (id !== undefined && part !== undefined && expected !== undefined) {
      const completion = buildCompletion(this.#o.edge.moduleId, { id, part, expectedParts: expected }, 'deadLettered', { code, reason }, this.#o.now());
      try {
        await retry(() => this.#o.edge.sendOutput('completed', completionOutput(completion)), { maxAttempts: 3, initialDelayMs: 200, signal: this.#o.signal });
      } catch (sendErr: unknown) {
        this.#o.logger.error({ err: sendErr, id, part }, 'could not send the dead-letter completion; the watcher will re-emit the source');
      }
    }
    await this.alert('error', code, `tensor dead-lettered: ${reason}`, { id, details: { part: part ?? null, path: msg?.tensor?.path ?? null } });
  }

  /**
   * Hands a tensor back to the watcher: a `deferred` completion with the code and when to offer it
   * again. Not a failure; no alert. Never throws (if the send fails, the watcher's own timer brings
   * the source back).
   */
  async defer(msg: TensorMessage, code: 'OVERLOADED' | 'FILE_NOT_FOUND' | 'INFERENCE_FAILED', reason: string, retryAfterMs: number): Promise<void> {
    this.#o.counts.deferred++;
    this.#o.metrics.deferred.inc({ code });
    const completion = buildCompletion(this.#o.edge.moduleId, msg, 'deferred', { code, reason, retryAfterMs }, this.#o.now());
    const limiter = this.#shouldLog(`deferred:${code}`);
    if (limiter.log) this.#o.logger.warn({ id: msg.id, part: msg.part, code, retryAfterMs, deferredSinceLastLine: limiter.suppressed }, `tensor deferred back to the watcher: ${reason}`);
    try {
      await this.#o.edge.sendOutput('completed', completionOutput(completion));
    } catch (err: unknown) {
      this.#o.logger.warn({ err, id: msg.id }, 'could not send the deferral; the watcher re-emits after its completion timeout');
    }
  }

  /** Sends a rollout step (`edgeml.rollout/v1`) on `rollout`, routed to $upstream. Never throws. */
  async rolloutEvent(profile: string, event: RolloutMessage['event'], state: Readonly<Record<string, unknown>>): Promise<void> {
    const message: RolloutMessage = {
      schema: SCHEMAS.rollout,
      messageId: randomUUID(),
      module: this.#o.edge.moduleId,
      profile,
      event,
      mode: state['mode'] as RolloutMessage['mode'],
      candidate: (state['candidate'] ?? {}) as RolloutMessage['candidate'],
      live: (state['live'] ?? null) as RolloutMessage['live'],
      ...(state['thresholds'] === undefined ? {} : { thresholds: state['thresholds'] as Readonly<Record<string, number>> }),
      ...(state['figures'] === undefined ? {} : { figures: state['figures'] as Readonly<Record<string, number | null>> }),
      reason: (state['reason'] as string | null | undefined) ?? (state['lastError'] as { message?: string } | null | undefined)?.message ?? null,
      createdAt: this.#o.now().toISOString(),
    };
    const candidate = message.candidate as { digest?: string };
    try {
      await retry(() => this.#o.edge.sendOutput('rollout', { body: message, messageId: message.messageId, properties: { schema: SCHEMAS.rollout, profile, event, mode: message.mode, ...(candidate.digest === undefined ? {} : { candidateDigest: candidate.digest }) } }), {
        maxAttempts: 3,
        initialDelayMs: 200,
        signal: this.#o.signal,
      });
    } catch (err: unknown) {
      this.#o.logger.error({ err, profile, event }, 'could not send a rollout event');
    }
  }

  /** Sends a rollout's alert: a rollback is a `warning` (the live model serves on), anything else an `error`. Never throws. */
  rolloutAlert(code: string, message: string, details: Record<string, unknown>): Promise<void> {
    return this.alert(code === 'ROLLOUT_ROLLED_BACK' ? 'warning' : 'error', code, message, { details });
  }

  /** Sends an alert on `alerts`. Never throws. */
  async alert(severity: AlertSeverity, code: string, message: string, extra: { id?: string | undefined; details?: Record<string, unknown> } = {}): Promise<void> {
    await sendAlert(this.#o.edge, this.#o.logger, { severity, code, message, ...(extra.id === undefined ? {} : { id: extra.id }), ...(extra.details === undefined ? {} : { details: extra.details }) }, this.#o.now);
  }
}
