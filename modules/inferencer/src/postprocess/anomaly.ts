import { EdgeMLError } from '@edgeml/shared';
import type { ItemTensor, PostprocessContext, PostprocessResult, Postprocessor } from './types.js';

/**
 * Anomaly scores per row (a table profile's window): the model gives one score per row, higher is
 * more anomalous; a row scoring above `threshold` is flagged.
 */
export interface AnomalySpec {
  readonly kind: 'anomaly';
  /** Output to read ([1, rows] or [1, rows, 1]); the first one when absent. */
  readonly output?: string;
  /** A row scoring above this is flagged. */
  readonly threshold: number;
  /** Most flagged rows listed (the highest scores); `flaggedCount` counts them all. Default 256. */
  readonly maxFlagged?: number;
}

const round4 = (v: number): number => Math.round(v * 1e4) / 1e4;

/**
 * `scores` (one per row, rounded to 4 decimals), `flagged` (the rows above the threshold, highest
 * first, as table rows: the window's first row plus the row's place in it), `maxScore`, `threshold`.
 * The routing label is `anomaly` when any row is flagged, else `normal`; `score` is the highest score.
 */
export function scoreRows(outputs: readonly ItemTensor[], spec: AnomalySpec, ctx: PostprocessContext): PostprocessResult {
  const t = spec.output === undefined ? outputs[0] : outputs.find((o) => o.name === spec.output);
  if (t === undefined) throw new EdgeMLError('INFERENCE_FAILED', `model has no output ${spec.output ?? '(none)'}`);
  if (t.data instanceof BigInt64Array) throw new EdgeMLError('INFERENCE_FAILED', `output ${t.name} is int64; anomaly scores are floats`);
  const firstRow = ctx.firstRow ?? 0;
  const scores: number[] = [];
  const flagged: { row: number; score: number }[] = [];
  let maxScore = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < t.data.length; i++) {
    const score = Number(t.data[i]);
    if (!Number.isFinite(score)) throw new EdgeMLError('INFERENCE_FAILED', `output ${t.name} holds a non-finite score at row ${firstRow + i}`);
    scores.push(round4(score));
    maxScore = Math.max(maxScore, score);
    if (score > spec.threshold) flagged.push({ row: firstRow + i, score: round4(score) });
  }
  if (scores.length === 0) throw new EdgeMLError('INFERENCE_FAILED', `output ${t.name} is empty`);
  flagged.sort((a, b) => b.score - a.score || a.row - b.row);
  const listed = flagged.slice(0, spec.maxFlagged ?? 256);
  const label = flagged.length > 0 ? 'anomaly' : 'normal';
  return {
    outputs: { label, firstRow, rows: scores.length, scores, flagged: listed, flaggedCount: flagged.length, maxScore: round4(maxScore), threshold: spec.threshold },
    label,
    score: maxScore,
  };
}

export const anomalyPostprocessor: Postprocessor<AnomalySpec> = {
  kind: 'anomaly',
  run: scoreRows,
  problems(spec) {
    const out: string[] = [];
    if (typeof spec['threshold'] !== 'number' || !Number.isFinite(spec['threshold'])) out.push('/threshold: must be a finite number');
    if (spec['maxFlagged'] !== undefined && !(Number.isInteger(spec['maxFlagged']) && (spec['maxFlagged'] as number) >= 0 && (spec['maxFlagged'] as number) <= 65_536)) out.push('/maxFlagged: an integer from 0 to 65536');
    if (spec['output'] !== undefined && typeof spec['output'] !== 'string') out.push('/output: must be a string');
    return out;
  },
};
