import { deterministicMessageId, SCHEMAS, sha256, type HardExampleMessage, type InferenceResultMessage } from '@edgeml/shared';
import type { ResultLine, UploaderContext } from './context.js';
import { automlLine, datasetBlobName, imageUrl, IMAGE_DATASET_FOLDER, predictionOf, TO_LABEL_DATASET_FOLDER, type AutomlLine, type ImageRef } from './dataset-lines.js';
import type { HardExampleQuota } from './hard-examples.js';
import { blobMetadata, type UploadRequest } from './sink.js';

/** What a results batch adds to the labelled datasets: blobs to write first, messages to send with its commit. */
export interface DatasetBatch {
  readonly requests: readonly UploadRequest[];
  /** `edgeml.hard-example/v1` bodies, committed to the outbox with the batch's completions. */
  readonly hardExamples: readonly string[];
  /** Item keys of hard examples' images still queued: the batch waits for them (a message names a committed image). */
  readonly imagesPending: readonly string[];
  /** Image result lines left out: no image seen for their source, or boxes without a known coordinate size. */
  readonly skipped: { readonly withoutImage: number; readonly unmappable: number };
}

/** The queue key of an image artifact's item (intake.ts names artifact items `a:<blob name>`). */
export const imageKey = (image: ImageRef): string => `a:${image.blob}`;

const NONE: DatasetBatch = { requests: [], hardExamples: [], imagesPending: [], skipped: { withoutImage: 0, unmappable: 0 } };

/**
 * Labelled image datasets, built on result batching: when a results batch is uploaded, the lines of
 * its image results whose image artifact the uploader has seen become AutoML lines in
 * `datasets/images/…` (the same batch id, so a replay writes the same blob), and those flagged hard
 * examples at intake also go to `datasets/to-label/…`. The dataset blobs are written before the
 * results blob; the batch commits (and its hard-example messages enter the outbox) only once all are in.
 */
export class DatasetWriter {
  readonly #ctx: UploaderContext;
  readonly #quota: HardExampleQuota;
  /** The sink's URL of its container (or directory), for `image_url` when no prefix is set. */
  readonly #sinkTarget: () => string | undefined;
  /** Lines written, and result lines left out because their image is unknown here. */
  readonly counts = { lines: 0, toLabel: 0, withoutImage: 0, unmappable: 0 };

  constructor(ctx: UploaderContext, quota: HardExampleQuota, sinkTarget: () => string | undefined) {
    this.#ctx = ctx;
    this.#quota = quota;
    this.#sinkTarget = sinkTarget;
  }

  #prefix(): string {
    const set = this.#ctx.settings().datasets.imageUrlPrefix;
    if (set !== '') return set;
    const target = this.#sinkTarget() ?? '';
    return target.endsWith('/') ? target : `${target}/`;
  }

  /** The dataset blobs and hard-example messages of a batch (none when datasets are off or no line qualifies). */
  build(windowStartMs: number, rows: readonly ResultLine[]): DatasetBatch {
    const cfg = this.#ctx.settings().datasets;
    if (!cfg.enabled) return NONE;
    const parsed = rows.map((r) => ({ row: r, result: JSON.parse(r.line) as InferenceResultMessage })).filter((x) => x.result.schema === SCHEMAS.result);
    const images = this.#ctx.queue.imagesOf<ImageRef>(parsed.map((x) => x.result.id));
    const batchId = sha256(rows.map((r) => r.messageId).join('\n')).slice(0, 16);
    const date = new Date(windowStartMs);
    const imageBlob = datasetBlobName(IMAGE_DATASET_FOLDER, this.#ctx.deviceId, date, batchId);
    const toLabelBlob = datasetBlobName(TO_LABEL_DATASET_FOLDER, this.#ctx.deviceId, date, batchId);
    const prefix = this.#prefix();
    const all: AutomlLine[] = [];
    const toLabel: AutomlLine[] = [];
    const hardExamples: string[] = [];
    const imagesPending: string[] = [];
    const skipped = { withoutImage: 0, unmappable: 0 };
    for (const { row, result } of parsed) {
      const prediction = predictionOf(result);
      if (prediction === undefined) continue;
      const image = images.get(result.id);
      if (image === undefined) {
        skipped.withoutImage++;
        continue;
      }
      const url = imageUrl(prefix, image.blob);
      const line = automlLine(result, prediction, image, url);
      if (line === undefined) {
        skipped.unmappable++;
        continue;
      }
      all.push(line);
      const reasons = row.ack.hardExample;
      if (reasons === undefined || reasons.length === 0) continue;
      toLabel.push(line);
      if (this.#ctx.queue.isWaiting(imageKey(image))) imagesPending.push(imageKey(image));
      hardExamples.push(JSON.stringify(this.#message(result, reasons, { blob: image.blob, url }, toLabelBlob)));
    }
    const requests: UploadRequest[] = [];
    if (all.length > 0) requests.push(this.#request(imageBlob, all, 'image-dataset'));
    if (toLabel.length > 0) requests.push(this.#request(toLabelBlob, toLabel, 'to-label'));
    return { requests, hardExamples, imagesPending, skipped };
  }

  /** The batch committed: its dataset lines are in and its hard-example messages in the outbox. */
  committed(batch: DatasetBatch): void {
    this.counts.withoutImage += batch.skipped.withoutImage;
    this.counts.unmappable += batch.skipped.unmappable;
    for (const r of batch.requests) {
      const n = Number(r.metadata['lines'] ?? 0);
      if (r.name.startsWith(`${TO_LABEL_DATASET_FOLDER}/`)) this.counts.toLabel += n;
      else this.counts.lines += n;
    }
    this.#quota.sent(batch.hardExamples.length);
  }

  #request(name: string, lines: readonly AutomlLine[], kind: string): UploadRequest {
    const data = Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n') + '\n', 'utf8');
    return { name, source: { data }, sizeBytes: data.length, contentType: 'application/x-ndjson', metadata: blobMetadata(this.#ctx.deviceId, { kind, lines: String(lines.length) }) };
  }

  #message(result: InferenceResultMessage, reasons: HardExampleMessage['reasons'], image: HardExampleMessage['image'], blob: string): HardExampleMessage {
    const prediction = predictionOf(result);
    const o = result.outputs as { label?: unknown; score?: unknown };
    const score = prediction?.kind === 'detection' ? (prediction.boxes.length === 0 ? undefined : Math.min(...prediction.boxes.map((b) => b.score))) : typeof o.score === 'number' ? o.score : undefined;
    return {
      schema: SCHEMAS.hardExample,
      id: result.id,
      messageId: deterministicMessageId('uploader', 'hard-example', result.messageId),
      source: result.source,
      part: result.part,
      profile: result.part.startsWith('result:') ? result.part.slice('result:'.length) : result.part,
      reasons,
      model: result.model,
      ...(prediction?.kind === 'classification' ? { label: prediction.label } : {}),
      ...(score === undefined ? {} : { score }),
      ...(result.comparison === undefined ? {} : { comparison: result.comparison }),
      image,
      dataset: { folder: TO_LABEL_DATASET_FOLDER, blob },
      createdAt: this.#ctx.now().toISOString(),
    };
  }
}
