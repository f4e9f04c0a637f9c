/**
 * Tensor files on a real directory: read straight into a batch slot (synchronously: this runs in the
 * session worker) and checked by size and header
 * (no SHA-256 for the suite's own staging files, a full one for anything else), and removed from
 * staging once every message naming them is done.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '@edgeml/shared';
import { StagingFiles, encodeNpy, readTensorInto } from '@edgeml/inferencer';
import { waitFor } from '../../helpers/suite.js';
import { sha256Hex } from './support.js';

const logger = createLogger({ name: 'test', level: 'silent' });

describe('inferencer tensor files', () => {
  let root: string;
  const data = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i / 7);
  const npy = encodeNpy({ dtype: 'float32', shape: [1, 2, 3, 4], data });
  const tensor = (rel: string, bytes: Buffer = npy) => ({ path: rel, sha256: sha256Hex(bytes), dtype: 'float32' as const, shape: [1, 2, 3, 4], layout: 'NCHW' as const });

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'edgeml-tensor-files-'));
    await mkdir(path.join(root, 'staging', 'a'), { recursive: true });
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads the data into a slot of a larger buffer, exactly', async () => {
    const file = path.join(root, 'staging', 'a', 'ok.npy');
    await writeFile(file, npy);
    const buffer = new ArrayBuffer(data.byteLength * 3);
    readTensorInto(file, tensor('staging/a/ok.npy'), new Uint8Array(buffer, data.byteLength, data.byteLength), { verifySha256: false });
    assert.deepEqual([...new Float32Array(buffer, data.byteLength, data.length)], [...data]);
    assert.ok(new Float32Array(buffer, 0, data.length).every((v) => v === 0), 'the neighbouring slots are untouched');
  });

  it('refuses a truncated or padded file, another shape, a missing file, each with its code', async () => {
    const cases: [string, Buffer, ReturnType<typeof tensor>, string, RegExp][] = [
      ['short.npy', npy.subarray(0, npy.length - 4), tensor('staging/a/short.npy'), 'INPUT_MALFORMED', /truncated or padded/],
      ['long.npy', Buffer.concat([npy, Buffer.alloc(4)]), tensor('staging/a/long.npy'), 'INPUT_MALFORMED', /truncated or padded/],
      ['shape.npy', npy, { ...tensor('staging/a/shape.npy'), shape: [1, 2, 4, 3] }, 'TENSOR_MISMATCH', /holds float32\[1,2,3,4\]/],
      ['junk.npy', Buffer.from('not numpy at all'), tensor('staging/a/junk.npy'), 'INPUT_MALFORMED', /bad magic/],
    ];
    for (const [name, bytes, t, code, reason] of cases) {
      const file = path.join(root, 'staging', 'a', name);
      await writeFile(file, bytes);
      assert.throws(() => readTensorInto(file, t, new Uint8Array(data.byteLength), { verifySha256: false }), (e: { code?: string; message: string }) => e.code === code && reason.test(e.message), name);
    }
    assert.throws(() => readTensorInto(path.join(root, 'staging', 'a', 'gone.npy'), tensor('staging/a/gone.npy'), new Uint8Array(data.byteLength), { verifySha256: false }), { code: 'FILE_NOT_FOUND' });
  });

  it('reads a valid header written another way (as numpy writes it), and refuses a directory or a FIFO without hanging', async () => {
    // numpy: "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3, 4), }" padded to 128 bytes, like ours but
    // with a v2.0 header here, so the first bytes differ from what the suite's encoder writes.
    const text = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3, 4), }";
    const padded = text + ' '.repeat(128 - 12 - text.length - 1) + '\n';
    const prefix = Buffer.alloc(12);
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]).copy(prefix);
    prefix.writeUInt32LE(padded.length, 8);
    const v2 = Buffer.concat([prefix, Buffer.from(padded, 'latin1'), Buffer.from(data.buffer)]);
    const file = path.join(root, 'staging', 'a', 'v2.npy');
    await writeFile(file, v2);
    const target = new Uint8Array(data.byteLength);
    readTensorInto(file, tensor('staging/a/v2.npy', v2), target, { verifySha256: true });
    assert.deepEqual([...new Float32Array(target.buffer)], [...data]);
    await mkdir(path.join(root, 'staging', 'a', 'dir.npy'), { recursive: true });
    assert.throws(() => readTensorInto(path.join(root, 'staging', 'a', 'dir.npy'), tensor('staging/a/dir.npy'), new Uint8Array(data.byteLength), { verifySha256: false }), { code: 'FILE_NOT_REGULAR' });
    const fifo = path.join(root, 'staging', 'a', 'fifo.npy');
    await promisify(execFile)('mkfifo', [fifo]);
    assert.throws(() => readTensorInto(fifo, tensor('staging/a/fifo.npy'), new Uint8Array(data.byteLength), { verifySha256: false }), { code: 'FILE_NOT_REGULAR' });
  });

  it('hashes a file that is not the suite\'s own, and refuses one that was replaced', async () => {
    const file = path.join(root, 'elsewhere.npy');
    await writeFile(file, npy);
    readTensorInto(file, tensor('elsewhere.npy'), new Uint8Array(data.byteLength), { verifySha256: true });
    const other = encodeNpy({ dtype: 'float32', shape: [1, 2, 3, 4], data: data.map((v) => v + 1) });
    await writeFile(file, other);
    assert.throws(() => readTensorInto(file, tensor('elsewhere.npy'), new Uint8Array(data.byteLength), { verifySha256: true }), (e: { code?: string; message: string }) => e.code === 'INPUT_MALFORMED' && /SHA-256/.test(e.message));
  });

  it('removes a staging file once the last message holding it is done, and its directory once empty; never a file outside staging', async () => {
    const staging = new StagingFiles(path.join(root, 'staging'), logger);
    await staging.prepare();
    await mkdir(path.join(root, 'staging', 'b'), { recursive: true });
    const file = path.join(root, 'staging', 'b', 'cls.npy');
    await writeFile(file, npy);
    staging.hold(file);
    staging.hold(file); // a duplicate in flight
    await staging.release(file, npy.length);
    assert.ok((await stat(file)).isFile(), 'kept while the duplicate still holds it');
    await staging.release(file, npy.length);
    await assert.rejects(stat(file), { code: 'ENOENT' });
    // The per-source directory goes in the janitor's sweep once it is idle (250 ms by default).
    await waitFor(() => stat(path.join(root, 'staging', 'b')).then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ENOENT'), 10_000, 'the empty per-source directory to go too', 50);
    assert.deepEqual(staging.removed, { files: 1, bytes: npy.length });
    const outside = path.join(root, 'keep.npy');
    await writeFile(outside, npy);
    staging.hold(outside);
    await staging.release(outside, npy.length);
    assert.ok((await stat(outside)).isFile(), 'a file outside staging is never removed');
    assert.ok((await readdir(path.join(root, 'staging'))).includes('a'), 'a directory still holding files stays');
  });
});
