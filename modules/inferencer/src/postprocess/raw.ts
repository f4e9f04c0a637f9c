import type { ItemTensor, PostprocessResult, Postprocessor } from './types.js';

export interface RawSpec {
  readonly kind: 'raw';
  /** How many leading values of each output to include (0–1024). Default 0. */
  readonly firstN?: number;
}

/** Summary of every output: shape, dtype, min/max/mean/std and optionally the first N values. */
export function rawSummary(outputs: readonly ItemTensor[], spec: RawSpec): PostprocessResult {
  const firstN = Math.max(0, Math.min(spec.firstN ?? 0, 1024));
  const summaries = outputs.map((t) => {
    const n = t.data.length;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < n; i++) {
      const v = Number(t.data[i] ?? 0);
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
      sumSq += v * v;
    }
    const mean = n > 0 ? sum / n : 0;
    const std = n > 0 ? Math.sqrt(Math.max(0, sumSq / n - mean * mean)) : 0;
    const first: number[] = [];
    for (let i = 0; i < Math.min(firstN, n); i++) first.push(Number(t.data[i] ?? 0));
    return {
      name: t.name,
      dtype: t.dtype,
      shape: [...t.dims],
      count: n,
      ...(n > 0 ? { min, max, mean, std } : {}),
      ...(firstN > 0 ? { first } : {}),
    };
  });
  return { outputs: { tensors: summaries } };
}

export const rawPostprocessor: Postprocessor<RawSpec> = { kind: 'raw', run: (outputs, spec) => rawSummary(outputs, spec) };
