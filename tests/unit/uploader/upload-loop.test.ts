/**
 * The upload loop built alone, around the real queue and a scripted sink: what it commits, and in
 * which order against the file it deletes.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMemoryEdgeClient, dataPaths, Registry, type DataPaths } from '@edgeml/shared';
import {
  Acknowledger,
  createLogOnce,
  DatasetWriter,
  DurableQueue,
  HardExampleQuota,
  md5Base64,
  Quarantine,
  QueuePolicy,
  RateLimiter,
  Settings,
  SinkState,
  UPLOADER_DEFAULTS,
  UploaderMetrics,
  UploadLoop,
  type ItemPayload,
  type PartAck,
  type UploaderContext,
  type UploadSink,
} from '@edgeml/uploader';
import { config, logger, sha } from './fixtures.js';



const okSink: UploadSink = {
  kind: 'blob',
  target: 'fake://c',
  checkAccess: () => Promise.resolve(),
  upload: (r) => Promise.resolve({ name: r.name, md5: md5Base64(Buffer.from(r.name)), sizeBytes: r.sizeBytes, outcome: 'created', bytesSent: r.sizeBytes, blocksStaged: 0, blocksSkipped: 0 }),
  close: () => Promise.resolve(),
};

describe('uploader upload loop', function () {
  this.timeout(10_000);
  let paths: DataPaths;
  beforeEach(async () => {
    paths = dataPaths(await mkdtemp(path.join(tmpdir(), 'uloop-')));
    await mkdir(paths.staging, { recursive: true });
  });
  afterEach(async () => {
    await rm(paths.root, { recursive: true, force: true });
  });

  it('commits a completion durably (FULL) before it deletes the staging file, the only local copy (regression: NORMAL commit, then delete)', async () => {
    const queue = DurableQueue.open<ItemPayload, PartAck>({ file: path.join(paths.root, 'q.sqlite'), classes: UPLOADER_DEFAULTS.classes, now: Date.now });
    const settings = new Settings();
    settings.set(config({}));
    const edge = createMemoryEdgeClient();
    const ctx: UploaderContext = {
      edge,
      logger,
      paths,
      now: () => new Date(),
      random: () => 0,
      deviceId: 'd',
      moduleId: 'uploader',
      queue,
      quarantineDir: path.join(paths.root, 'quarantine'),
      settings: () => settings.current(),
      nowMs: Date.now,
      logOnce: createLogOnce(logger, Date.now),
    };
    const metrics = new UploaderMetrics(new Registry(), queue, Date.now);
    const acks = new Acknowledger(ctx, metrics, () => undefined);
    const sink = new SinkState({ ctx, env: {}, limiter: new RateLimiter(0), factory: () => okSink, onChange: () => undefined });
    await sink.configure(settings.current());
    const loop = new UploadLoop({ ctx, sink, policy: new QueuePolicy(ctx, acks, metrics, () => undefined), acks, metrics, quarantine: new Quarantine(ctx, acks, metrics), datasets: new DatasetWriter(ctx, new HardExampleQuota(Date.now), () => okSink.target) });

    const file = path.join(paths.staging, 'x', 'a.png');
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, 'data');
    const ack: PartAck = { id: sha('s'), part: 'artifact', expectedParts: ['artifact'] };
    queue.enqueue({ key: 'a:n', cls: 'artifacts', sizeBytes: 4, payload: { type: 'file', name: 'n', file, owned: true, sizeBytes: 4, sha256: sha('data'), contentType: 'image/png', metadata: {}, ack } });
    const seen: { fileThere: boolean; durable: boolean | undefined }[] = [];
    const complete = queue.complete.bind(queue);
    queue.complete = (seq, done, options) => {
      seen.push({ fileThere: existsSync(file), durable: options?.durable });
      complete(seq, done, options);
    };
    loop.start();
    try {
      for (let i = 0; i < 100 && existsSync(file); i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(seen, [{ fileThere: true, durable: true }]);
      assert.equal(existsSync(file), false, 'deleted after the durable commit');
      assert.equal(queue.lookupDone('a:n')?.blobName, 'n');
    } finally {
      await loop.stop(AbortSignal.timeout(1_000));
      await sink.close();
      queue.close();
    }
  });
});
