import type { ImageGeometry } from '@edgeml/shared';

/** One output tensor of one item (the batch dimension is kept, as 1). */
export interface ItemTensor {
  readonly name: string;
  readonly dtype: string;
  readonly data: ArrayLike<number> | BigInt64Array;
  readonly dims: readonly number[];
}

export interface PostprocessContext {
  /** Labels from the model manifest (index → label). */
  readonly labels: readonly string[];
  /** Geometry recorded by the transformer; maps tensor coordinates to source pixels. */
  readonly geometry: ImageGeometry | undefined;
}

/** What a post-processor gives: the `outputs` object of the result, and the routing fields. */
export interface PostprocessResult {
  readonly outputs: Readonly<Record<string, unknown>>;
  /** Classification only: go to application properties for route WHERE clauses. */
  readonly label?: string;
  readonly score?: number;
}

export interface ClassificationSpec {
  readonly kind: 'classification';
  /** Output to read; the first one when absent. */
  readonly output?: string;
  /** Entries in `top`. Default 5. */
  readonly topK?: number;
  /** Below this top score the label is `unknownLabel`. Default 0. */
  readonly threshold?: number;
  /** Apply softmax: `auto` when the values are not already probabilities. Default auto. */
  readonly softmax?: 'auto' | 'always' | 'never';
  readonly unknownLabel?: string;
}

export interface PaddleClsSpec {
  readonly kind: 'paddle-cls';
  /** PaddleOCR's `cls_thresh`: a line is turned only when `180` scores at least this. Default 0.9. */
  readonly rotateThreshold?: number;
}

export interface RawSpec {
  readonly kind: 'raw';
  /** How many leading values of each output to include (0–1024). Default 0. */
  readonly firstN?: number;
}

export interface PaddleDetSpec {
  readonly kind: 'paddle-det';
  /** Probability above which a pixel is text (`thresh`). Default 0.3. */
  readonly threshold?: number;
  /** Mean probability a region needs to be kept (`box_thresh`). Default 0.6. */
  readonly boxThreshold?: number;
  /** How far a region is grown back (`unclip_ratio`). Default 1.5. */
  readonly unclipRatio?: number;
  /** Regions examined, largest first (`max_candidates`). Default 1000. */
  readonly maxCandidates?: number;
  /** Boxes with a shorter side (tensor pixels) are dropped. Default 3. */
  readonly minSizePx?: number;
  /** Boxes reported at most (keeps the message under edgeHub's 256 KiB). Default 500. */
  readonly maxBoxes?: number;
}

export type PostprocessorSpec = ClassificationSpec | PaddleClsSpec | RawSpec | PaddleDetSpec;
export type PostprocessorKind = PostprocessorSpec['kind'];
export const POSTPROCESSOR_KINDS: readonly PostprocessorKind[] = ['classification', 'paddle-cls', 'raw', 'paddle-det'];
