import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LOOP_SUBJECTS, tableDatasets } from '@edgeml/deploy-tools';

describe('model loop subjects', () => {
  it('finds the uploader table datasets (table-<hash> folders with an MLTable) in the copied uploads, and nothing else', async () => {
    const data = await mkdtemp(path.join(tmpdir(), 'edgeml-loop-data-'));
    try {
      assert.deepEqual(await tableDatasets(path.join(data, 'missing')), []);
      for (const dir of ['edgeml/table-0a1b2c3d', 'edgeml/table-ffffffff', 'edgeml/image', 'edgeml/results', 'other/table-12345678']) await mkdir(path.join(data, dir), { recursive: true });
      await writeFile(path.join(data, 'edgeml/table-0a1b2c3d/MLTable'), 'paths: []\n');
      await writeFile(path.join(data, 'edgeml/image/MLTable'), 'paths: []\n');
      await writeFile(path.join(data, 'other/table-12345678/MLTable'), 'paths: []\n');
      // table-ffffffff has no MLTable (its first commit not done yet): not a dataset to train on.
      assert.deepEqual(await tableDatasets(data), [path.join(data, 'edgeml/table-0a1b2c3d'), path.join(data, 'other/table-12345678')]);
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  });

  it('refuses to train the anomaly model on anything but exactly one table dataset, naming what it found', async () => {
    const data = await mkdtemp(path.join(tmpdir(), 'edgeml-loop-data-'));
    try {
      const train = (): Promise<void> => LOOP_SUBJECTS.anomaly.train({ repoRoot: '/nonexistent', data, output: path.join(data, 'out'), version: '2', uploadedBlobs: 0, env: {}, signal: new AbortController().signal });
      await assert.rejects(train(), /expected one table dataset .* found 0: none/);
      for (const h of ['00000001', '00000002']) {
        await mkdir(path.join(data, 'edgeml', `table-${h}`), { recursive: true });
        await writeFile(path.join(data, 'edgeml', `table-${h}`, 'MLTable'), 'paths: []\n');
      }
      await assert.rejects(train(), /found 2: .*table-00000001, .*table-00000002/);
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  });

  it('tells each subject its results and the items a phase gives the rollout', () => {
    assert.deepEqual([LOOP_SUBJECTS.anomaly.isResultPart('result:anomaly.w3'), LOOP_SUBJECTS.anomaly.isResultPart('result:cls')], [true, false]);
    assert.deepEqual([LOOP_SUBJECTS.cls.isResultPart('result:cls'), LOOP_SUBJECTS.cls.isResultPart('result:det')], [true, false]);
    assert.deepEqual([LOOP_SUBJECTS.anomaly.itemsPerPhase(3), LOOP_SUBJECTS.cls.itemsPerPhase(3)], [15, 3]);
  });
});
