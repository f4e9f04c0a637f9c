/**
 * The label switch, end to end: the whole suite runs (local edge hub, Azurite, the modules as
 * processes) while images flow in; a model with other labels is published to a real registry with
 * `edgeml model push`, the inferencer's twin is patched with its digest through `edgeml twin set`,
 * and the results switch to the new labels — every file completed, none dead-lettered or failed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { renderTextImage, watcherCounts } from '@edgeml/runtime';
import { COLOUR_LABELS, writeColourPackage } from '../helpers/colour-model.js';
import { runEdgeml, startTestRegistry, type TestRegistry } from '../helpers/registry.js';
import { RESULT_SCHEMA, dropFile, readJournal, startSuite, waitFor, type SuiteHandle } from '../helpers/suite.js';

const PER_BATCH = Number(process.env['EDGEML_REGISTRY_E2E_FILES'] ?? 6);

describe('e2e: a model with other labels comes from the registry while files flow', function () {
  this.timeout(10 * 60_000);
  let registry: TestRegistry;
  let suite: SuiteHandle;
  let work: string;

  before(async () => {
    registry = await startTestRegistry();
    work = await mkdtemp(path.join(tmpdir(), 'edgeml-registry-e2e-'));
    suite = await startSuite('edgeml-registry-e2e-suite-');
  });
  after(async () => {
    await suite?.close();
    await registry?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('pushes, pins the digest in the twin, and the results switch labels with no lost or failed item', async () => {
    const rt = suite.runtime;
    const names: string[] = [];
    const drop = async (batch: string): Promise<void> => {
      for (let i = 0; i < PER_BATCH; i++) {
        const name = `${batch}-${i}.png`;
        await dropFile(rt, name, await renderTextImage(`${batch} line ${i}`, { rotate180: i % 3 === 0, width: 320 + i * 10 }));
        names.push(name);
      }
    };
    const journal = async () => (await readJournal(rt.hub.upstreamJournalFile)).filter((r) => r.body.schema === RESULT_SCHEMA && r.body.part === 'result:cls');
    await drop('before');
    await waitFor(async () => (await journal()).length >= 2, 240_000, 'first classifications on $upstream');

    const pushed = await runEdgeml(['model', 'push', await writeColourPackage(work, '1'), '--registry', registry.host, '--repository', 'edgeml/models/colour-cls', '--tag', '1']);
    assert.equal(pushed.code, 0, pushed.stderr);
    const digest = pushed.json!['digest'] as string;
    const reference = pushed.json!['reference'] as string;

    // Files keep arriving while the twin changes.
    const during = drop('during');
    // The manifest leaves `models` to the module's default map, which a patch replaces as a whole: name every
    // profile (the OCR chain's reader included).
    const models = { cls: { name: 'colour-cls', version: '1', artifact: reference }, det: { name: 'paddleocr-det', version: '1' }, rec: { name: 'paddleocr-rec', version: '1' } };
    const patched = await runEdgeml(['--workdir', suite.workDir, 'twin', 'set', 'inferencer', `models=${JSON.stringify(models)}`]);
    assert.equal(patched.code, 0, patched.stderr);
    await during;
    const servingDigest = (): string | undefined => ((rt.hub.getTwin('inferencer').reported['models'] as Record<string, { digest?: string }> | undefined)?.['cls'])?.digest;
    await waitFor(() => servingDigest() === digest, 180_000, 'the inferencer serves the pushed digest');
    const modelReport = (rt.hub.getTwin('inferencer').reported['models'] as Record<string, { artifact: { reference: string; source: string } }>)['cls']!;
    assert.deepEqual({ reference: modelReport.artifact.reference, source: modelReport.artifact.source }, { reference, source: 'registry' });
    await drop('after');

    await waitFor(
      async () => {
        const status = await rt.hub.invokeMethod('watcher', 'getStatus', null, { responseTimeoutMs: 10_000 });
        const c = watcherCounts(status.payload);
        return c !== undefined && c.completed + c.deadLettered >= names.length && c.inFlight === 0 && c.pending === 0;
      },
      420_000,
      'every file completed',
    );
    const status = await rt.hub.invokeMethod('watcher', 'getStatus', null, { responseTimeoutMs: 10_000 });
    const counts = watcherCounts(status.payload)!;
    assert.equal(counts.deadLettered, 0, 'no file dead-lettered');
    assert.equal(counts.completed, names.length, 'no file lost');

    const results = await journal();
    const byFile = new Map<string, { label: string; digest: string | undefined; name: string }[]>();
    for (const r of results) {
      const file = path.posix.basename(r.body.source!.path);
      const list = byFile.get(file) ?? [];
      list.push({ label: String(r.body.outputs?.['label']), digest: r.body.model?.digest, name: String(r.body.model?.name) });
      byFile.set(file, list);
    }
    for (const name of names) assert.ok(byFile.has(name), `a classification result for ${name}`);
    for (const name of names.filter((n) => n.startsWith('before-'))) {
      assert.ok(byFile.get(name)!.every((r) => r.name === 'paddleocr-cls' && (r.label === '0' || r.label === '180')), `${name}: ${JSON.stringify(byFile.get(name))}`);
    }
    for (const name of names.filter((n) => n.startsWith('after-'))) {
      assert.ok(byFile.get(name)!.every((r) => r.digest === digest && (COLOUR_LABELS as readonly string[]).includes(r.label)), `${name}: ${JSON.stringify(byFile.get(name))}`);
    }
    const alerts = (await readJournal(rt.hub.upstreamJournalFile)).filter((r) => r.body.schema === 'edgeml.alert/v1' && r.body.module === 'inferencer');
    assert.deepEqual(alerts.map((a) => a.body.code), [], 'the inferencer raised no alert');
  });
});
