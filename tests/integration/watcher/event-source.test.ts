import assert from 'node:assert/strict';
import { appendFile, realpath, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createChokidarSource, type EventSource } from '@edgeml/watcher';
import { makeRoot, removeRoot, sleepMs, waitFor } from './harness.js';

interface Seen {
  readonly path: string;
  readonly figures?: { readonly sizeBytes: number; readonly mtimeMs: number };
}

describe('watcher/event source on a real directory: what an event lends as a look', function () {
  this.timeout(30_000);
  let root: string | undefined;
  let source: EventSource | undefined;
  afterEach(async () => {
    await source?.close();
    source = undefined;
    if (root !== undefined) await removeRoot(root);
    root = undefined;
  });

  async function start(): Promise<{ dir: string; seen: Seen[] }> {
    root = await realpath(await makeRoot());
    const seen: Seen[] = [];
    const dir = root;
    source = createChokidarSource({
      root: dir,
      usePolling: false,
      pollingIntervalMs: 1000,
      onPath: (p, figures) => seen.push(figures === undefined ? { path: p } : { path: p, figures }),
      onRemoved: () => undefined,
      onError: (err) => assert.fail(String(err)),
    });
    await source.ready;
    return { dir, seen };
  }

  it("a new file's add carries its lstat figures, a later write's change its stat figures of the same inode", async () => {
    const { dir, seen } = await start();
    const file = path.join(dir, 'a.csv');
    await writeFile(file, '');
    await waitFor(() => seen.some((s) => s.path === file), 10_000, 'the add event');
    assert.deepEqual(seen[0]?.figures?.sizeBytes, 0, 'created empty');
    await sleepMs(50);
    await appendFile(file, 'id,value\n1,2\n');
    await waitFor(() => seen.some((s) => s.path === file && s.figures?.sizeBytes === 13), 10_000, 'a change event with the written size');
  });

  it('a path swapped for a symlink lends no figures (neither the link nor its target)', async () => {
    const { dir, seen } = await start();
    const file = path.join(dir, 'b.csv');
    await writeFile(file, 'x');
    await waitFor(() => seen.some((s) => s.path === file), 10_000, 'the add event');
    // The target lies outside the watched tree, so its figures could only come through the link.
    const outside = await makeRoot();
    try {
      const target = path.join(outside, 'target.csv');
      await writeFile(target, 'a much longer content');
      const link = path.join(dir, '.b.link');
      await symlink(target, link);
      const before = seen.length;
      await rename(link, file);
      await waitFor(() => seen.slice(before).some((s) => s.path === file), 10_000, 'an event for the swapped path');
      await appendFile(target, ' grows');
      await sleepMs(300);
      const after = seen.slice(before).filter((s) => s.path === file);
      assert.ok(after.length > 0);
      for (const s of after) assert.equal(s.figures, undefined, `no figures after the swap: ${JSON.stringify(s)}`);
    } finally {
      await removeRoot(outside);
    }
  });
});
