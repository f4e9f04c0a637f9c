/**
 * Tiny ONNX models written as protobuf bytes in code (opset 13, float32), for registry and rollout
 * tests: `y = op(x)` for a unary operator, and a mean-colour classifier for the `cls` profile's
 * [N,3,48,192] tensors (ReduceMean over H and W → [N,3] scores). The protobuf writer is the
 * inferencer's own (the one its CUDA probe model is built with).
 */
import { onnxModel, protoField as field } from '@edgeml/inferencer';

/** `y = op(x)` (Identity, Neg, Abs, …), same shape in and out. */
export function unaryModel(op: string, shape: readonly (number | string)[]): Buffer {
  return onnxModel([Buffer.concat([field(1, 'x'), field(2, 'y'), field(3, 'n'), field(4, op)])], shape, shape);
}

/**
 * `y = ReduceMean(x, axes=[2,3], keepdims=0)`: input [N,3,H,W], output [N,3] — the mean of each
 * channel. With `negate`, `y = -mean` (the labels' order flips: a model that disagrees).
 */
export function meanColourModel(height = 48, width = 192, options: { negate?: boolean } = {}): Buffer {
  // AttributeProto { name: 1, type: 20 (INTS = 7, INT = 2), i: 3, ints: 8 (repeated, unpacked) }
  const axes = Buffer.concat([field(1, 'axes'), field(20, 7), field(8, 2), field(8, 3)]);
  const keepdims = Buffer.concat([field(1, 'keepdims'), field(20, 2), field(3, 0)]);
  const out = options.negate === true ? 'm' : 'y';
  const nodes = [Buffer.concat([field(1, 'x'), field(2, out), field(3, 'mean'), field(4, 'ReduceMean'), field(5, axes), field(5, keepdims)])];
  if (options.negate === true) nodes.push(Buffer.concat([field(1, 'm'), field(2, 'y'), field(3, 'neg'), field(4, 'Neg')]));
  return onnxModel(nodes, ['N', 3, height, width], ['N', 3]);
}
