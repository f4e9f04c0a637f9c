import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFileAtomic, writeStreamHashed } from '@edgeml/shared';

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

describe('shared/files writeStreamHashed (model and registry blob downloads)', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'edgeml-hashed-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  async function* chunks(parts: readonly Buffer[], breakAfter?: number): AsyncIterable<Uint8Array> {
    for (const [i, part] of parts.entries()) {
      if (i === breakAfter) throw new Error('connection reset');
      yield part;
    }
  }
  const parts = [Buffer.alloc(70_000, 1), Buffer.alloc(70_000, 2), Buffer.from('tail')];
  const whole = Buffer.concat(parts);
  const options = {
    maxBytes: whole.length,
    tooLarge: () => new Error('too large'),
    failed: (err: unknown, sizeBytes: number) => new Error(`failed after ${sizeBytes}: ${(err as Error).message}`),
  };

  it('writes the chunks to a new file and returns their SHA-256 and size', async () => {
    const file = path.join(root, 'ok.bin');
    const result = await writeStreamHashed(chunks(parts), file, options);
    assert.deepEqual(result, { sha256: createHash('sha256').update(whole).digest('hex'), sizeBytes: whole.length });
    assert.ok((await readFile(file)).equals(whole));
  });

  it('throws tooLarge() itself, not wrapped by failed(), once more than maxBytes arrive', async () => {
    await assert.rejects(writeStreamHashed(chunks(parts), path.join(root, 'big.bin'), { ...options, maxBytes: whole.length - 1 }), /^Error: too large$/);
  });

  it('a source that breaks off is failed(err, bytes received so far)', async () => {
    await assert.rejects(writeStreamHashed(chunks(parts, 2), path.join(root, 'broken.bin'), options), /^Error: failed after 140000: connection reset$/);
  });

  // What broke: a file stream that failed (here EEXIST; ENOSPC alike) never emits 'drain', so a download
  // larger than the stream's buffer waited for it forever instead of failing.
  it('never overwrites and never hangs: an existing file is failed(EEXIST), large or small, and keeps its content', async () => {
    const file = path.join(root, 'exists.bin');
    await writeFile(file, 'keep');
    await assert.rejects(writeStreamHashed(chunks(parts), file, options), /EEXIST/);
    await assert.rejects(writeStreamHashed(chunks([Buffer.from('x')]), file, options), /EEXIST/);
    assert.equal(await readFile(file, 'utf8'), 'keep');
  });
});
