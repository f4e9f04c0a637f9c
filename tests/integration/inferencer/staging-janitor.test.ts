/**
 * The staging janitor removes tensor files on its own thread, with real files: each file gone at
 * once, the directories left empty swept together (when the janitor is idle, when too many wait, at
 * close), a directory still holding a file kept, what cannot be removed answered with the reason,
 * and nothing taken after close.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StagingJanitor } from '@edgeml/inferencer';
import { waitFor } from '../../helpers/suite.js';

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

  /** `count` directories of two files each under root; returns the files. */
  const stage = async (count: number, prefix = 'id'): Promise<string[]> => {
    const files: string[] = [];
    for (let d = 0; d < count; d++) {
      await mkdir(path.join(root, `${prefix}-${d}`));
      for (const part of ['a.npy', 'b.npy']) {
        const f = path.join(root, `${prefix}-${d}`, part);
        await writeFile(f, 'x');
        files.push(f);
      }
    }
    return files;
  };
  const dirsLeft = (files: readonly string[]): string[] => [...new Set(files.map((f) => path.dirname(f)))].filter((d) => existsSync(d));

  it('removes the files of one turn in one batch at once, and the emptied directories in a sweep once idle', async () => {
    janitor = new StagingJanitor({ idleMs: 300, maxPending: 10_000, maxAgeMs: 60_000 });
    const files = await stage(20);
    const errors = await Promise.all(files.map((f) => janitor.remove(f, path.dirname(f))));
    assert.deepEqual(errors, files.map(() => null));
    for (const f of files) assert.equal(existsSync(f), false, `${f} removed`);
    await waitFor(() => dirsLeft(files).length === 0, 10_000, 'the idle sweep of the 20 emptied directories', 50);
  });

  it('sweeps as soon as too many directories wait, without waiting to be idle', async () => {
    janitor = new StagingJanitor({ idleMs: 600_000, maxPending: 5, maxAgeMs: 600_000 });
    const files = await stage(5);
    assert.deepEqual(await Promise.all(files.map((f) => janitor.remove(f, path.dirname(f)))), files.map(() => null));
    await waitFor(() => dirsLeft(files).length === 0, 10_000, 'the sweep at 5 pending directories', 50);
  });

  it('sweeps on the first removal after the oldest directory has waited too long, even when never idle', async () => {
    janitor = new StagingJanitor({ idleMs: 600_000, maxPending: 10_000, maxAgeMs: 100 });
    const files = await stage(3);
    await janitor.remove(files[0]!, path.dirname(files[0]!));
    await janitor.remove(files[1]!, path.dirname(files[1]!));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(dirsLeft(files.slice(0, 2)).length, 1, 'not swept before a removal comes after the age');
    await janitor.remove(files[2]!, path.dirname(files[2]!));
    await waitFor(() => dirsLeft(files.slice(0, 2)).length === 0, 10_000, 'the age-triggered sweep', 50);
  });

  it('sweeps what waits when closed, and on request', async () => {
    janitor = new StagingJanitor({ idleMs: 600_000, maxPending: 10_000, maxAgeMs: 600_000 });
    const first = await stage(3, 'first');
    await Promise.all(first.map((f) => janitor.remove(f, path.dirname(f))));
    assert.equal(dirsLeft(first).length, 3, 'nothing swept before it is due');
    assert.equal(await janitor.sweepDirectories(), 3);
    assert.deepEqual(dirsLeft(first), []);
    const second = await stage(3, 'second');
    await Promise.all(second.map((f) => janitor.remove(f, path.dirname(f))));
    await janitor.close();
    assert.deepEqual(dirsLeft(second), [], 'close sweeps the directories still waiting');
  });

  it('keeps a directory that still holds a file, and takes a missing file as removed', async () => {
    await mkdir(path.join(root, 'id'));
    await writeFile(path.join(root, 'id', 'a.npy'), 'x');
    await writeFile(path.join(root, 'id', 'b.npy'), 'x');
    assert.equal(await janitor.remove(path.join(root, 'id', 'a.npy'), path.join(root, 'id')), null);
    assert.equal(await janitor.sweepDirectories(), 0);
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
