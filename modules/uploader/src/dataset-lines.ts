import type { ChainResultMessage, InferenceResultMessage } from '@edgeml/shared';
import { compactUtc, safeSegment } from './names.js';

/**
 * Azure ML AutoML image JSON lines (reference-automl-images-schema): one object per image with
 * `image_url`, `image_details` and `label` — a class name (classification) or a list of boxes
 * `{label, topX, topY, bottomX, bottomY}` in fractions 0–1 of the image (object detection). The
 * edge's scores ride along (`score`, and per box), which AutoML ignores and a labelling job reads.
 * Pure: what a line says is a function of the result and the image it names.
 */

/** The dataset folders the uploader writes, each one an Azure ML data asset (its `MLTable` sits in it). */
export const IMAGE_DATASET_FOLDER = 'datasets/images';
export const TO_LABEL_DATASET_FOLDER = 'datasets/to-label';
export const DATASET_FOLDERS = [IMAGE_DATASET_FOLDER, TO_LABEL_DATASET_FOLDER] as const;
/** Below a dataset folder: `<deviceId>/<yyyy>/<MM>/<dd>/<windowStart>-<batchId>.jsonl`. */
export const DATASET_PARTITION_FORMAT = '{deviceId}/{date:yyyy/MM/dd}';

/** What the uploader remembers of an image artifact (from its `edgeml.artifact/v1` message). */
export interface ImageRef {
  readonly blob: string;
  readonly format: string;
  readonly width?: number;
  readonly height?: number;
  readonly sourceWidth?: number;
  readonly sourceHeight?: number;
}

export interface AutomlBox {
  readonly label: string;
  readonly topX: number;
  readonly topY: number;
  readonly bottomX: number;
  readonly bottomY: number;
  readonly score: number;
}

export interface AutomlLine {
  readonly image_url: string;
  readonly image_details: { readonly format: string; readonly width?: number; readonly height?: number };
  readonly label: string | readonly AutomlBox[];
  /** Classification: the label's score. */
  readonly score?: number;
  readonly model: string;
  readonly source_id: string;
}

/** What a result says about its image: a class and its score, or boxes (with the size their coordinates are in). */
export type Prediction =
  | { readonly kind: 'classification'; readonly label: string; readonly score: number }
  | { readonly kind: 'detection'; readonly boxes: readonly { x: number; y: number; width: number; height: number; score: number; label?: string }[]; readonly coordinates: 'source' | 'tensor'; readonly mapSize?: { width: number; height: number } };

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The prediction in a result's outputs, or undefined when it has none an image dataset can hold (tables, OCR, raw tensors). */
export function predictionOf(result: InferenceResultMessage | ChainResultMessage): Prediction | undefined {
  if (!('outputs' in result)) return undefined;
  const o = result.outputs as Record<string, unknown>;
  if (typeof o['label'] === 'string' && isNum(o['score'])) return { kind: 'classification', label: o['label'], score: o['score'] };
  if (!Array.isArray(o['boxes'])) return undefined;
  const boxes = [];
  for (const b of o['boxes'] as unknown[]) {
    const box = b as { bbox?: Record<string, unknown>; score?: unknown; label?: unknown } | null;
    const bb = box?.bbox;
    if (bb === undefined || !isNum(bb['x']) || !isNum(bb['y']) || !isNum(bb['width']) || !isNum(bb['height']) || !isNum(box?.score)) return undefined;
    boxes.push({ x: bb['x'], y: bb['y'], width: bb['width'], height: bb['height'], score: box.score, ...(typeof box.label === 'string' ? { label: box.label } : {}) });
  }
  const map = o['mapSize'] as { width?: unknown; height?: unknown } | undefined;
  const mapSize = map !== undefined && isNum(map.width) && isNum(map.height) ? { width: map.width, height: map.height } : undefined;
  return { kind: 'detection', boxes, coordinates: o['coordinates'] === 'tensor' ? 'tensor' : 'source', ...(mapSize === undefined ? {} : { mapSize }) };
}

/** Classification: the top score; detection: the lowest box score (none when there is no box). */
export function confidenceOf(p: Prediction): number | undefined {
  if (p.kind === 'classification') return p.score;
  return p.boxes.length === 0 ? undefined : Math.min(...p.boxes.map((b) => b.score));
}

const fraction = (v: number, size: number): number => Math.round(Math.min(Math.max(v / size, 0), 1) * 1e6) / 1e6;

/** `format` as AutoML spells it (`jpeg` → `jpg`). */
const automlFormat = (format: string): string => (format === 'jpeg' ? 'jpg' : format);

/**
 * One AutoML line for a result and its image, or undefined when the boxes cannot be made fractions
 * (their coordinate space has no known size).
 */
export function automlLine(result: InferenceResultMessage, prediction: Prediction, image: ImageRef, imageUrl: string): AutomlLine | undefined {
  const model = `${result.model.name}:${result.model.version}`;
  const base = {
    image_url: imageUrl,
    image_details: { format: automlFormat(image.format), ...(image.width === undefined ? {} : { width: image.width }), ...(image.height === undefined ? {} : { height: image.height }) },
    model,
    source_id: result.id,
  };
  if (prediction.kind === 'classification') return { ...base, label: prediction.label, score: prediction.score };
  const size = prediction.coordinates === 'tensor' ? prediction.mapSize : image.sourceWidth !== undefined && image.sourceHeight !== undefined ? { width: image.sourceWidth, height: image.sourceHeight } : undefined;
  if (size === undefined || size.width <= 0 || size.height <= 0) return undefined;
  const label = prediction.boxes.map((b) => ({
    label: b.label ?? 'object',
    topX: fraction(b.x, size.width),
    topY: fraction(b.y, size.height),
    bottomX: fraction(b.x + b.width, size.width),
    bottomY: fraction(b.y + b.height, size.height),
    score: b.score,
  }));
  return { ...base, label };
}

/** The blob of a batch's lines in a dataset folder: partitioned by device and date (UTC) of the batch window. */
export function datasetBlobName(folder: string, deviceId: string, windowStart: Date, batchId: string): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  const d = windowStart;
  return `${folder}/${safeSegment(deviceId)}/${String(d.getUTCFullYear()).padStart(4, '0')}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${compactUtc(d)}-${safeSegment(batchId)}.jsonl`;
}

/** `image_url` of an image blob: the prefix (ends with `/`) and the blob name, each segment URL-encoded. */
export function imageUrl(prefix: string, blob: string): string {
  return prefix + blob.split('/').map(encodeURIComponent).join('/');
}
