import assert from 'node:assert/strict';
import { mkdtemp, mkdir, realpath, rm, symlink, writeFile, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EdgeMLError, resolveInside, resolveInsideSync, writeFileAtomic, sha256File, sha256 } from '@edgeml/shared';

describe('shared/paths and files', () => {
  let dir: string;
  let root: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-paths-'));
    root = path.join(dir, 'share');
    await mkdir(path.join(root, 'inbox'), { recursive: true });
    await writeFile(path.join(root, 'inbox', 'ok.txt'), 'hello');
    await writeFile(path.join(dir, 'secret.txt'), 'secret');
    await symlink(path.join(dir, 'secret.txt'), path.join(root, 'inbox', 'escape.txt'));
    await symlink(path.join(root, 'inbox', 'ok.txt'), path.join(root, 'inbox', 'inner-link.txt'));
    await symlink(path.join(dir, 'missing'), path.join(root, 'inbox', 'dangling'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const codeOf = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
      return 'resolved';
    } catch (err: unknown) {
      return err instanceof EdgeMLError ? err.code : 'other';
    }
  };

  const codeOfSync = (f: () => unknown): string => {
    try {
      f();
      return 'resolved';
    } catch (err: unknown) {
      return err instanceof EdgeMLError ? err.code : 'other';
    }
  };

  it('resolves files inside the root and refuses every escape with a code', async () => {
    assert.equal(await resolveInside(root, 'inbox/ok.txt', { mustBeFile: true }), path.join(root, 'inbox', 'ok.txt'));
    assert.equal(await resolveInside(root, 'inbox/inner-link.txt'), path.join(root, 'inbox', 'ok.txt'));
    assert.equal(await codeOf(resolveInside(root, '../../etc/passwd')), 'PATH_OUTSIDE_ROOT');
    assert.equal(await codeOf(resolveInside(root, '/etc/passwd')), 'PATH_OUTSIDE_ROOT');
    assert.equal(await codeOf(resolveInside(root, 'inbox/escape.txt')), 'PATH_OUTSIDE_ROOT');
    assert.equal(await codeOf(resolveInside(root, 'inbox/dangling')), 'PATH_OUTSIDE_ROOT');
    assert.equal(await codeOf(resolveInside(root, 'inbox/a\0b')), 'PATH_OUTSIDE_ROOT');
    assert.equal(await codeOf(resolveInside(root, '')), 'PATH_OUTSIDE_ROOT');
    assert.equal(await codeOf(resolveInside(root, 'inbox/none.txt')), 'FILE_NOT_FOUND');
    assert.equal(await codeOf(resolveInside(root, 'inbox', { mustBeFile: true })), 'FILE_NOT_REGULAR');
  });

  it('resolves synchronously below a real root with the same answers and codes', async () => {
    const real = await realpath(root);
    const syncCode = (rel: string): string => codeOfSync(() => resolveInsideSync(real, rel));
    assert.equal(resolveInsideSync(real, 'inbox/ok.txt'), path.join(real, 'inbox', 'ok.txt'));
    assert.equal(resolveInsideSync(real, 'inbox/inner-link.txt'), path.join(real, 'inbox', 'ok.txt'));
    for (const rel of ['../../etc/passwd', '/etc/passwd', 'inbox/escape.txt', 'inbox/dangling', 'inbox/a\0b', '', 'inbox/none.txt']) {
      assert.equal(syncCode(rel), await codeOf(resolveInside(real, rel)), rel);
    }
    assert.equal(syncCode('inbox/dangling'), 'PATH_OUTSIDE_ROOT');
    assert.equal(syncCode('inbox/none.txt'), 'FILE_NOT_FOUND');
  });

  it('writes atomically (no temp file left) and hashes by streaming', async () => {
    const target = path.join(dir, 'out', 'a.bin');
    await writeFileAtomic(target, Buffer.from('abc'));
    await writeFileAtomic(target, Buffer.from('abcd'));
    assert.equal(await readFile(target, 'utf8'), 'abcd');
    assert.deepEqual(await readdir(path.dirname(target)), ['a.bin']);
    assert.deepEqual(await sha256File(target), { sha256: sha256('abcd'), sizeBytes: 4 });
  });
});
