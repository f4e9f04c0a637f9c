import { EdgeMLError } from '@edgeml/shared';
import type { ItemTensor, PostprocessContext, PostprocessResult, Postprocessor } from './types.js';

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

/** Numerically stable softmax. */
export function softmax(values: ArrayLike<number>): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i] ?? 0);
  const out = new Float64Array(values.length);
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const e = Math.exp((values[i] ?? 0) - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] = (out[i] ?? 0) / sum;
  return out;
}

/** True when the values already look like probabilities (all in [0,1], summing to 1 within 1e-3). */
export function looksLikeProbabilities(values: ArrayLike<number>): boolean {
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? Number.NaN;
    if (!(v >= 0 && v <= 1)) return false;
    sum += v;
  }
  return Math.abs(sum - 1) <= 1e-3;
}

function pickOutput(outputs: readonly ItemTensor[], name: string | undefined): ItemTensor {
  const t = name === undefined ? outputs[0] : outputs.find((o) => o.name === name);
  if (t === undefined) throw new EdgeMLError('INFERENCE_FAILED', `model has no output ${name ?? '(none)'}`);
  if (t.data instanceof BigInt64Array) throw new EdgeMLError('INFERENCE_FAILED', `output ${t.name} is int64; classification needs float scores`);
  return t;
}

/**
 * Classification: softmax when the output is logits, top-k with labels, threshold.
 * Labels beyond the manifest's list are named by their index.
 */
export function classify(outputs: readonly ItemTensor[], spec: ClassificationSpec, ctx: PostprocessContext): PostprocessResult {
  const t = pickOutput(outputs, spec.output);
  const raw = t.data as ArrayLike<number>;
  const mode = spec.softmax ?? 'auto';
  const probs = mode === 'always' || (mode === 'auto' && !looksLikeProbabilities(raw)) ? softmax(raw) : Float64Array.from(raw);
  const order = Array.from(probs.keys()).sort((a, b) => (probs[b] ?? 0) - (probs[a] ?? 0) || a - b);
  const labelOf = (i: number): string => ctx.labels[i] ?? String(i);
  const topK = Math.max(1, Math.min(spec.topK ?? 5, order.length));
  const top = order.slice(0, topK).map((i) => ({ label: labelOf(i), score: probs[i] ?? 0 }));
  const best = top[0];
  if (best === undefined) throw new EdgeMLError('INFERENCE_FAILED', `output ${t.name} is empty`);
  const label = best.score >= (spec.threshold ?? 0) ? best.label : (spec.unknownLabel ?? 'unknown');
  return { outputs: { label, score: best.score, top }, label, score: best.score };
}

export const classificationPostprocessor: Postprocessor<ClassificationSpec> = {
  kind: 'classification',
  run: classify,
  problems(spec) {
    const out: string[] = [];
    if (spec['topK'] !== undefined && !(Number.isInteger(spec['topK']) && (spec['topK'] as number) >= 1)) out.push('/topK: must be a positive integer');
    if (spec['softmax'] !== undefined && !['auto', 'always', 'never'].includes(spec['softmax'] as string)) out.push('/softmax: must be auto, always or never');
    if (spec['threshold'] !== undefined && typeof spec['threshold'] !== 'number') out.push('/threshold: must be a number');
    return out;
  },
};
