/**
 * Offline-first (#15): staging is emptied of tensors. `npm start -- --until-idle` on the sample data plus
 * 40 more images (the issue's own run left 80 tensor files, 201 MB, behind): afterwards `data/staging/`
 * holds no tensor, because the inferencer removes each one once its result is persisted (or it was
 * dead-lettered or deferred).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateSamples, renderTextImage } from '@edgeml/runtime';
import { runUntilIdle } from '../helpers/suite.js';

async function filesUnder(dir: string): Promise<{ name: string; bytes: number }[]> {
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  const out: { name: string; bytes: number }[] = [];
  for (const name of names) {
    const st = await stat(path.join(dir, name)).catch(() => undefined);
    if (st?.isFile() === true) out.push({ name, bytes: st.size });
  }
  return out;
}

describe('e2e: staging holds no tensor after a run (npm start -- --until-idle)', function () {
  this.timeout(20 * 60_000);

  it('the sample data plus 40 more images: every file completed, no .npy left in data/staging', async () => {
    const workDir = await mkdtemp(path.join(tmpdir(), 'edgeml-e2e-staging-'));
    try {
      const inbox = path.join(workDir, 'data', 'share', 'inbox');
      await mkdir(inbox, { recursive: true });
      // What an empty inbox gets (12 images and a CSV), plus 40 more images: a non-empty inbox gets no samples.
      await generateSamples(inbox);
      for (let i = 0; i < 40; i++) await writeFile(path.join(inbox, `extra-${String(i).padStart(2, '0')}.${i % 2 === 0 ? 'png' : 'jpg'}`), await renderTextImage(`Extra ${i} lot ${i * 7}`, { rotate180: i % 5 === 4, format: i % 2 === 0 ? 'png' : 'jpeg' }));
      const { code, stdout, stderr, summary: s } = await runUntilIdle(workDir, 900);
      assert.equal(code, 0, `runtime exited ${code}\nstdout:\n${stdout.slice(-4000)}\nstderr:\n${stderr.slice(-4000)}`);
      const summary = s!;
      assert.equal(summary.filesSeen, 53, JSON.stringify(summary));
      assert.equal(summary.completed, 53, JSON.stringify(summary));
      assert.equal(summary.deadLettered, 0, JSON.stringify(summary.deadLetteredByReason));
      // A classification and a detection per image, then the OCR chain's orientation and reading per crop.
      assert.ok(summary.inferred >= 52 * 2, `at least a classification and a detection result for each of the 52 images: ${summary.inferred}`);
      assert.equal(summary.chainResults, 52, 'one text-reading result per image');
      // The progress lines carry each stage's items/s over the last minute (getStatus `activity`): every stage showed work.
      const peak = new Map<string, number>();
      for (const m of stdout.matchAll(/(\w+):running\([^)]* (\d+\.\d\d)\/s\)/g)) peak.set(m[1]!, Math.max(peak.get(m[1]!) ?? 0, Number(m[2])));
      process.stdout.write(`      peak items/s per stage in the progress lines: ${JSON.stringify(Object.fromEntries(peak))}\n`);
      for (const stage of ['watcher', 'transformer', 'inferencer', 'aggregator', 'uploader']) assert.ok((peak.get(stage) ?? 0) > 0, `${stage} showed a rate above 0 in a progress line`);
      const staging = await filesUnder(path.join(workDir, 'data', 'staging'));
      const tensors = staging.filter((f) => f.name.endsWith('.npy'));
      process.stdout.write(`      staging after the run: ${staging.length} files, ${staging.reduce((n, f) => n + f.bytes, 0)} bytes (${tensors.length} tensors)\n`);
      assert.deepEqual(tensors, [], 'no tensor left in data/staging');
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });
});
