import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, createMemoryEdgeClient, dataPaths, Registry, type AlertMessage } from '@edgeml/shared';
import { createLimitedLog, createWatcherMetrics, DiskBudget, parseWatcherConfig, stagingUsage, type VolumeStats } from '@edgeml/watcher';

const GiB = 1024 ** 3;

describe('watcher/disk-budget: the free-space watermark (injected statfs)', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'edgeml-disk-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  function build(desired: Record<string, unknown>, volume: () => VolumeStats | Error) {
    const edge = createMemoryEdgeClient({ moduleId: 'watcher' });
    const log = createLogger({ name: 'test', level: 'silent' });
    const registry = new Registry();
    const metrics = createWatcherMetrics(registry);
    const changes: boolean[] = [];
    let t = 1_000_000;
    let config = parseWatcherConfig(desired);
    const budget = new DiskBudget({
      paths: dataPaths(root),
      statVolume: () => {
        const v = volume();
        return v instanceof Error ? Promise.reject(v) : Promise.resolve(v);
      },
      edge,
      log,
      limited: createLimitedLog(log),
      metrics,
      now: () => (t += 1000),
      config: () => config,
      onChange: (below) => changes.push(below),
    });
    const alerts = (): AlertMessage[] => edge.sentTo('alerts').map((m) => m.json as AlertMessage);
    const metric = async (name: string): Promise<string> => (await registry.metrics()).split('\n').find((l) => l.startsWith(name)) ?? '';
    return { budget, changes, alerts, metric, setConfig: (d: Record<string, unknown>) => (config = parseWatcherConfig(d)) };
  }

  it('defers below either threshold, resumes only 10 % above it, and alerts once per episode', async () => {
    let free = 10 * GiB;
    const d = build({ minFreeBytes: 2 * GiB, minFreePercent: 5 }, () => ({ freeBytes: free, totalBytes: 100 * GiB }));
    await d.budget.check();
    assert.equal(d.budget.intakeOpen, true);
    free = 1.9 * GiB; // below the bytes threshold (and 1.9 % < 5 %)
    await d.budget.check();
    assert.equal(d.budget.intakeOpen, false);
    assert.equal(d.budget.status().belowWatermark, true);
    assert.match(await d.metric('edgeml_watcher_disk_below_watermark'), / 1$/);
    for (const f of [1.5, 3, 5.4]) {
      free = f * GiB; // 5.4 GiB is 5.4 % — above 5 %, not yet 10 % above
      await d.budget.check();
      assert.equal(d.budget.intakeOpen, false, `still deferred at ${f} GiB`);
    }
    free = 5.6 * GiB;
    await d.budget.check();
    assert.equal(d.budget.intakeOpen, true, 'resumed 10 % above the watermark');
    free = 4 * GiB; // below the percentage only
    await d.budget.check();
    assert.equal(d.budget.intakeOpen, false);
    assert.deepEqual(d.changes, [true, false, true], 'one change per flip');
    assert.deepEqual(
      d.alerts().map((a) => [a.code, a.severity]),
      [
        ['DISK_LOW', 'warning'],
        ['DISK_LOW', 'warning'],
      ],
      'one alert per episode',
    );
    assert.match(await d.metric('edgeml_watcher_disk_free_bytes'), new RegExp(` ${4 * GiB}$`));
  });

  it('a threshold of 0 is off; a failed statfs keeps the current state (unknown is not full)', async () => {
    let answer: VolumeStats | Error = { freeBytes: 0, totalBytes: 100 };
    const d = build({ minFreeBytes: 0, minFreePercent: 0 }, () => answer);
    await d.budget.check();
    assert.equal(d.budget.intakeOpen, true, 'a full disk with both thresholds off still takes files');
    d.setConfig({ minFreeBytes: 10 });
    await d.budget.check();
    assert.equal(d.budget.intakeOpen, false);
    answer = Object.assign(new Error('EIO'), { code: 'EIO' });
    await d.budget.check();
    assert.equal(d.budget.intakeOpen, false, 'still deferred: the last known state holds');
    assert.equal(d.alerts().length, 1);
  });

  it('measures staging: regular files and bytes in every subfolder, symlinks not followed', async () => {
    const staging = dataPaths(root).staging;
    await mkdir(path.join(staging, 'ab', 'cd'), { recursive: true });
    await writeFile(path.join(staging, 'ab', 'one.npy'), Buffer.alloc(1000));
    await writeFile(path.join(staging, 'ab', 'cd', 'two.parquet'), Buffer.alloc(234));
    await symlink('/etc/hostname', path.join(staging, 'ab', 'link'));
    assert.deepEqual(await stagingUsage(staging), { files: 2, bytes: 1234, truncated: false });
    assert.deepEqual(await stagingUsage(path.join(root, 'absent')), { files: 0, bytes: 0, truncated: false });
    assert.equal((await stagingUsage(staging, 2)).truncated, true, 'bounded');
    const d = build({}, () => ({ freeBytes: 100 * GiB, totalBytes: 200 * GiB }));
    await d.budget.check();
    assert.deepEqual(
      (({ files, bytes }) => ({ files, bytes }))(d.budget.staging()!),
      { files: 2, bytes: 1234 },
    );
    assert.match(await d.metric('edgeml_watcher_staging_bytes'), / 1234$/);
    assert.match(await d.metric('edgeml_watcher_staging_files'), / 2$/);
  });
});
