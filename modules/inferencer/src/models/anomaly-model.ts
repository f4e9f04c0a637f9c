/**
 * The telemetry anomaly model, written in code as ONNX: a standardised distance. For each row of a
 * feature window x [N, rows, columns], score = sqrt(mean(((x − center) / scale)²)) over the columns,
 * output `scores` [N, rows]. `center` and `scale` are fitted on normal rows (the training component
 * in training/ fits them with the median and the MAD, so the anomalies in the data do not pull them);
 * a score above the manifest's threshold flags the row (post-processor `anomaly`).
 */
import { EdgeMLError } from '@edgeml/shared';
import { floatInitializer, floatValueInfo, intAttribute, intsAttribute, node, onnxModel } from '../session/onnx-proto.js';

export interface StandardizedDistanceParams {
  /** Per column, in the profile's scaled units. */
  readonly center: readonly number[];
  /** Per column, > 0. */
  readonly scale: readonly number[];
}

/** The model's input and output names. */
export const ANOMALY_MODEL_INPUT = 'x';
export const ANOMALY_MODEL_OUTPUT = 'scores';

/** @throws EdgeMLError MODEL_INVALID when the parameters do not fit (lengths, a scale ≤ 0, a non-finite value) */
export function standardizedDistanceModel(p: StandardizedDistanceParams): Buffer {
  const columns = p.center.length;
  if (columns === 0 || p.scale.length !== columns) throw new EdgeMLError('MODEL_INVALID', `center has ${columns} values and scale ${p.scale.length}; one per column is needed`);
  if (!p.center.every(Number.isFinite) || !p.scale.every((s) => Number.isFinite(s) && s > 0)) throw new EdgeMLError('MODEL_INVALID', 'center must be finite and scale finite and positive');
  return onnxModel({
    name: 'standardized_distance',
    nodes: [
      node('Sub', [ANOMALY_MODEL_INPUT, 'center'], ['d'], 'sub'),
      node('Mul', ['d', 'inv_scale'], ['z'], 'scale'),
      node('Mul', ['z', 'z'], ['sq'], 'square'),
      node('ReduceMean', ['sq'], ['ms'], 'mean', [intsAttribute('axes', [2]), intAttribute('keepdims', 0)]),
      node('Sqrt', ['ms'], [ANOMALY_MODEL_OUTPUT], 'root'),
    ],
    initializers: [floatInitializer('center', p.center), floatInitializer('inv_scale', p.scale.map((s) => 1 / s))],
    inputs: [floatValueInfo(ANOMALY_MODEL_INPUT, ['N', 'rows', columns])],
    outputs: [floatValueInfo(ANOMALY_MODEL_OUTPUT, ['N', 'rows'])],
  });
}
