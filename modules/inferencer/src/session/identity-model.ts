/**
 * A minimal ONNX model (opset 13, `y = Identity(x)`, float32). The CUDA probe opens it to learn
 * whether the CUDA execution provider loads at all, independently of any real model (a corrupt
 * model must never be able to switch CUDA off); tests build small models with it.
 */
import { floatValueInfo, node, onnxModel } from './onnx-proto.js';

/**
 * An ONNX model with one float input `x` and one output `y = Identity(x)`. Dimensions are numbers
 * (fixed) or strings (symbolic, i.e. dynamic).
 */
export function identityModel(shape: readonly (number | string)[]): Buffer {
  return onnxModel({ nodes: [node('Identity', ['x'], ['y'], 'identity')], inputs: [floatValueInfo('x', shape)], outputs: [floatValueInfo('y', shape)], name: 'g' });
}
