/**
 * Tiny ONNX models written as protobuf bytes in code (opset 13, float32), for registry and rollout
 * tests: `y = op(x)` for a unary operator, and a mean-colour classifier for the `cls` profile's
 * [N,3,48,192] tensors (ReduceMean over H and W → [N,3] scores).
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

const field = (num: number, value: number | string | Buffer): Buffer => {
  if (typeof value === 'number') return Buffer.concat([varint(num << 3), varint(value)]);
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([varint((num << 3) | 2), varint(bytes.length), bytes]);
};

const valueInfo = (name: string, shape: readonly (number | string)[]): Buffer => {
  const dims = Buffer.concat(shape.map((d) => field(1, typeof d === 'number' ? field(1, d) : field(2, d))));
  return Buffer.concat([field(1, name), field(2, field(1, Buffer.concat([field(1, 1), field(2, dims)])))]);
};

function model(nodes: readonly Buffer[], input: readonly (number | string)[], output: readonly (number | string)[]): Buffer {
  const graph = Buffer.concat([...nodes.map((n) => field(1, n)), field(2, 'g'), field(11, valueInfo('x', input)), field(12, valueInfo('y', output))]);
  return Buffer.concat([field(1, 8), field(7, graph), field(8, Buffer.concat([field(1, ''), field(2, 13)]))]);
}

/** `y = op(x)` (Identity, Neg, Abs, …), same shape in and out. */
export function unaryModel(op: string, shape: readonly (number | string)[]): Buffer {
  return model([Buffer.concat([field(1, 'x'), field(2, 'y'), field(3, 'n'), field(4, op)])], shape, shape);
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
  return model(nodes, ['N', 3, height, width], ['N', 3]);
}
