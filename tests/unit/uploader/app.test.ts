import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMemoryEdgeClient, dataPaths, EdgeMLError, Registry, type ArtifactMessage, type CompletionMessage, type DataPaths } from '@edgeml/shared';
import { createUploaderApp, md5Base64, type UploadRequest, type UploadResult, type UploadSink } from '@edgeml/uploader';
import { config, logger, sha, stagedArtifact } from './fixtures.js';



/** A sink that fails the names it is told to, the way the real ones fail. */
class ScriptedSink implements UploadSink {
  readonly kind = 'blob' as const;
  readonly target = 'fake://container';
  readonly attempts = new Map<string, number>();
  constructor(private readonly failWith: (name: string, attempt: number) => unknown) {}
  checkAccess(): Promise<void> {
    return Promise.resolve();
  }
  upload(request: UploadRequest): Promise<UploadResult> {
    const n = (this.attempts.get(request.name) ?? 0) + 1;
    this.attempts.set(request.name, n);
    const err = this.failWith(request.name, n);
    if (err !== undefined) return Promise.reject(err as Error);
    return Promise.resolve({ name: request.name, md5: md5Base64(Buffer.from(request.name)), sizeBytes: request.sizeBytes, outcome: 'created', bytesSent: request.sizeBytes, blocksStaged: 0, blocksSkipped: 0 });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}


describe('uploader app with a scripted sink', function () {
  this.timeout(20_000);
  let paths: DataPaths;
  beforeEach(async () => {
    paths = dataPaths(await mkdtemp(path.join(tmpdir(), 'uapp-')));
    await mkdir(paths.staging, { recursive: true });
  });
  afterEach(async () => {
    await rm(paths.root, { recursive: true, force: true });
  });

  const run = async (sink: ScriptedSink, desired: Record<string, unknown>, n: number) => {
    const edge = createMemoryEdgeClient({ deviceId: 'd' });
    const app = createUploaderApp({ edge, logger, registry: new Registry(), paths, env: {}, now: () => new Date() }, { createSink: () => sink, random: () => 0 });
    await app.configure(config(desired), undefined);
    await app.start();
    const messages = [];
    for (let i = 0; i < n; i++) messages.push(await stagedArtifact(paths, i));
    for (const m of messages) await edge.deliver('artifacts', m);
    return { edge, app, messages, completions: () => edge.sentTo('completed').map((m) => m.json as CompletionMessage).filter((c) => c.outcome !== 'held') };
  };

  it('one item that keeps failing is quarantined after maxAttempts while the rest go through', async () => {
    const sink = new ScriptedSink((name) => (name.includes(sha('src-1')) ? Object.assign(new Error('boom'), { statusCode: 500, code: 'InternalError' }) : undefined));
    const t = await run(sink, { maxAttempts: 3, concurrency: 1, retry: { initialDelayMs: 10, maxDelayMs: 20 } }, 4);
    try {
      assert.ok(await t.app.idle(10_000));
      const bad = t.completions().find((c) => c.id === sha('src-1'));
      assert.equal(bad?.outcome, 'deadLettered');
      assert.match(bad?.reason ?? '', /gave up after 3 attempts/);
      assert.equal(t.completions().filter((c) => c.outcome === 'uploaded').length, 3);
      assert.equal([...sink.attempts.entries()].find(([k]) => k.includes(sha('src-1')))?.[1], 3);
    } finally {
      await t.app.stop(AbortSignal.timeout(5_000));
    }
  });

  it('an outage (no answer) charges no attempts: nothing is quarantined however long it lasts', async () => {
    let down = true;
    const sink = new ScriptedSink(() => (down ? Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) : undefined));
    const t = await run(sink, { maxAttempts: 1, retry: { initialDelayMs: 10, maxDelayMs: 20 }, sinkProbe: { initialDelayMs: 10, maxDelayMs: 20 } }, 3);
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.ok([...sink.attempts.values()].some((n) => n > 1), 'retried during the outage');
      assert.equal(t.completions().length, 0);
      assert.equal((t.app.status() as { sink: { state: string } }).sink.state, 'paused');
      down = false;
      assert.ok(await t.app.idle(10_000));
      assert.deepEqual(t.completions().map((c) => c.outcome), ['uploaded', 'uploaded', 'uploaded']);
      assert.equal((t.app.status() as { sink: { state: string } }).sink.state, 'ready');
    } finally {
      await t.app.stop(AbortSignal.timeout(5_000));
    }
  });

  it('deletes staging files once uploaded (deleteAfterUpload) and re-acknowledges a replay without uploading', async () => {
    const sink = new ScriptedSink(() => undefined);
    const t = await run(sink, {}, 1);
    try {
      assert.ok(await t.app.idle(5_000));
      const m = t.messages[0] as ArtifactMessage;
      await assert.rejects(writeFile(path.join(paths.root, m.artifact.path), 'x', { flag: 'r+' }), /ENOENT/, 'staging file deleted');
      // The transformer re-emits (after a timeout): the file is staged again, the ledger answers.
      const again = await stagedArtifact(paths, 0);
      await t.edge.deliver('artifacts', again);
      assert.ok(await t.app.idle(5_000));
      assert.equal(t.completions().length, 2);
      assert.equal(t.completions()[1]?.blob?.name, t.completions()[0]?.blob?.name);
      assert.equal([...sink.attempts.values()][0], 1, 'uploaded once');
    } finally {
      await t.app.stop(AbortSignal.timeout(5_000));
    }
  });

  it('a file that changed since it was announced is quarantined at once, not retried', async () => {
    const sink = new ScriptedSink(() => new EdgeMLError('INPUT_MALFORMED', 'source SHA-256 differs'));
    const t = await run(sink, { maxAttempts: 5 }, 1);
    try {
      assert.ok(await t.app.idle(5_000));
      assert.equal(t.completions()[0]?.code, 'INPUT_MALFORMED');
      assert.equal([...sink.attempts.values()][0], 1);
    } finally {
      await t.app.stop(AbortSignal.timeout(5_000));
    }
  });
});
