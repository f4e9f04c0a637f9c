import { stat } from 'node:fs/promises';
import {
  canonicalJson,
  decodeJsonBody,
  EdgeMLError,
  errorCode,
  errorMessage,
  isWithin,
  parseMessage,
  resolveInside,
  SCHEMAS,
  type ArtifactMessage,
  type ChainResultMessage,
  type HardExampleReason,
  type IncomingMessage,
  type InferenceResultMessage,
} from '@edgeml/shared';
import type { Acknowledger } from './acks.js';
import type { ImageRef } from './dataset-lines.js';
import { imageKey } from './datasets.js';
import { hardExampleReasons, type HardExampleQuota } from './hard-examples.js';
import { classOfArtifact, type QueueClass } from './config.js';
import type { ItemPayload, PartAck, UploaderContext } from './context.js';
import type { LeaseRenewer } from './leases.js';
import { renderBlobName } from './names.js';
import { COLUMNS_METADATA_KEY } from './dataset-files.js';
import { datasetOfArtifact, encodeColumns } from './mltable.js';
import type { EnqueueOutcome } from './queue.js';
import type { QueuePolicy } from './queue-policy.js';
import { blobMetadata } from './sink.js';
import { removeStagingFile } from './staging.js';

/** How soon the watcher offers a source again when its staging file was missing here. */
export const STAGING_MISSING_RETRY_MS = 5_000;

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * A result line: an inference result, or an inference chain's per-file result (both are results of
 * their source, uploaded the same way, one JSON line each).
 * @throws EdgeMLError MESSAGE_INVALID, MESSAGE_TOO_LARGE
 */
export function parseResultLine(body: Buffer): InferenceResultMessage | ChainResultMessage {
  const schema = (decodeJsonBody(body) as { schema?: unknown } | null)?.schema;
  return schema === SCHEMAS.chainResult ? parseMessage(body, SCHEMAS.chainResult) : parseMessage(body, SCHEMAS.result);
}

/** Best effort: the part a malformed message was about, so the watcher can close it. */
export function partOfMalformed(body: Buffer, onUndecodable: (err: unknown) => void): PartAck | undefined {
  try {
    const data = decodeJsonBody(body) as Record<string, unknown> | null;
    if (data === null || typeof data !== 'object') return undefined;
    const { id, part, expectedParts } = data;
    if (typeof id !== 'string' || !SHA256_HEX.test(id) || typeof part !== 'string' || part.length === 0 || part.length > 128) return undefined;
    if (!Array.isArray(expectedParts) || expectedParts.length === 0 || expectedParts.length > 32 || !expectedParts.every((p) => typeof p === 'string' && p.length > 0 && p.length <= 128)) return undefined;
    return { id, part, expectedParts: expectedParts as string[] };
  } catch (err: unknown) {
    onUndecodable(err);
    return undefined;
  }
}

/**
 * Input messages → queue. Each handler ends in one outcome for its part: queued and `held`
 * (announced to the watcher in the same commit), held again (a re-offer of something queued),
 * acknowledged again (a replay of something uploaded), deferred (not now), or dead-lettered (the
 * input's own fault), never a silent drop.
 */
export class Intake {
  readonly #ctx: UploaderContext;
  readonly #acks: Acknowledger;
  readonly #policy: QueuePolicy;
  readonly #leases: LeaseRenewer;
  readonly #queued: () => void;
  readonly #hardQuota: HardExampleQuota;
  #open = true;

  /** `queued`: a part entered the queue (the upload loop wakes up). */
  constructor(options: { ctx: UploaderContext; acks: Acknowledger; policy: QueuePolicy; leases: LeaseRenewer; queued: () => void; hardQuota: HardExampleQuota }) {
    this.#ctx = options.ctx;
    this.#hardQuota = options.hardQuota;
    this.#acks = options.acks;
    this.#policy = options.policy;
    this.#leases = options.leases;
    this.#queued = options.queued;
  }

  /** Settles an enqueue: a part now queued (or queued already) is held; a quarantined one offered again is back. */
  async #settle(cls: QueueClass, outcome: EnqueueOutcome<ItemPayload, PartAck>, ack: PartAck): Promise<void> {
    if (!(await this.#policy.settle(cls, outcome, ack))) return;
    this.#leases.accepted();
    if (outcome.status === 'duplicate' && outcome.requeued) this.#ctx.logger.info({ id: ack.id, part: ack.part }, 'a quarantined part was offered again: back in the queue');
    this.#queued();
  }

  /** Stops taking messages (shutdown): what arrives now is not acknowledged, so its producer re-sends it. */
  close(): void {
    this.#open = false;
  }

  #accepting(): boolean {
    if (this.#open && !this.#ctx.queue.isClosed) return true;
    this.#ctx.logOnce('stopping', 'warn', {}, 'message arrived while stopping; not accepted (the watcher re-emits)');
    return false;
  }

  #malformedPart(body: Buffer): PartAck | undefined {
    return partOfMalformed(body, (err) => this.#ctx.logger.debug({ err }, 'message body not decodable; no part to acknowledge'));
  }

  readonly onArtifact = async (msg: IncomingMessage): Promise<void> => {
    if (!this.#accepting()) return;
    let m: ArtifactMessage;
    try {
      m = parseMessage(msg.body, SCHEMAS.artifact);
    } catch (err: unknown) {
      await this.#acks.deadLetter(this.#malformedPart(msg.body), errorCode(err), errorMessage(err), { input: 'artifacts' });
      return;
    }
    const ack: PartAck = { id: m.id, part: m.part, expectedParts: [...m.expectedParts] };
    try {
      await this.#artifact(m, ack);
    } catch (err: unknown) {
      await this.#acks.deadLetter(ack, errorCode(err), errorMessage(err), { input: 'artifacts', path: m.artifact.path.slice(0, 256) });
    }
  };

  /** Where the artifact's file is: a staging file, or (raw forwards) a share file. */
  async #resolve(m: ArtifactMessage): Promise<string> {
    const { paths } = this.#ctx;
    if (m.artifact.kind === 'raw') return resolveInside(paths.share, m.artifact.path, { mustBeFile: true });
    const f = await resolveInside(paths.root, m.artifact.path, { mustBeFile: true });
    if (!isWithin(paths.staging, f)) throw new EdgeMLError('PATH_OUTSIDE_ROOT', `artifact ${JSON.stringify(m.artifact.path)} is not in staging/`);
    return f;
  }

  async #artifact(m: ArtifactMessage, ack: PartAck): Promise<void> {
    const { queue, paths } = this.#ctx;
    const cfg = this.#ctx.settings();
    const cls = classOfArtifact(m.artifact.kind);
    const dataset = datasetOfArtifact(m.artifact.kind, m.artifact.format, m.artifact.metadata);
    const name = renderBlobName(cfg.blobNameTemplate, {
      dataset: dataset.dataset,
      deviceId: this.#ctx.deviceId,
      moduleId: this.#ctx.moduleId,
      kind: m.artifact.kind,
      date: new Date(m.source.detectedAt),
      id: m.id,
      part: m.part,
      ext: m.artifact.format,
    });
    const key = `a:${name}`;
    // Replays are checked before the file: a copy of an artifact uploaded (and its staging file
    // deleted) a moment ago must be acknowledged again, not failed for a missing file; a copy of
    // one still queued is held again (the watcher re-offered it: its lease ran out or was lost).
    const done = queue.lookupDone(key);
    if (m.artifact.kind === 'image') this.#rememberImage(m, name);
    if (done !== undefined && done.contentSha256 === m.artifact.sha256) {
      this.#acks.reacknowledge(ack, done);
      const stale = await this.#resolve(m).catch(() => undefined);
      if (stale !== undefined && isWithin(paths.staging, stale) && cfg.deleteAfterUpload) await removeStagingFile(this.#ctx, stale);
      return;
    }
    const again = queue.holdAgain(key, this.#leases.held(ack));
    if (again !== undefined) {
      await this.#settle(cls, { status: 'duplicate', requeued: again.requeued }, ack);
      return;
    }
    let file: string;
    try {
      file = await this.#resolve(m);
    } catch (err: unknown) {
      if (errorCode(err) !== 'FILE_NOT_FOUND' || m.artifact.kind === 'raw') throw err;
      // Our own staging file is gone (a duplicate whose twin was consumed, a cleaned volume): not
      // the source's fault. Deferred, so the watcher offers the source again if the part is still missing.
      this.#acks.defer(ack, 'FILE_NOT_FOUND', `staging file ${m.artifact.path} is missing`, STAGING_MISSING_RETRY_MS, { class: cls });
      return;
    }
    const size = (await stat(file)).size;
    if (size !== m.artifact.sizeBytes) throw new EdgeMLError('INPUT_MALFORMED', `artifact is ${size} bytes on disk, the message says ${m.artifact.sizeBytes}`);
    const modelVersion = m.artifact.metadata['modelVersion'];
    const payload: ItemPayload = {
      type: 'file',
      name,
      file,
      owned: isWithin(paths.staging, file),
      sizeBytes: m.artifact.sizeBytes,
      sha256: m.artifact.sha256,
      contentType: m.artifact.contentType,
      metadata: blobMetadata(this.#ctx.deviceId, {
        edgemlid: m.id,
        part: m.part,
        kind: m.artifact.kind,
        sourcesha256: m.source.sha256,
        contentsha256: m.artifact.sha256,
        modelversion: typeof modelVersion === 'string' ? modelVersion : undefined,
        [COLUMNS_METADATA_KEY]: dataset.columns === undefined ? undefined : encodeColumns(dataset.columns),
      }),
      ack,
    };
    await this.#settle(cls, queue.enqueue({ key, cls, sizeBytes: m.artifact.sizeBytes, payload, held: this.#leases.held(ack) }), ack);
  }

  /** An image artifact's blob and size, for the dataset lines of its source's results (datasets.ts). */
  #rememberImage(m: ArtifactMessage, blob: string): void {
    const meta = m.artifact.metadata;
    const num = (k: string): Record<string, number> => (typeof meta[k] === 'number' && Number.isFinite(meta[k]) ? { [k]: meta[k] } : {});
    const ref: ImageRef = { blob, format: m.artifact.format, ...num('width'), ...num('height'), ...num('sourceWidth'), ...num('sourceHeight') };
    this.#ctx.queue.rememberImage(m.id, ref);
  }

  /** Why a result is a hard example (none when it is not, or hard examples are off). */
  #hardReasons(m: InferenceResultMessage | ChainResultMessage): HardExampleReason[] {
    const cfg = this.#ctx.settings().datasets;
    return cfg.enabled && cfg.hardExamples.enabled ? hardExampleReasons(m, cfg.hardExamples.minConfidence) : [];
  }

  /** A flagged line entered the queue: counted against the hourly quota (or over it). Re-offers of a queued line count nothing. */
  #recordHard(reasons: readonly HardExampleReason[], taken: boolean, outcome: EnqueueOutcome<ItemPayload, PartAck>): void {
    if (reasons.length === 0 || outcome.status !== 'queued') return;
    this.#hardQuota.record(taken);
    if (!taken) this.#ctx.logOnce('hard-example-quota', 'warn', { maxPerHour: this.#ctx.settings().datasets.hardExamples.maxPerHour }, 'hard-example quota for the hour reached: more are counted, not sent');
  }

  readonly onResult = async (msg: IncomingMessage): Promise<void> => {
    if (!this.#accepting()) return;
    let m: InferenceResultMessage | ChainResultMessage;
    try {
      m = parseResultLine(msg.body);
    } catch (err: unknown) {
      await this.#acks.deadLetter(this.#malformedPart(msg.body), errorCode(err), errorMessage(err), { input: 'results' });
      return;
    }
    const modelVersion = m.schema === SCHEMAS.chainResult ? (m.models.reader ?? m.models.detector).version : m.model.version;
    const ack: PartAck = { id: m.id, part: m.part, expectedParts: [...m.expectedParts], modelVersion };
    try {
      await this.#result(m, ack);
    } catch (err: unknown) {
      await this.#acks.deadLetter(ack, errorCode(err), errorMessage(err), { input: 'results' });
    }
  };

  async #result(m: InferenceResultMessage | ChainResultMessage, ack: PartAck): Promise<void> {
    const { queue } = this.#ctx;
    const detectedMs = Date.parse(m.source.detectedAt);
    if (Number.isNaN(detectedMs)) throw new EdgeMLError('MESSAGE_INVALID', `source.detectedAt ${JSON.stringify(m.source.detectedAt)} is not a date`);
    const done = queue.lookupDone(`r:${m.messageId}`);
    if (done !== undefined) {
      this.#acks.reacknowledge(ack, done);
      return;
    }
    const windowMs = this.#ctx.settings().results.batchWindowMs;
    const windowStartMs = windowMs > 0 ? Math.floor(detectedMs / windowMs) * windowMs : detectedMs;
    // Flagged within the quota: the line's ack says why, and its batch puts it in the to-label dataset.
    const reasons = this.#hardReasons(m);
    const taken = reasons.length > 0 && this.#hardQuota.hasRoom(this.#ctx.settings().datasets.hardExamples.maxPerHour);
    const stored: PartAck = taken ? { ...ack, hardExample: reasons } : ack;
    const outcome = queue.addResult({ messageId: m.messageId, windowKey: windowStartMs, line: canonicalJson(m), ack: stored, held: this.#leases.held(ack) });
    this.#recordHard(reasons, taken, outcome);
    // A hard example's image is served before the other artifacts (its batch waits for it).
    const image = taken ? queue.imagesOf<ImageRef>([m.id]).get(m.id) : undefined;
    if (image !== undefined) queue.prioritise(imageKey(image));
    await this.#settle('results', outcome, ack);
  }
}
