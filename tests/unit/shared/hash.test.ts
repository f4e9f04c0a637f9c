import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isEdgeMLError, sha256File } from '@edgeml/shared';

describe('shared/sha256File', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-hash-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const size of [0, 1, 1024 * 1024 - 1, 1024 * 1024, 3 * 1024 * 1024 + 17]) {
    it(`hashes ${size} bytes like a one-shot SHA-256`, async () => {
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 31 + 7) & 0xff;
      const file = path.join(dir, `f${size}`);
      await writeFile(file, data);
      assert.deepEqual(await sha256File(file), { sha256: createHash('sha256').update(data).digest('hex'), sizeBytes: size });
    });
  }

  it('rejects with the fs error for a missing file and ABORTED when aborted', async () => {
    await assert.rejects(sha256File(path.join(dir, 'missing')), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
    await writeFile(path.join(dir, 'x'), 'x');
    await assert.rejects(sha256File(path.join(dir, 'x'), AbortSignal.abort()), (err: unknown) => isEdgeMLError(err) && err.code === 'ABORTED');
  });
});
