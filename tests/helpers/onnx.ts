/**
 * Tiny ONNX models built in code (opset 13, float32), for registry and rollout tests: `y = op(x)`
 * for a unary operator, and a mean-colour classifier for the `cls` profile's [N,3,48,192] tensors
 * (ReduceMean over H and W → [N,3] scores). The protobuf writer is the inferencer's own.
 */
import { floatValueInfo, intAttribute, intsAttribute, onnxModel, onnxNode } from '@edgeml/inferencer';

function model(nodes: readonly Buffer[], input: readonly (number | string)[], output: readonly (number | string)[]): Buffer {
  return onnxModel({ nodes, inputs: [floatValueInfo('x', input)], outputs: [floatValueInfo('y', output)], name: 'g' });
}

/** `y = op(x)` (Identity, Neg, Abs, …), same shape in and out. */
export function unaryModel(op: string, shape: readonly (number | string)[]): Buffer {
  return model([onnxNode(op, ['x'], ['y'], 'n')], shape, shape);
}

/**
 * `y = ReduceMean(x, axes=[2,3], keepdims=0)`: input [N,3,H,W], output [N,3] — the mean of each
 * channel. With `negate`, `y = -mean` (the labels' order flips: a model that disagrees).
 */
export function meanColourModel(height = 48, width = 192, options: { negate?: boolean } = {}): Buffer {
  const out = options.negate === true ? 'm' : 'y';
  const nodes = [onnxNode('ReduceMean', ['x'], [out], 'mean', [intsAttribute('axes', [2, 3]), intAttribute('keepdims', 0)])];
  if (options.negate === true) nodes.push(onnxNode('Neg', ['m'], ['y'], 'neg'));
  return model(nodes, ['N', 3, height, width], ['N', 3]);
}
