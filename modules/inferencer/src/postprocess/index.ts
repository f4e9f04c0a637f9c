/**
 * The post-processor registry: a manifest's `postprocessor.kind` names one of these. To add one,
 * write `postprocess/<kind>.ts` (its spec type and a {@link Postprocessor}), add the spec to the
 * union in types.ts and one line below.
 */
import { EdgeMLError } from '@edgeml/shared';
import { anomalyPostprocessor } from './anomaly.js';
import { classificationPostprocessor } from './classification.js';
import { ctcPostprocessor } from './ctc.js';
import { paddleClsPostprocessor } from './paddle-cls.js';
import { paddleDetPostprocessor } from './paddle-det.js';
import { rawPostprocessor } from './raw.js';
import type { ItemTensor, PostprocessContext, PostprocessorKind, PostprocessorSpec, PostprocessResult, Postprocessor } from './types.js';

type Registry = { readonly [K in PostprocessorKind]: Postprocessor<Extract<PostprocessorSpec, { kind: K }>> };

const POSTPROCESSORS: Registry = {
  classification: classificationPostprocessor,
  'paddle-cls': paddleClsPostprocessor,
  raw: rawPostprocessor,
  'paddle-det': paddleDetPostprocessor,
  ctc: ctcPostprocessor,
  anomaly: anomalyPostprocessor,
};

/** Every kind a manifest may name. */
export const POSTPROCESSOR_KINDS: readonly PostprocessorKind[] = Object.freeze(Object.keys(POSTPROCESSORS) as PostprocessorKind[]);

/** Problems with a manifest's `postprocessor` (its kind, then the kind's own checks). */
export function postprocessorProblems(spec: unknown): string[] {
  const s = spec as { kind?: unknown } | null;
  if (typeof s !== 'object' || s === null || typeof s.kind !== 'string' || !(POSTPROCESSOR_KINDS as readonly string[]).includes(s.kind)) {
    return [`/postprocessor/kind: must be one of ${POSTPROCESSOR_KINDS.join(', ')}`];
  }
  const p = POSTPROCESSORS[s.kind as PostprocessorKind] as Postprocessor<{ kind: string }>;
  return (p.problems?.(s as Record<string, unknown>) ?? []).map((problem) => `/postprocessor${problem}`);
}

/** Runs the post-processor a model's manifest names on one item's outputs. Pure. */
export function postprocess(spec: PostprocessorSpec, outputs: readonly ItemTensor[], ctx: PostprocessContext): PostprocessResult {
  const p = (POSTPROCESSORS as Readonly<Record<string, Postprocessor<PostprocessorSpec> | undefined>>)[spec.kind];
  if (p === undefined) throw new EdgeMLError('MODEL_INVALID', `unknown post-processor ${JSON.stringify((spec as { kind?: unknown }).kind)}`);
  return p.run(outputs, spec, ctx);
}
