/**
 * Staged rollouts on the real inferencer, with candidates pulled from the real registry: a shadow
 * candidate that disagrees is rolled back by itself, one that agrees is promoted (and stays
 * promoted across a restart); a canary candidate serves its fraction, and an error spike rolls it
 * back at once with no item failed. Each step is in reported properties and on the `rollout`
 * output (routed to $upstream) with its figures; every result names the model that produced it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sleep } from '@edgeml/shared';
import { startInferencer, type Harness } from '../inferencer/support.js';
import { unaryModel } from '../../helpers/onnx.js';
import { runEdgeml, startTestRegistry, writePackageDir, type TestRegistry } from '../../helpers/registry.js';
import { vecManifest, vectorTensor } from '../../helpers/vector-tensors.js';

interface RolloutState {
  state: string;
  mode: string;
  candidate: { name: string; version: string; digest: string };
  figures: { items: number; agreement: number | null; errorRate: number | null; candidateErrors: number; latencyRatio: number | null };
  reason: string | null;
}

describe('staged rollout: shadow and canary with automatic promotion or rollback', function () {
  this.timeout(180_000);
  let registry: TestRegistry;
  let work: string;
  const digests: Record<string, string> = {};
  let h: Harness | undefined;
  let root: string;
  let seq = 0;

  const push = async (tag: string, model: Buffer, version: string, extra: Record<string, unknown> = {}): Promise<string> => {
    const { schema: _s, ...manifest } = vecManifest('vec-model', version, undefined, extra);
    const dir = await writePackageDir(path.join(work, tag), model, manifest);
    const r = await runEdgeml(['model', 'push', dir, '--registry', registry.host, '--repository', 'edgeml/models/vec', '--tag', tag]);
    assert.equal(r.code, 0, r.stderr);
    return `${registry.host}/edgeml/models/vec@${String(r.json!['digest'])}`;
  };

  before(async () => {
    registry = await startTestRegistry();
    work = await mkdtemp(path.join(tmpdir(), 'edgeml-rollout-'));
    root = path.join(work, 'data');
    digests['live'] = await push('v1', unaryModel('Identity', ['N', 4]), '1');
    digests['same'] = await push('v2', unaryModel('Identity', ['N', 4]), '2');
    digests['opposite'] = await push('v3', unaryModel('Neg', ['N', 4]), '3');
    // sqrt(x): fine on the warm-up's zeros, NaN on negative inputs: a candidate that breaks in service.
    digests['broken'] = await push('v4', unaryModel('Sqrt', ['N', 4]), '4');
  });
  after(async () => {
    await h?.close();
    await registry?.close();
    await rm(work, { recursive: true, force: true });
  });

  const rollout = (): RolloutState => (h!.client.reported['rollout'] as Record<string, RolloutState>)['vec']!;
  const events = (): Record<string, unknown>[] => h!.client.sentTo('rollout').map((m) => m.json as Record<string, unknown>);
  /** Sends n tensors (each with a clear maximum, so a classifier's label is well defined) and waits for their results. */
  const flow = async (n: number, values?: (i: number) => number[]): Promise<Record<string, unknown>[]> => {
    const msgs = await Promise.all(Array.from({ length: n }, (_, i) => vectorTensor(h!.root, 'vec', values?.(i) ?? [0, 1, 2, 3].map((v) => (v === (seq + i) % 4 ? 5 : v / 10)), `item-${seq + i}`)));
    seq += n;
    const before = h!.completions().length;
    await Promise.all(msgs.map((m) => h!.client.deliver('tensors', m)));
    const results = msgs.map((m) => h!.results().find((r) => r['id'] === m.id));
    assert.ok(results.every((r) => r !== undefined), 'every item has a result');
    assert.equal(h!.completions().length, before, 'no item dead-lettered or deferred');
    return results as Record<string, unknown>[];
  };
  const waitFor = async (what: string, check: () => boolean): Promise<void> => {
    // Bounded generously: under a loaded CI machine a promotion (the candidate becoming live) took over 5 s.
    for (const deadline = Date.now() + 30_000; Date.now() < deadline && !check(); ) await sleep(50);
    assert.ok(check(), what);
  };
  const digestOfResult = (r: Record<string, unknown>): string => (r['model'] as { digest: string }).digest;

  it('a shadow candidate that disagrees is rolled back by itself; its results are never sent', async () => {
    h = await startInferencer({ models: { vec: { artifact: digests['live'] } } }, root);
    const live = digests['live']!.split('@')[1]!;
    const report = await h.patch({ rollout: { vec: { mode: 'shadow', candidate: { artifact: digests['opposite'] }, fraction: 1, minItems: 24, minAgreement: 0.9 } } });
    assert.equal(report.status, 'applied', JSON.stringify(report.problems));
    assert.equal(rollout().state, 'shadow');
    const results = await flow(40);
    assert.ok(results.every((r) => digestOfResult(r) === live), 'shadow results are not sent: every result is the live model');
    // Each result carries the candidate's answer beside it (a hard example where they disagree).
    const comparison = results[0]!['comparison'] as { mode: string; agrees: boolean; model: { digest: string } };
    assert.deepEqual({ mode: comparison.mode, agrees: comparison.agrees, digest: comparison.model.digest }, { mode: 'shadow', agrees: false, digest: digests['opposite']!.split('@')[1] });
    await waitFor('rolled back', () => rollout().state === 'rolledBack');
    const r = rollout();
    assert.ok(r.figures.items >= 24);
    assert.ok(r.figures.agreement !== null && r.figures.agreement < 0.9, JSON.stringify(r.figures));
    assert.match(r.reason ?? '', /agreement/);
    const kinds = events().map((e) => e['event']);
    assert.deepEqual([kinds[0], kinds.at(-1)], ['started', 'rolledBack']);
    const last = events().at(-1)!;
    assert.equal((last['candidate'] as { digest: string }).digest, digests['opposite']!.split('@')[1]);
    assert.equal((last['live'] as { digest: string }).digest, live);
    assert.ok(typeof (last['figures'] as { agreement: number }).agreement === 'number');
    assert.ok(h.alerts().some((a) => a['code'] === 'ROLLOUT_ROLLED_BACK'));
    assert.equal((h.client.reported['models'] as Record<string, { digest: string }>)['vec']!.digest, live, 'the live model keeps serving');
    assert.ok((await flow(4)).every((x) => digestOfResult(x) === live));
  });

  it('a shadow candidate that agrees is promoted, results switch to it, and the promotion survives a restart', async () => {
    const same = digests['same']!.split('@')[1]!;
    const report = await h!.patch({ rollout: { vec: { mode: 'shadow', candidate: { artifact: digests['same'] }, fraction: 0.5, minItems: 20 } } });
    assert.equal(report.status, 'applied', JSON.stringify(report.problems));
    for (let i = 0; i < 10 && rollout().state === 'shadow'; i++) await flow(10);
    await waitFor('promoted', () => rollout().state === 'promoted');
    const r = rollout();
    assert.equal(r.figures.agreement, 1);
    assert.equal(r.candidate.digest, same);
    const kinds = events().map((e) => e['event']).filter((_k, i, all) => i >= all.lastIndexOf('started'));
    assert.equal(kinds[0], 'started');
    assert.ok(kinds.includes('progress'), `progress events: ${kinds.join(',')}`);
    assert.equal(kinds.at(-1), 'promoted');
    assert.equal((h!.client.reported['models'] as Record<string, { digest: string }>)['vec']!.digest, same);
    assert.ok((await flow(6)).every((x) => digestOfResult(x) === same && (x['model'] as { version: string }).version === '2'));

    await h!.close();
    h = await startInferencer({ models: { vec: { artifact: digests['live'] } }, rollout: { vec: { mode: 'shadow', candidate: { artifact: digests['same'] }, fraction: 0.5, minItems: 20 } } }, root);
    assert.equal(rollout().state, 'promoted', 'the verdict is kept on disk');
    assert.equal(h.client.sentTo('rollout').length, 0, 'no new rollout after the restart');
    assert.ok((await flow(3)).every((x) => digestOfResult(x) === same));
  });

  it('a canary serves its fraction; an error spike rolls it back at once and no item fails', async () => {
    // Back to the first model, then a canary of the candidate that returns NaN on negative inputs.
    await h!.patch({ models: { vec: { artifact: digests['same'] } }, rollout: { vec: null } });
    const same = digests['same']!.split('@')[1]!;
    const canary = await h!.patch({ rollout: { vec: { mode: 'canary', candidate: { artifact: digests['identityCanary'] ?? (digests['identityCanary'] = await push('v5', unaryModel('Identity', ['N', 4]), '5')) }, fraction: 0.5, minItems: 1000 } } });
    assert.equal(canary.status, 'applied', JSON.stringify(canary.problems));
    const served = await flow(40);
    const byDigest = new Map<string, number>();
    for (const r of served) byDigest.set(digestOfResult(r), (byDigest.get(digestOfResult(r)) ?? 0) + 1);
    const canaryDigest = digests['identityCanary']!.split('@')[1]!;
    assert.ok((byDigest.get(canaryDigest) ?? 0) > 5 && (byDigest.get(same) ?? 0) > 5, `both models serve: ${JSON.stringify([...byDigest])}`);
    assert.equal(rollout().state, 'canary');
    const served1 = served.find((r) => digestOfResult(r) === canaryDigest)!;
    assert.deepEqual(served1['comparison'], { mode: 'canary', agrees: true, model: { name: 'vec-model', version: '2', sha256: (served1['model'] as { sha256: string }).sha256, digest: same }, label: (served1['outputs'] as { label: string }).label, score: (served1['comparison'] as { score: number }).score });

    const spike = await h!.patch({ rollout: { vec: { mode: 'canary', candidate: { artifact: digests['broken'] }, fraction: 1, minItems: 1000, maxConsecutiveErrors: 5 } } });
    assert.equal(spike.status, 'applied', JSON.stringify(spike.problems));
    const negatives = await flow(12, (i) => [-1, -2, -3, -4].map((v, k) => (k === i % 4 ? 1 : v)));
    assert.ok(negatives.every((r) => digestOfResult(r) === same), 'a failed canary item is answered by the live model');
    await waitFor('rolled back on the spike', () => rollout().state === 'rolledBack');
    assert.match(rollout().reason ?? '', /error spike/);
    assert.ok(rollout().figures.items < 1000, 'decided before minItems');
  });
});
