import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { moveFile } from '@edgeml/shared';

describe('shared/files moveFile', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-move-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('moves into a folder it creates and leaves no temp file', async () => {
    await writeFile(path.join(dir, 'a.bin'), 'payload');
    await moveFile(path.join(dir, 'a.bin'), path.join(dir, 'x', 'y', 'a.bin'));
    assert.equal(await readFile(path.join(dir, 'x', 'y', 'a.bin'), 'utf8'), 'payload');
    assert.deepEqual(await readdir(path.join(dir, 'x', 'y')), ['a.bin']);
    await assert.rejects(readFile(path.join(dir, 'a.bin')), { code: 'ENOENT' });
  });

  it('leaves the source in place when the move fails', async () => {
    await writeFile(path.join(dir, 'a.bin'), 'payload');
    await writeFile(path.join(dir, 'blocker'), 'a file where a folder should be');
    await assert.rejects(moveFile(path.join(dir, 'a.bin'), path.join(dir, 'blocker', 'a.bin')));
    assert.equal(await readFile(path.join(dir, 'a.bin'), 'utf8'), 'payload');
  });

  it('moves across filesystems (EXDEV: copy, fsync, rename, then remove the source)', async function () {
    // /dev/shm is a tmpfs on Linux; the test needs a second filesystem to force EXDEV.
    const other = await mkdtemp('/dev/shm/edgeml-move-').catch(() => undefined);
    if (other === undefined || (await stat(other)).dev === (await stat(dir)).dev) {
      if (other !== undefined) await rm(other, { recursive: true, force: true });
      console.log(`      skipped: no second filesystem here (/dev/shm is missing or on the same device as ${dir})`);
      this.skip();
    }
    try {
      await writeFile(path.join(other, 'a.bin'), 'across');
      await moveFile(path.join(other, 'a.bin'), path.join(dir, 'failed', 'a.bin'));
      assert.equal(await readFile(path.join(dir, 'failed', 'a.bin'), 'utf8'), 'across');
      assert.deepEqual(await readdir(path.join(dir, 'failed')), ['a.bin']);
      assert.deepEqual(await readdir(other), []);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
