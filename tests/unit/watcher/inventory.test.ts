import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { walkInbox, type EntryClass } from '@edgeml/watcher';

/** The refusal code of an inventory entry, or its type when it was not refused. */
function refusedCode(e: EntryClass | undefined): string | undefined {
  return e?.type === 'refused' ? e.code : e?.type;
}

describe('watcher/inventory walk', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await realpath(await mkdtemp(path.join(tmpdir(), 'edgeml-walk-')));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists regular files with size and mtime, refuses symlinks and FIFOs, never follows a symlinked directory', async () => {
    const inbox = path.join(dir, 'inbox');
    const outside = path.join(dir, 'outside');
    await mkdir(path.join(inbox, 'a', 'b'), { recursive: true });
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret'), 'x');
    await writeFile(path.join(inbox, 'top.jpg'), '12345');
    await writeFile(path.join(inbox, 'a', 'b', 'deep.csv'), '1');
    await symlink(path.join(outside, 'secret'), path.join(inbox, 'out-link'));
    await symlink(path.join(inbox, 'top.jpg'), path.join(inbox, 'in-link'));
    await symlink(outside, path.join(inbox, 'dir-link'));
    await symlink(path.join(dir, 'nothing'), path.join(inbox, 'dangling'));
    execFileSync('mkfifo', [path.join(inbox, 'a', 'fifo')]);
    const walk = await walkInbox(inbox);
    assert.equal(walk.rootUnreadable, false);
    const byRel = new Map(walk.entries.map((e) => [e.rel, e.entry]));
    assert.deepEqual([...byRel.keys()].sort(), ['a/b/deep.csv', 'a/fifo', 'dangling', 'dir-link', 'in-link', 'out-link', 'top.jpg']);
    assert.equal((byRel.get('top.jpg') as { sizeBytes: number }).sizeBytes, 5);
    assert.equal(refusedCode(byRel.get('out-link')), 'PATH_OUTSIDE_ROOT');
    assert.equal(refusedCode(byRel.get('dir-link')), 'PATH_OUTSIDE_ROOT');
    assert.equal(refusedCode(byRel.get('dangling')), 'PATH_OUTSIDE_ROOT');
    assert.equal(refusedCode(byRel.get('in-link')), 'FILE_NOT_REGULAR');
    assert.equal(refusedCode(byRel.get('a/fifo')), 'FILE_NOT_REGULAR');
    assert.ok(![...byRel.keys()].some((k) => k.includes('secret')), 'the symlinked directory is not walked');
  });

  it('says so when the inbox itself cannot be read (an unmounted share is not an empty one)', async () => {
    const walk = await walkInbox(path.join(dir, 'missing'));
    assert.equal(walk.rootUnreadable, true);
    assert.deepEqual(walk.entries, []);
    assert.equal(walk.problems.length, 1);
  });
});
