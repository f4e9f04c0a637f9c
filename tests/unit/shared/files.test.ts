import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '@edgeml/shared';

describe('shared/files writeFileAtomic with a directory that others remove once empty', () => {
  // What broke: the transformer wrote a chain's crop tensors into staging/<id>/ while the inferencer,
  // having consumed that source's last tensor, removed the (momentarily empty) directory: the recursive
  // mkdir saw EEXIST, the directory was gone before its stat, and the write failed with ENOENT, which
  // dead-lettered the source (INTERNAL). A consumer removing an empty per-source directory is by design.
  it('writes every file while a consumer removes each one, and the directory once it is empty', async function () {
    this.timeout(60_000);
    const root = await mkdtemp(path.join(tmpdir(), 'edgeml-files-'));
    const dir = path.join(root, 'staging', 'a'.repeat(64));
    const written: string[] = [];
    let writing = true;
    let removals = 0;
    // The consumer's side (the inferencer's staging.release): each file is used, removed, and the
    // directory with it when that left it empty, while the next files are being written.
    const consumer = (async () => {
      while (writing || written.length > 0) {
        const file = written.shift();
        if (file !== undefined) {
          await rm(file, { force: true });
          await rmdir(dir).then(
            () => removals++,
            () => undefined,
          );
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      for (let i = 0; i < 600; i++) {
        const file = path.join(dir, `t${i}.npy`);
        await writeFileAtomic(file, Buffer.from(`tensor ${i}`));
        written.push(file);
      }
    } finally {
      writing = false;
      await consumer;
    }
    assert.ok(removals > 0, 'the directory was removed while files were being written');
    assert.deepEqual((await readdir(path.dirname(dir))).filter((n) => n.includes('.tmp-')), []);
    await rm(root, { recursive: true, force: true });
  });
});
