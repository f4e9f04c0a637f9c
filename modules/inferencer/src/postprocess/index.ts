import { EdgeMLError } from '@edgeml/shared';
import { classify, paddleCls } from './classification.js';
import { paddleDet } from './paddle-det.js';
import { rawSummary } from './raw.js';
import type { ItemTensor, PostprocessContext, PostprocessorSpec, PostprocessResult } from './types.js';

/** Runs the post-processor a model's manifest names on one item's outputs. Pure. */
export function postprocess(spec: PostprocessorSpec, outputs: readonly ItemTensor[], ctx: PostprocessContext): PostprocessResult {
  switch (spec.kind) {
    case 'classification':
      return classify(outputs, spec, ctx);
    case 'paddle-cls':
      return paddleCls(outputs, spec, ctx);
    case 'raw':
      return rawSummary(outputs, spec);
    case 'paddle-det':
      return paddleDet(outputs, spec, ctx);
    default:
      throw new EdgeMLError('MODEL_INVALID', `unknown post-processor ${JSON.stringify((spec as { kind?: unknown }).kind)}`);
  }
}
