/**
 * The staging janitor removes tensor files on its own thread, with real files: each file gone, its
 * directory with it once empty, a directory still holding a file kept, what cannot be removed
 * answered with the reason, and nothing taken after close.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StagingJanitor } from '@edgeml/inferencer';

describe('inferencer staging janitor (real files)', function () {
  this.timeout(30_000);
  let root: string;
  let janitor: StagingJanitor;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'edgeml-janitor-'));
    janitor = new StagingJanitor();
  });
  afterEach(async () => {
    await janitor.close();
    await rm(root, { recursive: true, force: true });
  });

  it('removes the files of one turn in one batch, and each directory once it is empty', async () => {
    const files: string[] = [];
    for (let d = 0; d < 20; d++) {
      await mkdir(path.join(root, `id-${d}`));
      for (const part of ['a.npy', 'b.npy']) {
        const f = path.join(root, `id-${d}`, part);
        await writeFile(f, 'x');
        files.push(f);
      }
    }
    const errors = await Promise.all(files.map((f) => janitor.remove(f, path.dirname(f))));
    assert.deepEqual(errors, files.map(() => null));
    for (const f of files) assert.equal(existsSync(f), false, `${f} removed`);
    for (let d = 0; d < 20; d++) assert.equal(existsSync(path.join(root, `id-${d}`)), false, `id-${d}/ removed once empty`);
  });

  it('keeps a directory that still holds a file, and takes a missing file as removed', async () => {
    await mkdir(path.join(root, 'id'));
    await writeFile(path.join(root, 'id', 'a.npy'), 'x');
    await writeFile(path.join(root, 'id', 'b.npy'), 'x');
    assert.equal(await janitor.remove(path.join(root, 'id', 'a.npy'), path.join(root, 'id')), null);
    assert.equal(existsSync(path.join(root, 'id', 'b.npy')), true);
    assert.equal(await janitor.remove(path.join(root, 'id', 'gone.npy'), undefined), null);
  });

  it('answers why a path cannot be removed, and refuses work after close', async () => {
    await mkdir(path.join(root, 'a-directory'));
    const why = await janitor.remove(path.join(root, 'a-directory'), undefined);
    assert.match(why ?? '', /EISDIR|EPERM|is a directory|operation not permitted/i);
    assert.equal(existsSync(path.join(root, 'a-directory')), true);
    await janitor.close();
    assert.match((await janitor.remove(path.join(root, 'x'), undefined)) ?? '', /closed/);
  });
});
