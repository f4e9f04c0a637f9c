/**
 * Hostile and broken input against the real module: bad tensor files and messages are dead-lettered
 * with a completion and an alert carrying the reason, hostile twin patches are rejected with every
 * problem, and the module keeps serving throughout.
 */
import assert from 'node:assert/strict';
import { rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SCHEMAS, parseMessage } from '@edgeml/shared';
import { encodeNpy } from '@edgeml/inferencer';
import { preprocessCls, renderText, restoreTensor, sha256Hex, startInferencer, tensorCopy, writeTensor, type Harness } from './support.js';

describe('inferencer input handling with the real runtime', function () {
  this.timeout(60_000);
  let h: Harness;
  let good: Awaited<ReturnType<typeof writeTensor>>;
  let goodData: { data: Float32Array; shape: number[] };
  let seed = 0;

  before(async () => {
    h = await startInferencer({ models: { cls: { name: 'paddleocr-cls', version: '1' } } });
    const img = await renderText(220, 40, [{ text: 'still serving', x: 6, y: 29, fontSize: 26 }]);
    goodData = await preprocessCls(img);
    good = await writeTensor(h.root, { profile: 'cls', ...goodData, seed: 'good' });
  });
  after(async () => {
    await h.close();
  });

  const stillServes = async (): Promise<void> => {
    const id = sha256Hex(`alive-${seed++}`);
    await h.client.deliver('tensors', await tensorCopy(h.root, good, id));
    assert.ok(h.results().some((r) => r['id'] === id), 'the module still serves');
  };

  /** Delivers `msg` and returns the completion and alert it caused. */
  const deadLettered = async (msg: unknown): Promise<{ completion: Record<string, unknown> | undefined; alert: Record<string, unknown> }> => {
    const c0 = h.completions().length;
    const a0 = h.alerts().length;
    const r0 = h.results().length;
    await h.client.deliver('tensors', msg as object);
    assert.equal(h.results().length, r0, 'no result');
    const alert = h.alerts()[a0];
    assert.ok(alert, 'an alert');
    assert.equal(h.alerts().length, a0 + 1);
    const completion = h.completions()[c0];
    if (completion !== undefined) parseMessage(JSON.stringify(completion), SCHEMAS.completion);
    return { completion, alert };
  };

  const expectDeadLetter = async (msg: Awaited<ReturnType<typeof writeTensor>>, code: string, reason: RegExp): Promise<void> => {
    const { completion, alert } = await deadLettered(msg);
    assert.ok(completion, 'a completion');
    assert.equal(completion['outcome'], 'deadLettered');
    assert.equal(completion['part'], msg.part);
    assert.deepEqual(completion['expectedParts'], msg.expectedParts);
    assert.equal(completion['id'], msg.id);
    assert.equal(completion['code'], code, String(completion['reason']));
    assert.match(String(completion['reason']), reason);
    assert.equal(alert['code'], code);
    assert.equal(alert['id'], msg.id);
    await stillServes();
  };

  it('a missing tensor file (staging is the suite\'s own area) is deferred back to the watcher, not dead-lettered', async () => {
    const msg = await writeTensor(h.root, { profile: 'cls', ...goodData, seed: 'missing' });
    await rm(path.join(h.root, msg.tensor.path));
    const r0 = h.results().length;
    const c0 = h.completions().length;
    const a0 = h.alerts().length;
    await h.client.deliver('tensors', msg);
    assert.equal(h.results().length, r0, 'no result');
    assert.equal(h.alerts().length, a0, 'not a dead letter: no alert');
    const c = h.completions()[c0]!;
    parseMessage(JSON.stringify(c), SCHEMAS.completion);
    assert.deepEqual([c['outcome'], c['code'], c['part'], c['retryAfterMs']], ['deferred', 'FILE_NOT_FOUND', msg.part, 5_000]);
    assert.match(String(c['reason']), /is missing/);
    await stillServes();
  });

  it('a truncated tensor file is dead-lettered with a reason', async () => {
    const msg = await writeTensor(h.root, { profile: 'cls', ...goodData, seed: 'truncated', fileBytes: (b) => b.subarray(0, b.length - 1000) });
    await expectDeadLetter(msg, 'INPUT_MALFORMED', /truncated/);
    // Truncated and the message's hash updated to match: the .npy decoder still notices.
    const msg2 = await writeTensor(h.root, { profile: 'cls', ...goodData, seed: 'truncated2' });
    const cut = encodeNpy({ dtype: 'float32', shape: goodData.shape, data: goodData.data }).subarray(0, 5000);
    await writeFile(path.join(h.root, msg2.tensor.path), cut);
    await expectDeadLetter({ ...msg2, tensor: { ...msg2.tensor, sha256: sha256Hex(cut) } }, 'INPUT_MALFORMED', /truncated or padded/);
  });

  it('a tensor file whose shape differs from the message, or from the model, is dead-lettered', async () => {
    const small = { data: new Float32Array(3 * 48 * 100), shape: [1, 3, 48, 100] };
    const msg = await writeTensor(h.root, { profile: 'cls', ...small, seed: 'wrong-shape' });
    await expectDeadLetter({ ...msg, tensor: { ...msg.tensor, shape: [1, 3, 48, 192] } }, 'TENSOR_MISMATCH', /holds float32\[1,3,48,100\]/);
    // A dead-lettered tensor's file is removed from staging too.
    await assert.rejects(stat(path.join(h.root, msg.tensor.path)), { code: 'ENOENT' });
    await restoreTensor(h.root, msg);
    await expectDeadLetter(msg, 'TENSOR_MISMATCH', /does not fit the model input/);
    const batch = await writeTensor(h.root, { profile: 'cls', data: new Float32Array(2 * 3 * 48 * 192), shape: [2, 3, 48, 192], seed: 'two' });
    await expectDeadLetter(batch, 'TENSOR_MISMATCH', /holds 2 items/);
  });

  it('a tensor prepared with another preprocessing signature, or for an unserved profile, is refused', async () => {
    const msg = await writeTensor(h.root, { profile: 'cls', ...goodData, seed: 'sig', signature: 'pp1-0000000000000000' });
    await expectDeadLetter(msg, 'TENSOR_MISMATCH', /preprocessing signature pp1-0000000000000000 differs/);
    const det = await writeTensor(h.root, { profile: 'det', ...goodData, seed: 'det-not-served' });
    await expectDeadLetter(det, 'TENSOR_MISMATCH', /no model is configured for preprocessing profile det/);
  });

  it('a tensor path leaving the data root is refused', async () => {
    const msg = await writeTensor(h.root, { profile: 'cls', ...goodData, seed: 'escape' });
    await expectDeadLetter({ ...msg, tensor: { ...msg.tensor, path: '../../etc/passwd' } }, 'PATH_OUTSIDE_ROOT', /leaves/);
    await symlink('/etc/hostname', path.join(h.root, 'staging', 'link.npy'));
    await expectDeadLetter({ ...msg, tensor: { ...msg.tensor, path: 'staging/link.npy' } }, 'PATH_OUTSIDE_ROOT', /symlink/);
  });

  it('malformed messages are alerted (and acknowledged when they carry an id and parts)', async () => {
    const notJson = await deadLettered(Buffer.from('{not json'));
    assert.equal(notJson.completion, undefined);
    assert.equal(notJson.alert['code'], 'MESSAGE_INVALID');
    const { completion, alert } = await deadLettered({ ...good, tensor: { ...good.tensor, shape: 'big' } });
    assert.equal(alert['code'], 'MESSAGE_INVALID');
    assert.equal(completion?.['part'], good.part);
    assert.equal(completion?.['code'], 'MESSAGE_INVALID');
    const oversized = await deadLettered(Buffer.alloc(300 * 1024, 0x20));
    assert.equal(oversized.alert['code'], 'MESSAGE_TOO_LARGE');
    await stillServes();
  });

  it('hostile twin patches are rejected with every problem, and the configuration stays', async () => {
    const before = JSON.stringify(h.running.binder.current());
    const hostile: Record<string, unknown>[] = [
      { maxBatchSize: 0, maxQueueDelayMs: -1, executionProvider: 'tpu' },
      { maxBatchSize: '8' },
      { unknownKnob: true },
      { models: { 'CLS!': { name: 'x', version: '1' } } },
      { models: { cls: { name: '../../etc', version: '1' } } },
      { models: { cls: { name: 'paddleocr-cls', version: '1', uri: 'file:///etc/passwd' } } },
      { models: { cls: { name: 'paddleocr-cls', version: '1', uri: 'https://example.invalid/m.onnx' } } },
      { models: { cls: { name: 'paddleocr-cls', version: '1', sha256: 'XYZ' } } },
      { models: { cls: { name: 'paddleocr-cls', version: '1', uri: '../../../etc/passwd' } } },
      { models: { cls: { name: 'paddleocr-cls', version: '1' }, det: { name: 'paddleocr-det', version: 'missing' } } },
      { maxQueueBytes: 2 * 1024 * 1024, maxTensorBytes: 64 * 1024 * 1024 },
      { intraOpThreads: 1e9 },
    ];
    for (const patch of hostile) {
      const report = await h.patch(patch);
      assert.equal(report.status, 'rejected', JSON.stringify(patch));
      assert.ok(report.problems.length > 0);
      // Undo the patch in the desired mirror (as the cloud would with a corrective patch).
      const undo: Record<string, unknown> = Object.fromEntries(Object.keys(patch).map((k) => [k, null]));
      const badProfiles = Object.keys((patch['models'] as Record<string, unknown> | undefined) ?? {}).filter((p) => p !== 'cls');
      undo['models'] = { cls: { name: 'paddleocr-cls', version: '1', uri: null, sha256: null }, ...Object.fromEntries(badProfiles.map((p) => [p, null])) };
      const undone = await h.patch(undo);
      assert.equal(undone.status, 'applied', JSON.stringify(undone.problems));
    }
    // A profile a rejected change tried to add does not linger as configured-but-not-serving.
    assert.deepEqual(Object.keys(h.client.reported['models'] as object), ['cls']);
    const multi = await h.patch({ maxBatchSize: 0, maxQueueDelayMs: -1, executionProvider: 'tpu' });
    assert.ok(multi.problems.length >= 3, `every problem listed: ${JSON.stringify(multi.problems)}`);
    await h.patch({ maxBatchSize: null, maxQueueDelayMs: null, executionProvider: null });
    assert.equal(JSON.stringify(h.running.binder.current()), before);
    const reported = h.client.reported['config'] as { status: string };
    assert.equal(reported.status, 'applied');
    await stillServes();
  });

  it('retries a result send that fails, then delivers it', async () => {
    const completions = h.completions().length;
    h.client.failNextSends(2);
    await stillServes();
    assert.equal(h.completions().length, completions, 'not dead-lettered');
  });

  it('reports a small status object periodically', async () => {
    const report = await h.patch({ statusIntervalMs: 1000 });
    assert.equal(report.status, 'applied');
    await new Promise((r) => setTimeout(r, 1300));
    const status = h.client.reported['status'] as { counts: { results: number }; queue: { depth: number } };
    assert.ok(status.counts.results > 0);
    assert.equal(status.queue.depth, 0);
    await h.patch({ statusIntervalMs: null });
  });

  it('getStatus returns the app status', async () => {
    const r = await h.client.invoke('getStatus', {});
    assert.equal(r.status, 200);
    const s = r.payload as { counts: { deadLettered: number; results: number }; queue: { depth: number } };
    assert.ok(s.counts.deadLettered >= 10);
    assert.ok(s.counts.results >= 5);
    assert.equal(s.queue.depth, 0);
    const bad = await h.client.invoke('getStatus', { x: 1 });
    assert.equal(bad.status, 400);
  });
});
