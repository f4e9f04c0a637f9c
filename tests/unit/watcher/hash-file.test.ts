import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hashInboxFile } from '@edgeml/watcher';

describe('watcher/hash-file: SHA-256 and the size and mtime of the inode read', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-hash-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const [label, size, expected] of [
    ['empty', 0, 0],
    ['small, expected size', 1000, 1000],
    ['larger than one read (3.5 MiB)', 3.5 * 1024 * 1024, 3.5 * 1024 * 1024],
    ['exactly one read (1 MiB)', 1024 * 1024, 1024 * 1024],
    ['expected smaller than it is', 5000, 10],
    ['expected larger than it is', 10, 5000],
    ['size not given', 70_000, undefined],
  ] as const) {
    it(`${label}: the same digest as a one-shot hash`, async () => {
      const data = randomBytes(size);
      const file = path.join(dir, `${label.replace(/\W+/g, '-')}.bin`);
      await writeFile(file, data);
      const st = await stat(file);
      const r = await hashInboxFile(file, undefined, expected);
      assert.equal(r.sha256, createHash('sha256').update(data).digest('hex'));
      assert.deepEqual([r.sizeBytes, r.sizeAfterBytes, r.mtimeMs], [size, size, st.mtimeMs]);
    });
  }

  it('fails with the fs error for a missing file, and ABORTED when aborted', async () => {
    await assert.rejects(hashInboxFile(path.join(dir, 'absent')), { code: 'ENOENT' });
    const file = path.join(dir, 'abort.bin');
    await writeFile(file, 'x');
    await assert.rejects(hashInboxFile(file, AbortSignal.abort()), { code: 'ABORTED' });
  });
});
