/**
 * What every post-processor shares: one item's output tensors in, the result's `outputs` object
 * (plus routing fields) out. Each post-processor lives in its own file with its spec type and is
 * registered in index.ts; the union below names every spec a manifest may hold.
 */
import type { ImageGeometry } from '@edgeml/shared';
import type { AnomalySpec } from './anomaly.js';
import type { ClassificationSpec } from './classification.js';
import type { CtcSpec } from './ctc.js';
import type { PaddleClsSpec } from './paddle-cls.js';
import type { PaddleDetSpec } from './paddle-det.js';
import type { RawSpec } from './raw.js';

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
  /** A table window: the table row of the tensor's first row (0 when absent). */
  readonly firstRow?: number | undefined;
}

/** What a post-processor gives: the `outputs` object of the result, and the routing fields. */
export interface PostprocessResult {
  readonly outputs: Readonly<Record<string, unknown>>;
  /** Classification only: go to application properties for route WHERE clauses. */
  readonly label?: string;
  readonly score?: number;
}

/**
 * A post-processor: pure, run once per item in the session worker (so it may be CPU-heavy without
 * blocking the module). `problems` checks a manifest's spec when the manifest is read.
 */
export interface Postprocessor<S extends { readonly kind: string }> {
  readonly kind: S['kind'];
  run(outputs: readonly ItemTensor[], spec: S, ctx: PostprocessContext): PostprocessResult;
  /** Problems with the spec's own fields (JSON paths relative to the spec), empty when fine. */
  problems?(spec: Readonly<Record<string, unknown>>): string[];
}

export type PostprocessorSpec = ClassificationSpec | PaddleClsSpec | RawSpec | PaddleDetSpec | CtcSpec | AnomalySpec;
export type PostprocessorKind = PostprocessorSpec['kind'];
export type { AnomalySpec, ClassificationSpec, CtcSpec, PaddleClsSpec, PaddleDetSpec, RawSpec };
