import assert from 'node:assert/strict';
import { decodeNpy, encodeNpy, EdgeMLError } from '@edgeml/shared';

describe('shared/npy (the tensor file contract)', () => {
  it('writes a v1.0 header numpy reads: magic, 64-byte alignment, dict, then little-endian data', () => {
    const data = new Float32Array([1, -2.5, 3, 0.25, 5, 6]);
    const npy = encodeNpy({ dtype: 'float32', shape: [1, 2, 3], data });
    assert.deepEqual([...npy.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const headerLength = npy.readUInt16LE(8);
    const dataOffset = 10 + headerLength;
    assert.equal(dataOffset % 64, 0);
    assert.equal(npy[dataOffset - 1], 0x0a);
    assert.match(npy.subarray(10, dataOffset).toString('latin1'), /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(1, 2, 3\), \} *\n$/);
    assert.equal(npy.length, dataOffset + 24);
    assert.equal(npy.readFloatLE(dataOffset + 4), -2.5);
    const back = decodeNpy(npy);
    assert.equal(back.dtype, 'float32');
    assert.deepEqual(back.shape, [1, 2, 3]);
    assert.deepEqual([...back.data], [...data]);
  });

  it('uint8 tensors are |u1; a 1-d shape keeps the trailing comma', () => {
    const npy = encodeNpy({ dtype: 'uint8', shape: [3], data: new Uint8Array([1, 2, 3]) });
    assert.match(npy.toString('latin1'), /'descr': '\|u1'.*'shape': \(3,\)/);
    assert.deepEqual([...decodeNpy(npy).data], [1, 2, 3]);
  });

  it('refuses a shape or dtype that does not match the data', () => {
    assert.throws(() => encodeNpy({ dtype: 'float32', shape: [2, 3], data: new Float32Array(5) }), RangeError);
    assert.throws(() => encodeNpy({ dtype: 'uint8', shape: [2], data: new Float32Array(2) }), RangeError);
  });

  it('decodes an unaligned buffer slice by copying', () => {
    const npy = encodeNpy({ dtype: 'float32', shape: [2], data: new Float32Array([1.5, -1]) });
    const shifted = Buffer.alloc(npy.length + 1);
    npy.copy(shifted, 1);
    assert.deepEqual([...decodeNpy(shifted.subarray(1)).data], [1.5, -1]);
  });

  it('reports every malformation as INPUT_MALFORMED', () => {
    const good = encodeNpy({ dtype: 'float32', shape: [4], data: new Float32Array(4) });
    const fortran = Buffer.from(good.toString('latin1').replace('False', 'True '), 'latin1');
    const f8 = Buffer.from(good.toString('latin1').replace("'<f4'", "'<f8'"), 'latin1');
    const cases: Buffer[] = [Buffer.from('hello world'), Buffer.alloc(0), good.subarray(0, 20), good.subarray(0, good.length - 1), Buffer.concat([good, Buffer.alloc(4)]), fortran, f8];
    for (const bytes of cases) {
      assert.throws(() => decodeNpy(bytes), (e: unknown) => e instanceof EdgeMLError && e.code === 'INPUT_MALFORMED', bytes.subarray(0, 40).toString('latin1'));
    }
  });
});
