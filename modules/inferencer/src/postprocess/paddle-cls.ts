import { classify } from './classification.js';
import type { ItemTensor, PostprocessContext, PostprocessResult, Postprocessor } from './types.js';

export interface PaddleClsSpec {
  readonly kind: 'paddle-cls';
  /** PaddleOCR's `cls_thresh`: a line is turned only when `180` scores at least this. Default 0.9. */
  readonly rotateThreshold?: number;
}

/** PaddleOCR's text-orientation classifier: labels `0` and `180`, softmax already in the graph. */
export function paddleCls(outputs: readonly ItemTensor[], spec: PaddleClsSpec, ctx: PostprocessContext): PostprocessResult {
  const labels = ctx.labels.length >= 2 ? ctx.labels : ['0', '180'];
  const r = classify(outputs, { kind: 'classification', topK: 2, softmax: 'auto' }, { ...ctx, labels });
  const rotate180 = r.label === '180' && (r.score ?? 0) >= (spec.rotateThreshold ?? 0.9);
  return { ...r, outputs: { ...r.outputs, rotate180 } };
}

export const paddleClsPostprocessor: Postprocessor<PaddleClsSpec> = { kind: 'paddle-cls', run: paddleCls };
