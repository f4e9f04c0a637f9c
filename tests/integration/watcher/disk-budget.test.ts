import assert from 'node:assert/strict';
import { mkdir, readdir, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AlertMessage } from '@edgeml/shared';
import { removeRoot, sleepMs, startHarness, waitFor, type Harness } from './harness.js';

describe('watcher on a real directory: the disk budget (real statfs)', function () {
  this.timeout(30_000);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    if (h !== undefined) await removeRoot(h.root);
    h = undefined;
  });

  const status = (): Record<string, unknown> => h!.app.status();
  const counts = (): Record<string, number> => status()['counts'] as Record<string, number>;
  const disk = (): { belowWatermark: boolean; freeBytes: number; minFreeBytes: number } => status()['disk'] as { belowWatermark: boolean; freeBytes: number; minFreeBytes: number };

  it('below the watermark intake defers (files stay in the inbox, nothing dead-lettered); lowered under the free space, intake resumes', async () => {
    // A watermark above the free space this machine really has, whatever it is.
    const s = await statfs(process.cwd());
    const realFree = s.bavail * s.bsize;
    h = await startHarness({ desired: { minFreeBytes: Number.MAX_SAFE_INTEGER, minFreePercent: 0, diskCheckIntervalMs: 1_000, completionTimeoutMs: 1_000, maxAttempts: 1 } });
    assert.ok(disk().freeBytes > 0 && disk().freeBytes < Number.MAX_SAFE_INTEGER);
    assert.equal(disk().belowWatermark, true);
    for (let i = 0; i < 3; i++) await h.drop(`waits-${i}.jpg`, `content ${i}`);
    await waitFor(() => counts()['pending'] === 3, 5_000, 'three files stable and recorded, waiting');
    await sleepMs(2_500); // well past the stability window, a completion timeout and two disk checks
    assert.equal(h.files().length, 0, 'nothing emitted while below the watermark');
    assert.deepEqual((await readdir(h.paths.inbox)).sort(), ['waits-0.jpg', 'waits-1.jpg', 'waits-2.jpg'], 'the files stay in the inbox');
    assert.deepEqual(await readdir(h.paths.failed), [], 'nothing dead-lettered');
    assert.equal(status()['intakeDeferred'], true);
    const lowAlerts = (): AlertMessage[] => h!.edge.sentTo('alerts').map((m) => m.json as AlertMessage).filter((a) => a.code === 'DISK_LOW');
    assert.equal(lowAlerts().length, 1, 'one alert for the episode');
    await waitFor(() => (h!.edge.reported['status'] as { disk?: { belowWatermark: boolean } | null } | undefined)?.disk?.belowWatermark === true, 5_000, 'the reported property');
    const metrics = await (await fetch(`http://127.0.0.1:${h.running.ops.port}/metrics`)).text();
    assert.match(metrics, /edgeml_watcher_disk_below_watermark\{[^}]*\} 1\n/);

    // Lowered below what is free: intake resumes and the waiting files go out.
    h.edge.pushDesired({ kind: 'patch', properties: { $version: 2, minFreeBytes: Math.floor(realFree / 4) } });
    await waitFor(() => h!.files().length === 3, 5_000, 'the three files emitted once intake resumes');
    assert.equal(disk().belowWatermark, false);
    assert.equal(status()['intakeDeferred'], false);
    assert.equal(lowAlerts().length, 1);
    assert.deepEqual(await readdir(h.paths.failed), []);
  });

  it('reports what staging holds in getStatus, the counts and the metrics', async () => {
    h = await startHarness({ desired: { diskCheckIntervalMs: 1_000, minFreeBytes: 0, minFreePercent: 0 } });
    const staging = path.join(h.root, 'staging', 'a1');
    await mkdir(staging, { recursive: true });
    await writeFile(path.join(staging, 'tensor.npy'), Buffer.alloc(4096));
    await writeFile(path.join(staging, 'artifact.webp'), Buffer.alloc(100));
    await waitFor(() => (status()['staging'] as { bytes: number } | null)?.bytes === 4196, 5_000, 'staging measured');
    const payload = (await h.edge.invoke('getStatus', null)).payload as { staging: { files: number; bytes: number }; counts: Record<string, number> };
    assert.deepEqual([payload.staging.files, payload.staging.bytes], [2, 4196]);
    assert.deepEqual([payload.counts['stagingFiles'], payload.counts['stagingBytes']], [2, 4196]);
    const metrics = await (await fetch(`http://127.0.0.1:${h.running.ops.port}/metrics`)).text();
    assert.match(metrics, /edgeml_watcher_staging_bytes\{[^}]*\} 4196\n/);
  });
});
