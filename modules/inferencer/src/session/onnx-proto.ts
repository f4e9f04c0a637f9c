/**
 * The few protobuf encodings it takes to write a small ONNX model in code (ModelProto, GraphProto,
 * NodeProto, TensorProto, ValueInfoProto): varints and length-delimited fields, nothing else.
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
export const field = (num: number, value: number | string | Buffer): Buffer => {
  if (typeof value === 'number') return Buffer.concat([varint(num << 3), varint(value)]);
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([varint((num << 3) | 2), varint(bytes.length), bytes]);
};

/** ValueInfoProto of a float tensor; dimensions are numbers (fixed) or strings (symbolic, dynamic). */
export function floatValueInfo(name: string, shape: readonly (number | string)[]): Buffer {
  const dims = Buffer.concat(shape.map((d) => field(1, typeof d === 'number' ? field(1, d) : field(2, d))));
  // TypeProto.tensor_type { elem_type: FLOAT (1), shape }
  return Buffer.concat([field(1, name), field(2, field(1, Buffer.concat([field(1, 1), field(2, dims)])))]);
}

/** TensorProto of a 1-D float initializer (raw little-endian bytes). */
export function floatInitializer(name: string, values: readonly number[]): Buffer {
  const raw = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => raw.writeFloatLE(v, i * 4));
  return Buffer.concat([field(1, values.length), field(2, 1), field(8, name), field(9, raw)]);
}

/** NodeProto: inputs, outputs, name, operator and encoded attributes. */
export function node(op: string, inputs: readonly string[], outputs: readonly string[], name: string, attributes: readonly Buffer[] = []): Buffer {
  return Buffer.concat([...inputs.map((i) => field(1, i)), ...outputs.map((o) => field(2, o)), field(3, name), field(4, op), ...attributes.map((a) => field(5, a))]);
}

/** AttributeProto of a list of integers (type INTS = 7). */
export function intsAttribute(name: string, values: readonly number[]): Buffer {
  return Buffer.concat([field(1, name), field(20, 7), ...values.map((v) => field(8, v))]);
}

/** AttributeProto of one integer (type INT = 2). */
export function intAttribute(name: string, value: number): Buffer {
  return Buffer.concat([field(1, name), field(20, 2), field(3, value)]);
}

/** ModelProto (IR 8, default-domain opset 13) around one graph. */
export function onnxModel(graph: { nodes: readonly Buffer[]; initializers?: readonly Buffer[]; inputs: readonly Buffer[]; outputs: readonly Buffer[]; name: string }, producer = 'edgeml'): Buffer {
  const g = Buffer.concat([
    ...graph.nodes.map((n) => field(1, n)),
    field(2, graph.name),
    ...(graph.initializers ?? []).map((t) => field(5, t)),
    ...graph.inputs.map((i) => field(11, i)),
    ...graph.outputs.map((o) => field(12, o)),
  ]);
  return Buffer.concat([field(1, 8), field(2, producer), field(7, g), field(8, Buffer.concat([field(1, ''), field(2, 13)]))]);
}
