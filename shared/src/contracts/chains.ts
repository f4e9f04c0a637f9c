/**
 * Inference chains: a detector's result feeds further stages, one route each. The bundled example is
 * PaddleOCR's pipeline: text detection → each box cut out, deskewed and turned upright by the
 * transformer → orientation (a 0°/180° classifier) → recognition → one result per source file.
 *
 * ```
 * inferencer ─results (profile det)─► transformer `detections` ─┬─ crops (the plan) ──────────────► aggregator `crops`
 *                                                               └─ tensors (step orient, per crop) ─► inferencer
 * inferencer ─results (chainStep orient)─► transformer `orientations` ─ tensors (step read) ─► inferencer
 * inferencer ─results (chainStep read)──► aggregator `readings` ─► results (edgeml.chain.result/v1) ─► $upstream, uploader
 * ```
 *
 * Acknowledgement: a chain is one part of its source, `chain:<name>`, decided when the source is
 * transformed (the transformer adds it to `expectedParts` beside `result:<detector>`), so the watcher
 * knows it before any part is acknowledged and cannot close the source early, however many boxes the
 * detector finds. The per-file result is what is uploaded and acknowledged for that part; every
 * intermediate message (plan, crop tensors, crop results) carries that part, so a failure anywhere in
 * the chain dead-letters or defers exactly that part, and nothing waits for a timeout. A re-emission
 * that lacks the chain part runs the detector again; every name and message id below is a function
 * of the source id, the chain, the run (the detection result's message id) and the crop index, so a
 * second run rewrites the same files and sends the same message ids.
 */
import type { PreprocessingInfo, SCHEMAS, SourceRef, TensorMessage } from './messages.js';

/** The steps a crop goes through after detection. */
export const CHAIN_STEPS = ['orient', 'read'] as const;
export type ChainStep = (typeof CHAIN_STEPS)[number];

/** Chain names are twin keys and end up in part names (`chain:ocr`). */
export const CHAIN_NAME_PATTERN = '^[a-z][a-z0-9_-]{0,31}$';

/** Most crops one detection becomes (the plan must stay far below edgeHub's 256 KiB). */
export const MAX_CHAIN_CROPS = 256;

/** The part a chain adds to its source: `chain:<name>`. */
export function chainPart(name: string): string {
  return `chain:${name}`;
}

/** The chain a part names (`chain:ocr` → `ocr`), or undefined for any other part. */
export function chainOfPart(part: string): string | undefined {
  return part.startsWith('chain:') && part.length > 6 ? part.slice(6) : undefined;
}

/** The profile a `result:<profile>` part names, or undefined. */
export function profileOfPart(part: string): string | undefined {
  return part.startsWith('result:') && part.length > 7 ? part.slice(7) : undefined;
}

export type Point = readonly [number, number];

/** A detected region in source pixels (after EXIF orientation). */
export interface ChainBox {
  /** Four corners, clockwise from the top-left one. */
  readonly points: readonly Point[];
  /** Axis-aligned bounds of `points`. */
  readonly bbox: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
}

/** What the tensor of a later step needs to be sent: written at crop time, sent when its turn comes. */
export interface PendingTensor {
  readonly tensor: TensorMessage['tensor'];
  readonly preprocessing: PreprocessingInfo;
  /** Width in tensor pixels of the crop inside the tensor (the rest is right padding), for turning it. */
  readonly contentWidth: number;
}

/** An orientation decision, as the `read` step carries it to the aggregator. */
export interface OrientationDecision {
  readonly label: string;
  readonly score: number;
  /** Whether the crop was turned 180° before it was read. */
  readonly rotated: boolean;
  /** The classifier that decided (on a crop's link; the chain result names it once, under `models`). */
  readonly model?: ModelRef;
}

/**
 * Carried by a chain's crop tensors (`edgeml.tensor/v1` field `chain`) and copied unchanged by the
 * inferencer onto their results (`edgeml.inference.result/v1` field `chain`, with application
 * properties `chain`, `chainStep`, `chainIndex` for route WHERE clauses).
 */
export interface ChainLink {
  /** The chain's name (transformer twin `chains.<name>`). */
  readonly name: string;
  /**
   * The run: a function of the detection result's message id (source id, detector model and
   * version) and the chain settings that shaped the crops, so readings of two differently cut runs
   * never mix.
   */
  readonly run: string;
  readonly step: ChainStep;
  /** The crop, in reading order, and how many the run has. */
  readonly index: number;
  readonly count: number;
  /** On an `orient` tensor: the crop's reader tensor, sent (turned when needed) once the orientation is known. */
  readonly next?: PendingTensor;
  /** On a `read` tensor and its result: what the orientation step decided. */
  readonly orientation?: OrientationDecision;
}

export interface ModelRef {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
}

/** One crop of a plan. */
export interface PlannedCrop extends ChainBox {
  readonly index: number;
  /** The line of text (row of boxes, top to bottom) the crop is on; crops are numbered row by row, left to right. */
  readonly row: number;
  /** The detector's score for the region. */
  readonly score: number;
  /** Size of the deskewed crop in source pixels (before it was resized for a model). */
  readonly width: number;
  readonly height: number;
  /** Turned 90° counter-clockwise because the region was much taller than wide (vertical text), as PaddleOCR does. */
  readonly rotated90: boolean;
}

/** transformer → aggregator (`crops`): how one detection became crops (`edgeml.crops/v1`). */
export interface CropsMessage {
  readonly schema: typeof SCHEMAS.crops;
  readonly id: string;
  readonly messageId: string;
  readonly source: SourceRef;
  /** `chain:<name>`. */
  readonly part: string;
  readonly expectedParts: readonly string[];
  readonly chain: {
    readonly name: string;
    readonly run: string;
    /** Profile of the orientation step, or null when the chain has none. */
    readonly orientation: string | null;
    /** Profile of the step that reads each crop (a recogniser or a classifier). */
    readonly reader: string;
  };
  readonly detection: { readonly part: string; readonly messageId: string; readonly model: ModelRef };
  /** In reading order (top to bottom, then left to right); `crops[i].index === i`. */
  readonly crops: readonly PlannedCrop[];
  /** Boxes the detector found that were not cropped (below `minBoxScore`, too small, beyond `maxCrops`). */
  readonly droppedBoxes: number;
  /** Set when the chain did not run for this source (it is no longer configured, say): why. */
  readonly skipped?: string;
  readonly createdAt: string;
}

/** One item of a chain result: a crop and what the chain's last step made of it. */
export interface ChainItem extends ChainBox {
  readonly index: number;
  readonly row: number;
  /** A recogniser's reading (CTC): the text and its confidence (mean of the kept characters' probabilities). */
  readonly text?: string;
  readonly confidence?: number;
  /** A classifier's reading. */
  readonly label?: string;
  readonly score?: number;
  /** The reading's confidence (or score) reaches the aggregator's `minConfidence`. */
  readonly accepted: boolean;
  readonly detectionScore: number;
  readonly orientation?: OrientationDecision;
}

/** aggregator → $upstream and uploader (`results`): everything one chain found in one source file (`edgeml.chain.result/v1`). */
export interface ChainResultMessage {
  readonly schema: typeof SCHEMAS.chainResult;
  readonly id: string;
  /** Function of the source id, the chain, the run and the models that oriented and read it: a duplicate carries the same id. */
  readonly messageId: string;
  readonly source: SourceRef;
  readonly part: string;
  readonly expectedParts: readonly string[];
  readonly chain: string;
  readonly run: string;
  readonly models: { readonly detector: ModelRef; readonly orientation?: ModelRef; readonly reader?: ModelRef };
  /** In reading order (the page's, when it was upside down). */
  readonly items: readonly ChainItem[];
  /** The accepted items' text: items of one row joined by a space, rows by a line break (empty when the reader is a classifier or nothing was read). */
  readonly text: string;
  /** Most crops were turned 180° before they were read: the source is upside down, and `items` and `text` follow its reading order. */
  readonly upsideDown: boolean;
  readonly minConfidence: number;
  readonly droppedBoxes: number;
  readonly skipped?: string;
  readonly createdAt: string;
}
