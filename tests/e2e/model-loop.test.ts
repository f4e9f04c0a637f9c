/**
 * The model loop (`npm run loop`, #16 and #17) end to end on one machine, with a real retraining:
 * telemetry CSVs in → the uploader's table dataset (Parquet + MLTable) in Azurite → the training
 * component (training/) fits a new telemetry anomaly model on it → `edgeml model push` to the CNCF
 * distribution registry → the ModelRegistered handler patches the inferencer twin with a shadow rollout
 * pinned by digest → the candidate agrees on live windows and is promoted → the last files' results
 * come from it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runModelLoop } from '@edgeml/deploy-tools';
import { bundledAnomalyModel } from '@edgeml/inferencer';
import { sha256 } from '@edgeml/shared';
import { quietLogger, repoRoot } from '../helpers/suite.js';

describe('e2e: the model loop retrains the telemetry anomaly model on the uploaded data and promotes it', function () {
  this.timeout(10 * 60_000);

  it('uploaded table dataset → training component → registry → shadow rollout → promoted → results from the new model', async () => {
    const workDir = await mkdtemp(path.join(tmpdir(), 'edgeml-loop-'));
    const lines: string[] = [];
    try {
      const summary = await runModelLoop({ repoRoot, workDir, files: 3, model: 'anomaly', logger: quietLogger, env: process.env, say: (l) => lines.push(l), signal: AbortSignal.timeout(9 * 60_000) });
      for (const l of lines) process.stdout.write(`      ${l.slice(0, 200)}\n`);
      assert.equal(summary.rollout['state'], 'promoted', JSON.stringify(summary.rollout));
      assert.ok(summary.ok, JSON.stringify(summary));
      // The trainer fitted the uploaded Parquet through its MLTable: a new model, its provenance the dataset folder.
      const manifest = JSON.parse(await readFile(path.join(workDir, 'trained', 'manifest.json'), 'utf8')) as { name: string; version: string; sha256: string; provenance?: { dataset?: { uri?: string } } };
      const bundled = bundledAnomalyModel();
      assert.deepEqual([manifest.name, manifest.version], [bundled.manifest.name, '2']);
      assert.equal(manifest.sha256, sha256(await readFile(path.join(workDir, 'trained', 'model.onnx'))));
      assert.notEqual(manifest.sha256, sha256(bundled.bytes), 'the model was fitted on the data, not the bundled one copied');
      assert.match(manifest.provenance?.dataset?.uri ?? '', /^azurite:\/\/edgeml\/table-[0-9a-f]{8}$/);
      assert.ok(lines.some((l) => l.startsWith('4. trained:') && l.includes('training component')), lines.join('\n'));
      // Results before came from version 1, after from the promoted version 2 (pinned by the pushed digest).
      assert.ok(Object.keys(summary.resultsBefore).length > 0 && Object.keys(summary.resultsBefore).every((k) => k.startsWith(`${bundled.manifest.name}@1 `)), JSON.stringify(summary.resultsBefore));
      const after = Object.entries(summary.resultsAfter);
      assert.ok(after.length === 1 && after[0]![0].startsWith(`${bundled.manifest.name}@2 (`) && after[0]![1] >= 3 * 5, JSON.stringify(summary.resultsAfter));
      assert.ok(summary.artifact.includes(`@sha256:`), summary.artifact);
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });
});
