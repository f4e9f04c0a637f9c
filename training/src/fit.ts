/**
 * Fitting the standardised-distance anomaly model on feature rows (already in the profile's scaled
 * units): a robust centre and spread per column — the median and 1.4826 × the median absolute
 * deviation, so the anomalies in the data do not pull them — and a threshold from the scores of the
 * training rows. Pure.
 */
import { EdgeMLError } from '@edgeml/shared';

export interface FitOptions {
  /** The threshold is at least this (in spreads). Default 3. */
  readonly minThreshold?: number;
  /** Quantile of the training scores the threshold is taken from (× `thresholdFactor`). Default 0.95. */
  readonly thresholdQuantile?: number;
  /** Default 2. */
  readonly thresholdFactor?: number;
}

export interface FittedAnomalyModel {
  readonly center: readonly number[];
  readonly scale: readonly number[];
  readonly threshold: number;
  readonly rows: number;
  /** Scores of the training rows: their quantiles, for the report. */
  readonly scoreQuantiles: { readonly p50: number; readonly p95: number; readonly p99: number; readonly max: number };
}

/** The spread below which a column counts as constant (then 1 is used, so the column only adds its offset). */
const MIN_SCALE = 1e-6;
/** 1 / Φ⁻¹(3/4): turns a median absolute deviation into a standard deviation for normal data. */
const MAD_TO_SIGMA = 1.4826;

/** The q-quantile of sorted values (linear interpolation). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** The model's score of one row (what the ONNX graph computes): sqrt(mean(((x − center) / scale)²)). */
export function scoreRow(row: readonly number[], center: readonly number[], scale: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    const z = (row[i]! - center[i]!) / scale[i]!;
    sum += z * z;
  }
  return Math.sqrt(sum / row.length);
}

/** @throws EdgeMLError INPUT_MALFORMED when there are no rows, or rows of different widths */
export function fitAnomalyModel(rows: readonly (readonly number[])[], options: FitOptions = {}): FittedAnomalyModel {
  const width = rows[0]?.length ?? 0;
  if (rows.length === 0 || width === 0) throw new EdgeMLError('INPUT_MALFORMED', 'no training rows: the data holds no row with the profile\'s columns');
  if (rows.some((r) => r.length !== width)) throw new EdgeMLError('INPUT_MALFORMED', 'training rows have different numbers of columns');
  const center: number[] = [];
  const scale: number[] = [];
  for (let c = 0; c < width; c++) {
    const column = rows.map((r) => r[c]!).sort((a, b) => a - b);
    const median = quantile(column, 0.5);
    const deviations = column.map((v) => Math.abs(v - median)).sort((a, b) => a - b);
    const spread = MAD_TO_SIGMA * quantile(deviations, 0.5);
    center.push(median);
    scale.push(spread > MIN_SCALE ? spread : 1);
  }
  const scores = rows.map((r) => scoreRow(r, center, scale)).sort((a, b) => a - b);
  const q = options.thresholdQuantile ?? 0.95;
  const threshold = Math.max(options.minThreshold ?? 3, (options.thresholdFactor ?? 2) * quantile(scores, q));
  return {
    center,
    scale,
    threshold: Math.round(threshold * 1e4) / 1e4,
    rows: rows.length,
    scoreQuantiles: { p50: quantile(scores, 0.5), p95: quantile(scores, 0.95), p99: quantile(scores, 0.99), max: scores[scores.length - 1]! },
  };
}
