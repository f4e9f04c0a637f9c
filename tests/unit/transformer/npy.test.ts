import assert from 'node:assert/strict';
import { encodeNpy, parseNpyHeader } from '@edgeml/transformer';

describe('transformer/npy', () => {
  it('writes a v1.0 header numpy reads: magic, 64-byte alignment, dict, then little-endian data', () => {
    const data = new Float32Array([1, -2.5, 3, 0.25, 5, 6]);
    const npy = encodeNpy(data, [1, 2, 3]);
    assert.deepEqual([...npy.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const h = parseNpyHeader(npy);
    assert.equal(h.dataOffset % 64, 0);
    assert.equal(npy[h.dataOffset - 1], 0x0a);
    assert.equal(h.descr, '<f4');
    assert.equal(h.fortranOrder, false);
    assert.deepEqual(h.shape, [1, 2, 3]);
    assert.match(npy.subarray(10, h.dataOffset).toString('latin1'), /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(1, 2, 3\), \} *\n$/);
    assert.equal(npy.length, h.dataOffset + 24);
    assert.equal(npy.readFloatLE(h.dataOffset + 4), -2.5);
  });

  it('uint8 tensors are |u1; a 1-d shape keeps the trailing comma', () => {
    const npy = encodeNpy(new Uint8Array([1, 2, 3]), [3]);
    const h = parseNpyHeader(npy);
    assert.equal(h.descr, '|u1');
    assert.deepEqual(h.shape, [3]);
    assert.match(npy.toString('latin1'), /'shape': \(3,\)/);
  });

  it('refuses a shape that does not match the data, and bytes that are not npy', () => {
    assert.throws(() => encodeNpy(new Float32Array(5), [2, 3]), RangeError);
    assert.throws(() => parseNpyHeader(Buffer.from('hello world')), /bad magic/);
  });
});
