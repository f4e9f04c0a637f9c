/**
 * A minimal ONNX model (opset 13, `y = Identity(x)`, float32) written as protobuf bytes. The CUDA
 * probe opens it to learn whether the CUDA execution provider loads at all, independently of any
 * real model (a corrupt model must never be able to switch CUDA off); tests build small models with
 * the same writer (`onnxModel`, `protoField`).
 */

const varint = (n: number): Buffer => {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
};

/** One protobuf field: varint for numbers, length-delimited for strings and messages. */
export const protoField = (num: number, value: number | string | Buffer): Buffer => {
  if (typeof value === 'number') return Buffer.concat([varint(num << 3), varint(value)]);
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([varint((num << 3) | 2), varint(bytes.length), bytes]);
};

const field = protoField;

/** ValueInfoProto for a float tensor; dimensions are numbers (fixed) or strings (symbolic, i.e. dynamic). */
const valueInfo = (name: string, shape: readonly (number | string)[]): Buffer => {
  const dims = Buffer.concat(shape.map((d) => field(1, typeof d === 'number' ? field(1, d) : field(2, d))));
  // TypeProto.tensor_type { elem_type: FLOAT (1), shape }
  const tensorType = Buffer.concat([field(1, 1), field(2, dims)]);
  return Buffer.concat([field(1, name), field(2, field(1, tensorType))]);
};

/**
 * An ONNX model (opset 13) whose graph is `nodes` (encoded NodeProto messages), with one float input
 * `x` of shape `input` and one float output `y` of shape `output`.
 */
export function onnxModel(nodes: readonly Buffer[], input: readonly (number | string)[], output: readonly (number | string)[]): Buffer {
  const graph = Buffer.concat([...nodes.map((n) => field(1, n)), field(2, 'g'), field(11, valueInfo('x', input)), field(12, valueInfo('y', output))]);
  // ModelProto { ir_version: 8, graph, opset_import { domain: '', version: 13 } }
  return Buffer.concat([field(1, 8), field(7, graph), field(8, Buffer.concat([field(1, ''), field(2, 13)]))]);
}

/**
 * An ONNX model with one float input `x` and one output `y = Identity(x)`. Dimensions are numbers
 * (fixed) or strings (symbolic, i.e. dynamic).
 */
export function identityModel(shape: readonly (number | string)[]): Buffer {
  const node = Buffer.concat([field(1, 'x'), field(2, 'y'), field(3, 'identity'), field(4, 'Identity')]);
  return onnxModel([node], shape, shape);
}
