import type { ChainLink, ChainResultMessage, CropsMessage } from './chains.js';

/**
 * Message contracts between modules (versioned by the `schema` field). The JSON Schemas in
 * schemas.ts describe the same shapes for route consumers; a test keeps them in step.
 *
 * Identity: `id` is always the SHA-256 (hex) of the source file's content. Every derived name is a
 * function of `id` and the configuration that produced it, so redoing work rewrites the same bytes.
 */
export const SCHEMAS = {
  file: 'edgeml.file/v1',
  tensor: 'edgeml.tensor/v1',
  artifact: 'edgeml.artifact/v1',
  result: 'edgeml.inference.result/v1',
  completion: 'edgeml.completion/v1',
  alert: 'edgeml.alert/v1',
  hardExample: 'edgeml.hard-example/v1',
  rollout: 'edgeml.rollout/v1',
  /** A detection cut into crops for an inference chain (chains.ts). */
  crops: 'edgeml.crops/v1',
  /** One inference chain's result for one source file (chains.ts). */
  chainResult: 'edgeml.chain.result/v1',
} as const;
export type SchemaId = (typeof SCHEMAS)[keyof typeof SCHEMAS];

/** What the watcher knows of the file from its name. */
export type FileKind = 'image' | 'table' | 'other';

/** Reference to the original file on the share. */
export interface SourceRef {
  /** POSIX path relative to the share root (`/data/share`), e.g. `inbox/cam1/a.jpg`. */
  readonly path: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  /**
   * When the watcher first saw this content (ISO 8601), recorded once in its ledger and unchanged
   * by re-emissions, so date-based blob names stay deterministic.
   */
  readonly detectedAt: string;
}

/**
 * Parts a source yields; the watcher closes a source once every expected part is acknowledged.
 * `artifact` (the uploaded ML-ready data), `result:<profile>` (an inference result uploaded),
 * `transform` (used when the transformer dead-letters the whole source).
 */
export type PartName = string;

/** watcher → transformer (`files`). */
export interface FileMessage {
  readonly schema: typeof SCHEMAS.file;
  readonly id: string;
  readonly messageId: string;
  /** 1 for the first emission; re-emissions after a completion timeout count up. */
  readonly attempt: number;
  /**
   * On a re-emission: parts already acknowledged as uploaded. Producers skip them (they are in the
   * sink already), so offering a source again re-does only what is missing. Absent when none.
   */
  readonly doneParts?: readonly string[];
  readonly source: SourceRef & {
    readonly name: string;
    /** Lower-case, with the dot (`.jpg`), or '' when the name has none. */
    readonly extension: string;
    readonly kind: FileKind;
    readonly mtimeMs: number;
  };
  readonly detectedAt: string;
  readonly stableAt: string;
  readonly createdAt: string;
}

export type TensorDType = 'float32' | 'uint8';
export type TensorLayout = 'NCHW' | 'NHWC' | 'NC';

/** How an image was turned into a tensor; `signature` is {@link preprocessingSignature} of `spec`. */
export interface PreprocessingInfo {
  /** Name of the transformer profile (e.g. `cls`, `det`). */
  readonly profile: string;
  readonly signature: string;
  /** An image profile's spec, or a table profile's ({@link TablePreprocessingSpec}, `kind: 'table'`). */
  readonly spec: PreprocessingSpec | TablePreprocessingSpec;
  /** Geometry needed to map tensor coordinates back to source pixels. */
  readonly geometry?: ImageGeometry;
  /** A table window: the table's data rows it holds (0-based `first`, `count` rows). */
  readonly rows?: { readonly first: number; readonly count: number };
}

export interface PreprocessingSpec {
  readonly width: number;
  readonly height: number;
  /** fill: stretch; contain: letterbox; cover: crop; padRight: keep ratio, scale to height, pad right (PaddleOCR cls). */
  readonly resize: 'fill' | 'contain' | 'cover' | 'padRight';
  readonly colorOrder: 'RGB' | 'BGR';
  readonly layout: 'NCHW' | 'NHWC';
  readonly dtype: TensorDType;
  /** value = (pixel × scale − mean[c]) / std[c]. */
  readonly scale: number;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  /** Letterbox / pad colour, 0–255 per channel. */
  readonly background: readonly [number, number, number];
  /**
   * `padRight` only: the tensor is as wide as the resized image rounded up to a multiple of this
   * (at most `width`), so a short text line is not padded to the widest line's width. Absent: always
   * `width` wide. (PaddleOCR's recogniser takes any width.)
   */
  readonly widthStep?: number;
}

/**
 * How a table's rows became a feature matrix (a table profile): the numeric `columns` in order, each
 * value scaled as (value − mean[i]) / std[i]; a missing or unreadable value is `missing`: `mean` puts
 * the column's mean in (0 after scaling), `zero` puts 0 before scaling. Booleans read as 1 / 0. The rows
 * of a table are cut into windows of at most `windowRows` rows, one tensor `[1, rows, columns]` each.
 */
export interface TablePreprocessingSpec {
  readonly kind: 'table';
  readonly columns: readonly string[];
  readonly mean: readonly number[];
  readonly std: readonly number[];
  readonly missing: 'mean' | 'zero';
  readonly windowRows: number;
  readonly dtype: 'float32';
}

export interface ImageGeometry {
  /** Size after EXIF orientation, before resize. */
  readonly sourceWidth: number;
  readonly sourceHeight: number;
  /** tensor_x = source_x × scaleX + padLeft (and likewise y). */
  readonly scaleX: number;
  readonly scaleY: number;
  readonly padLeft: number;
  readonly padTop: number;
  /** Source region actually used (cover crops); whole image otherwise. */
  readonly cropLeft: number;
  readonly cropTop: number;
  /** EXIF orientation found in the file (1 when none). */
  readonly exifOrientation: number;
}

/** transformer → inferencer (`tensors`). The tensor lives in a `.npy` file in staging. */
export interface TensorMessage {
  readonly schema: typeof SCHEMAS.tensor;
  readonly id: string;
  readonly messageId: string;
  readonly source: SourceRef;
  readonly part: PartName;
  readonly expectedParts: readonly PartName[];
  readonly tensor: {
    /** Path relative to the data root, e.g. `staging/<id>/<profile>-<sig>.npy`. */
    readonly path: string;
    readonly sha256: string;
    readonly dtype: TensorDType;
    readonly shape: readonly number[];
    readonly layout: TensorLayout;
  };
  readonly preprocessing: PreprocessingInfo;
  /** A crop of an inference chain (chains.ts): which chain, run, step and crop; absent for whole-source tensors. */
  readonly chain?: ChainLink;
  readonly createdAt: string;
}

export type ArtifactKind = 'image' | 'table' | 'raw';

/** transformer → uploader (`artifacts`). */
export interface ArtifactMessage {
  readonly schema: typeof SCHEMAS.artifact;
  readonly id: string;
  readonly messageId: string;
  readonly source: SourceRef;
  readonly part: PartName;
  readonly expectedParts: readonly PartName[];
  readonly artifact: {
    /** Path relative to the data root (staging), or to the share for `raw` forwards. */
    readonly path: string;
    readonly sha256: string;
    readonly sizeBytes: number;
    readonly kind: ArtifactKind;
    /** File extension of the artifact without the dot: png, jpeg, arrow, or the source's for raw. */
    readonly format: string;
    readonly contentType: string;
    /** Describes the artifact (image size, table schema and row counts, …). Kept small (< 16 KiB). */
    readonly metadata: Readonly<Record<string, unknown>>;
  };
  readonly createdAt: string;
}

/** inferencer → $upstream and uploader (`results`). */
export interface InferenceResultMessage {
  readonly schema: typeof SCHEMAS.result;
  readonly id: string;
  /** Function of the content id, profile and the model version: duplicates carry the same id. */
  readonly messageId: string;
  readonly source: SourceRef;
  readonly part: PartName;
  readonly expectedParts: readonly PartName[];
  /** `digest`: the OCI artifact's manifest digest when the model came from a registry, else `sha256:<sha256>`. */
  readonly model: { readonly name: string; readonly version: string; readonly sha256: string; readonly digest?: string };
  readonly runtime: { readonly provider: string; readonly batchSize: number; readonly queueMs: number; readonly inferMs: number };
  readonly outputs: Readonly<Record<string, unknown>>;
  /**
   * Present when a candidate model (a shadow or canary rollout) scored the same input beside the
   * model that produced this result: what the candidate said and whether it agrees. Consumers treat
   * `agrees: false` as a hard example (the uploader puts it in the `to-label` dataset).
   */
  readonly comparison?: ResultComparison;
  /** The tensor's chain link, copied unchanged (chains.ts); absent for whole-source results. */
  readonly chain?: ChainLink;
  readonly createdAt: string;
}

/** A candidate model's answer on the same input, beside the result's own (see {@link InferenceResultMessage.comparison}). */
export interface ResultComparison {
  /** `shadow`: the candidate ran beside the live model and its answer was not used; `canary`: it served this item or another one of its canary share. */
  readonly mode: 'shadow' | 'canary';
  /** The other model (for a shadow: the candidate; for a canary result: the live model it is compared with). */
  readonly model: InferenceResultMessage['model'];
  /** The inferencer's verdict: classification, the same top label; other post-processors, as their rollout defines it. */
  readonly agrees: boolean;
  /** The other model's top label and score, when its post-processor gives them. */
  readonly label?: string;
  readonly score?: number;
}

/** Why a result is a hard example: the live model was unsure, or a candidate model disagreed with it. */
export type HardExampleReason = 'lowConfidence' | 'disagreement';

/**
 * uploader → $upstream (`hardExamples`): a result the uploader flagged as a hard example and put in
 * its `to-label` dataset, sent once the JSON-lines blob holding its line is committed (the image it
 * names was committed before). One per result; over the hourly quota none is sent (the quota is
 * what keeps a broken camera from flooding the uplink).
 */
export interface HardExampleMessage {
  readonly schema: typeof SCHEMAS.hardExample;
  readonly id: string;
  /** Function of the result's message id: a repeat is recognisable. */
  readonly messageId: string;
  readonly source: SourceRef;
  /** The result's part (`result:<profile>`) and its profile. */
  readonly part: PartName;
  readonly profile: string;
  readonly reasons: readonly HardExampleReason[];
  /** The model that produced the result. */
  readonly model: InferenceResultMessage['model'];
  /** Classification: the top label and its score. Detection: the lowest box score, no label. */
  readonly label?: string;
  readonly score?: number;
  readonly comparison?: ResultComparison;
  /** The image: its blob name and the `image_url` the dataset line gives it. */
  readonly image: { readonly blob: string; readonly url: string };
  /** The dataset line: the dataset folder and the JSON-lines blob holding it. */
  readonly dataset: { readonly folder: string; readonly blob: string };
  readonly createdAt: string;
}

/**
 * `uploaded` and `deadLettered` are final for the part. The other two are not:
 * - `deferred`: the module cannot take the part now (a full upload quota, a full work queue) and asks
 *   the watcher to offer the source again after `retryAfterMs`; nothing is dropped and the source
 *   stays where it is.
 * - `held`: the module has durably accepted the part (e.g. queued on disk for upload while the
 *   uplink is down) and holds it under a lease of `leaseMs`. The holder renews the lease by sending
 *   `held` again before it runs out, for as long as it holds the part. While a lease is live the
 *   watcher neither re-emits the source nor spends its attempts on that part; a holder that crashes
 *   stops renewing, the lease runs out, and the watcher re-emits the parts nobody holds.
 */
export type CompletionOutcome = 'uploaded' | 'deadLettered' | 'deferred' | 'held';

/** uploader / transformer / inferencer → watcher (`completed`). */
export interface CompletionMessage {
  readonly schema: typeof SCHEMAS.completion;
  readonly id: string;
  readonly messageId: string;
  readonly part: PartName;
  readonly expectedParts: readonly PartName[];
  readonly outcome: CompletionOutcome;
  /** Module that decided the outcome. */
  readonly module: string;
  /** Error code and human reason when dead-lettered or deferred. */
  readonly code?: string;
  readonly reason?: string;
  /** When deferred: how long the watcher should wait before offering the source again. */
  readonly retryAfterMs?: number;
  /** When held: how long the lease lasts from `createdAt` unless renewed by another `held`. */
  readonly leaseMs?: number;
  /** Where the part was stored, when uploaded. */
  readonly blob?: { readonly sink: 'blob' | 'directory'; readonly name: string; readonly md5: string };
  readonly createdAt: string;
}

export type AlertSeverity = 'info' | 'warning' | 'error' | 'critical';

/** any module → $upstream (`alerts`). */
export interface AlertMessage {
  readonly schema: typeof SCHEMAS.alert;
  readonly messageId: string;
  readonly module: string;
  readonly severity: AlertSeverity;
  readonly code: string;
  readonly message: string;
  /** Source content id the alert is about, when there is one. */
  readonly id?: string;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly createdAt: string;
}

/** A model named in a rollout event. */
export interface RolloutModelRef {
  readonly name: string;
  readonly version: string;
  /** The OCI artifact's manifest digest, else `sha256:<model.onnx>`. */
  readonly digest: string;
  readonly artifact?: string | null;
}

/** inferencer → $upstream (`rollout`): a step of a staged rollout, with the comparison figures. */
export interface RolloutMessage {
  readonly schema: typeof SCHEMAS.rollout;
  readonly messageId: string;
  readonly module: string;
  readonly profile: string;
  readonly event: 'started' | 'progress' | 'promoted' | 'rolledBack' | 'refused';
  readonly mode: 'shadow' | 'canary';
  readonly candidate: RolloutModelRef | Readonly<Record<string, unknown>>;
  readonly live: RolloutModelRef | null;
  readonly thresholds?: Readonly<Record<string, number>>;
  readonly figures?: Readonly<Record<string, number | null>>;
  readonly reason?: string | null;
  readonly createdAt: string;
}

/** Azure Stack Edge share notification (input `shareEvents`); external contract, PascalCase. */
export interface ShareFileEvent {
  readonly ChangeType: string;
  readonly ShareRelativeFilePath: string;
  readonly ShareName: string;
}

export type AnyMessage =
  | FileMessage
  | TensorMessage
  | ArtifactMessage
  | InferenceResultMessage
  | CompletionMessage
  | AlertMessage
  | HardExampleMessage
  | RolloutMessage
  | CropsMessage
  | ChainResultMessage;
