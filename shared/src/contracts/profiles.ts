import type { PreprocessingSpec, TablePreprocessingSpec } from './messages.js';

/**
 * The preprocessing the bundled PaddleOCR models expect (docs/ENGINEERING.md "Preprocessing
 * profiles"). The transformer's default profiles and the inferencer's bundled model manifests both
 * come from here, so their signatures cannot drift apart.
 */

/** Text-orientation classifier `ch_ppocr_mobile_v2.0_cls` ([N,3,48,192]); the pad is 0 after normalisation. */
export const PADDLE_CLS_SPEC = Object.freeze({
  width: 192,
  height: 48,
  resize: 'padRight',
  colorOrder: 'BGR',
  layout: 'NCHW',
  dtype: 'float32',
  scale: 1 / 255,
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
  background: [127.5, 127.5, 127.5],
} as const satisfies PreprocessingSpec);

/** DB text detector `ch_PP-OCRv4_det` at a fixed 640×640 letterbox (so tensors batch). */
export const PADDLE_DET_SPEC = Object.freeze({
  width: 640,
  height: 640,
  resize: 'contain',
  colorOrder: 'BGR',
  layout: 'NCHW',
  dtype: 'float32',
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  background: [0, 0, 0],
} as const satisfies PreprocessingSpec);

/**
 * Text recogniser `ch_PP-OCRv4_rec` ([N,3,48,W], any W) on a text-line crop: scaled to height 48
 * keeping the ratio, padded on the right with 0 after normalisation, as PaddleOCR's
 * `resize_norm_img` does. PaddleOCR pads a batch to its widest line (at least 320); here each
 * tensor is padded to the next multiple of 320 (`widthStep`), so lines of similar length batch
 * together, and a line is squeezed only beyond a ratio of 1600 / 48 ≈ 33.
 */
export const PADDLE_REC_SPEC = Object.freeze({
  width: 1600,
  height: 48,
  resize: 'padRight',
  widthStep: 320,
  colorOrder: 'BGR',
  layout: 'NCHW',
  dtype: 'float32',
  scale: 1 / 255,
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
  background: [127.5, 127.5, 127.5],
} as const satisfies PreprocessingSpec);

/**
 * The telemetry feature matrix (table profile `anomaly`): the sample telemetry's two numeric columns,
 * scaled by their typical level and spread (temperature 20 ± 3.5 °C, humidity 45 ± 7 %), a missing
 * value filled with the column's mean, 64 rows per window. The bundled anomaly model and the training
 * component read tensors of this profile; a table without both columns gets no tensor of it.
 */
export const TELEMETRY_ANOMALY_SPEC = Object.freeze({
  kind: 'table',
  columns: ['temperature_c', 'humidity_pct'],
  mean: [20, 45],
  std: [3.5, 7],
  missing: 'mean',
  windowRows: 64,
  dtype: 'float32',
} as const satisfies TablePreprocessingSpec);
