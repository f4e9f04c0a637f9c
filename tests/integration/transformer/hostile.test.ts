import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { SCHEMAS, sha256, type AlertMessage, type ArtifactMessage, type CompletionMessage } from '@edgeml/shared';
import { encodeRgb, type TransformerStatus } from '@edgeml/transformer';
import { dropFile, fileMessageFor, makeDataRoot, startApp, type Harness } from './harness.js';

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}
function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
/** A valid-looking PNG whose header claims width × height, with a tiny body (a decompression bomb's shape). */
function claimedPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1024))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}
function pseudoRandom(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

interface Outcome {
  completion: CompletionMessage | undefined;
  alert: AlertMessage;
}

describe('transformer/hostile inputs (each → dead letter with a reason; the module keeps going)', function () {
  this.timeout(60_000);
  let root: Awaited<ReturnType<typeof makeDataRoot>>;
  let outside: string;
  let h: Harness;
  beforeEach(async () => {
    root = await makeDataRoot();
    outside = await mkdtemp(path.join(os.tmpdir(), 'edgeml-outside-'));
    h = await startApp(root.paths, { table: { maxColumns: 1000 } });
  });
  afterEach(async () => {
    await h.stop();
    await root.cleanup();
    await rm(outside, { recursive: true, force: true });
  });

  /** Delivers one body and returns the dead letter it produced (exactly one alert, at most one completion). */
  async function deliverExpectingDeadLetter(body: object | string): Promise<Outcome> {
    const before = { c: h.edge.sentTo('completed').length, a: h.edge.sentTo('alerts').length, t: h.edge.sentTo('tensors').length + h.edge.sentTo('artifacts').length };
    await h.edge.deliver('files', body);
    const completions = h.edge.sentTo('completed').slice(before.c);
    const alerts = h.edge.sentTo('alerts').slice(before.a);
    assert.equal(alerts.length, 1, 'one alert');
    assert.ok(completions.length <= 1);
    assert.equal(h.edge.sentTo('tensors').length + h.edge.sentTo('artifacts').length, before.t, 'no output for a dead letter');
    const completion = completions[0]?.json as CompletionMessage | undefined;
    if (completion !== undefined) {
      assert.equal(completion.part, 'transform');
      assert.deepEqual(completion.expectedParts, ['transform']);
      assert.equal(completion.outcome, 'deadLettered');
      assert.equal(completions[0]!.properties['outcome'], 'deadLettered');
    }
    const alert = alerts[0]!.json as AlertMessage;
    if (completion !== undefined) assert.equal(alert.code, completion.code);
    return { completion, alert };
  }

  async function expectFile(name: string, content: Buffer | string, code: string, reason: RegExp): Promise<void> {
    const msg = await dropFile(root.paths, name, content);
    const { completion, alert } = await deliverExpectingDeadLetter(msg);
    assert.ok(completion, `${name}: a completion`);
    assert.equal(completion.id, msg.id);
    assert.equal(completion.code, code, `${name}: ${completion.reason}`);
    assert.match(completion.reason!, reason, name);
    assert.equal(alert.id, msg.id);
  }

  it('bad files: truncated JPEG, 50 000 × 50 000 PNG header, zero bytes, random bytes as .jpg and .csv, 100 000 columns', async () => {
    const noisy = pseudoRandom(256 * 256 * 3, 7);
    const jpeg = await encodeRgb({ data: noisy, width: 256, height: 256 }, 'jpeg');
    await expectFile('truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'INPUT_MALFORMED', /image could not be decoded/);
    await expectFile('bomb.png', claimedPng(50_000, 50_000), 'INPUT_TOO_COMPLEX', /50000×50000 = 2500000000 pixels; the limit \(image.limitInputPixels\) is 100000000/);
    await expectFile('empty.jpg', Buffer.alloc(0), 'INPUT_MALFORMED', /the file is empty \(0 bytes\)/);
    await expectFile('noise.jpg', pseudoRandom(10_000, 1), 'INPUT_MALFORMED', /not a readable image/);
    await expectFile('noise.csv', pseudoRandom(10_000, 2), 'INPUT_MALFORMED', /binary content, not a text table|not UTF-8 text/);
    await expectFile('wide.csv', `${Array.from({ length: 100_000 }, (_, i) => i).join(',')}\n`, 'INPUT_TOO_COMPLEX', /100000 columns; the limit \(table.maxColumns\) is 1000/);
  });

  it('bad paths: ../../etc/passwd, a symlink out of the share, a missing file, a directory', async () => {
    const secret = Buffer.from('secret');
    await writeFile(path.join(outside, 'secret.jpg'), secret);
    await symlink(path.join(outside, 'secret.jpg'), path.join(root.paths.inbox, 'link.jpg'));
    await mkdir(path.join(root.paths.inbox, 'dir.csv'));
    const cases: [string, string, RegExp][] = [
      ['../../etc/passwd', 'PATH_OUTSIDE_ROOT', /"..\/..\/etc\/passwd" leaves/],
      ['/etc/passwd', 'PATH_OUTSIDE_ROOT', /is absolute/],
      ['inbox/link.jpg', 'PATH_OUTSIDE_ROOT', /resolves through a symlink to outside/],
      ['inbox/missing.jpg', 'FILE_NOT_FOUND', /does not exist/],
      ['inbox/dir.csv', 'FILE_NOT_REGULAR', /not a regular file/],
    ];
    for (const [rel, code, reason] of cases) {
      const msg = fileMessageFor(path.basename(rel), secret, rel);
      const { completion } = await deliverExpectingDeadLetter(msg);
      assert.equal(completion?.code, code, `${rel}: ${completion?.reason}`);
      assert.match(completion!.reason!, reason, rel);
    }
  });

  it('bad messages: wrong schema, invalid JSON, over 256 KiB, a file message with a bad field', async () => {
    const good = await dropFile(root.paths, 'ok.csv', 'a\n1\n');
    const wrongSchema = await deliverExpectingDeadLetter({ ...good, schema: SCHEMAS.tensor });
    assert.equal(wrongSchema.alert.code, 'MESSAGE_INVALID');
    assert.match(wrongSchema.alert.message, /expected schema edgeml.file\/v1, got "edgeml.tensor\/v1"/);
    assert.equal(wrongSchema.completion, undefined, 'not a file message: no source of ours to acknowledge');
    const invalid = await deliverExpectingDeadLetter('{"schema": "edgeml.file/v1", ');
    assert.equal(invalid.alert.code, 'MESSAGE_INVALID');
    assert.match(invalid.alert.message, /not valid JSON/);
    const huge = await deliverExpectingDeadLetter({ ...good, padding: 'x'.repeat(300 * 1024) });
    assert.equal(huge.alert.code, 'MESSAGE_TOO_LARGE');
    assert.match(huge.alert.message, /limit is 262144/);
    const badField = await deliverExpectingDeadLetter({ ...good, source: { ...good.source, kind: 'weird' } });
    assert.equal(badField.completion?.code, 'MESSAGE_INVALID', 'a file message with a valid id is acknowledged');
    assert.equal(badField.completion?.id, good.id);
    assert.match(badField.completion!.reason!, /\/source\/kind: must be equal to one of the allowed values/);
  });

  it('content changed after the watcher hashed it; unknown kinds dead-lettered by default', async () => {
    const msg = await dropFile(root.paths, 'changing.png', await encodeRgb({ data: new Uint8Array(12), width: 2, height: 2 }, 'png'));
    await writeFile(path.join(root.paths.inbox, 'changing.png'), await encodeRgb({ data: new Uint8Array(12).fill(9), width: 2, height: 2 }, 'png'));
    const changed = await deliverExpectingDeadLetter(msg);
    assert.equal(changed.completion?.code, 'CONTENT_CHANGED');
    assert.match(changed.completion!.reason!, /content changed: the file's SHA-256 is [0-9a-f]{64}, the message id is/);
    await expectFile('notes.docx', 'PK...', 'UNSUPPORTED_KIND', /kind 'other' \(.docx\) are not transformed; set unknownKinds to 'forwardRaw'/);
  });

  it('good files in the same run are processed, concurrently with hostile ones; each dead letter logs one line', async () => {
    const png = await encodeRgb({ data: new Uint8Array(64 * 32 * 3).fill(100), width: 64, height: 32 }, 'png');
    const goodImage = await dropFile(root.paths, 'good.png', png);
    const goodTable = await dropFile(root.paths, 'good.csv', 'x,y\n1,2\n');
    const bad = [
      await dropFile(root.paths, 'bad1.jpg', pseudoRandom(5000, 3)),
      await dropFile(root.paths, 'bad2.csv', pseudoRandom(5000, 4)),
      await dropFile(root.paths, 'bad3.png', claimedPng(50_000, 50_000)),
    ];
    await Promise.all([goodImage, ...bad, goodTable, '{oops'].map((m) => h.edge.deliver('files', m)));
    await h.app.idle();
    assert.equal(h.edge.sentTo('tensors').length, 2);
    const artifacts = h.edge.sentTo('artifacts').map((s) => s.json as ArtifactMessage);
    assert.deepEqual(artifacts.map((a) => a.artifact.kind).sort(), ['image', 'table']);
    assert.equal(h.edge.sentTo('completed').length, 3);
    assert.equal(h.edge.sentTo('alerts').length, 4);
    const deadLetterLines = h.logLines().filter((l) => typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('dead-lettered'));
    assert.equal(deadLetterLines.length, 4);
    for (const l of deadLetterLines) {
      assert.equal(l['level'], 'warn');
      assert.ok(typeof l['code'] === 'string');
    }
    const status = h.app.status() as unknown as TransformerStatus;
    assert.equal(status.received, 6);
    assert.equal(status.forwarded, 2);
    assert.equal(status.deadLettered, 4);
    assert.deepEqual(status.failuresByCode, { INPUT_MALFORMED: 2, INPUT_TOO_COMPLEX: 1, MESSAGE_INVALID: 1 });
    const metrics = await h.registry.metrics();
    assert.match(metrics, /edgeml_transformer_failures_total\{code="INPUT_MALFORMED"\} 2/);
    assert.match(metrics, /edgeml_transformer_items_total\{kind="image",outcome="forwarded"\} 1/);
    assert.match(metrics, /edgeml_transformer_stage_duration_seconds_count\{stage="resize"\} 2/);
  });
});

describe('transformer/app lifecycle and bounds', function () {
  this.timeout(60_000);
  let root: Awaited<ReturnType<typeof makeDataRoot>>;
  beforeEach(async () => {
    root = await makeDataRoot();
  });
  afterEach(async () => {
    await root.cleanup();
  });

  it('unknown kinds are forwarded raw when the twin says so (path relative to the share)', async () => {
    const h = await startApp(root.paths, { unknownKinds: 'forwardRaw' });
    const msg = await dropFile(root.paths, 'manual.pdf', '%PDF-1.4 ...');
    await h.edge.deliver('files', msg);
    const [sent] = h.edge.sentTo('artifacts');
    const art = sent!.json as ArtifactMessage;
    assert.deepEqual([art.artifact.kind, art.artifact.format, art.artifact.path, art.artifact.sha256, art.part], ['raw', 'pdf', 'inbox/manual.pdf', msg.id, 'artifact']);
    assert.equal(sent!.properties['kind'], 'raw');
    await h.stop();
  });

  it('a full wait queue defers items (counted, logged once, a deferred completion each) instead of growing; stop is idempotent and refuses new input', async () => {
    const h = await startApp(root.paths, { maxConcurrentItems: 1, maxQueuedItems: 1 });
    const msgs = [];
    for (let i = 0; i < 5; i++) msgs.push(await dropFile(root.paths, `t${i}.csv`, `a,b\n${i},x\n`));
    await Promise.all(msgs.map((m) => h.edge.deliver('files', m)));
    const status = h.app.status() as unknown as TransformerStatus;
    assert.equal(status.shed, 3);
    assert.equal(h.edge.sentTo('artifacts').length, 2);
    const deferred = h.edge.sentTo('completed').map((m) => m.json as CompletionMessage);
    assert.equal(deferred.length, 3, 'each shed item is deferred back to the watcher, not dead-lettered');
    for (const c of deferred) {
      assert.deepEqual([c.outcome, c.code, c.part, c.retryAfterMs], ['deferred', 'OVERLOADED', 'transform', 10_000]);
      assert.match(c.reason ?? '', /wait queue is full \(1 items behind 1 in progress\)/);
    }
    assert.equal(new Set(deferred.map((c) => c.id)).size, 3);
    assert.equal(h.logLines().filter((l) => String(l['msg']).startsWith('wait queue full')).length, 1);
    await Promise.all([h.stop(), h.stop()]);
    await h.edge.deliver('files', await dropFile(root.paths, 'late.csv', 'a\n1\n'));
    assert.equal(h.edge.sentTo('artifacts').length, 2);
    assert.equal(h.app.ready().ready, false);
  });

  it('files over the size limits are dead-lettered without being read whole', async () => {
    const h = await startApp(root.paths, { image: { maxFileSizeBytes: 100 }, table: { maxFileSizeBytes: 10 } });
    await h.edge.deliver('files', await dropFile(root.paths, 'big.png', await encodeRgb({ data: new Uint8Array(64 * 64 * 3).fill(7), width: 64, height: 64 }, 'png')));
    await h.edge.deliver('files', await dropFile(root.paths, 'big.csv', 'a,b\n1,2\n3,4\n'));
    const completions = h.edge.sentTo('completed').map((m) => m.json as CompletionMessage);
    assert.deepEqual(completions.map((c) => c.code), ['FILE_TOO_LARGE', 'FILE_TOO_LARGE']);
    assert.match(completions[0]!.reason!, /over image.maxFileSizeBytes \(100 bytes\)/);
    assert.match(completions[1]!.reason!, /the limit \(table.maxFileSizeBytes\) is 10/);
    await h.stop();
  });

  it('a duplicate of a source in flight is dropped; the same content id yields one set of outputs', async () => {
    const h = await startApp(root.paths);
    const msg = await dropFile(root.paths, 'dup.csv', 'a\n1\n');
    await Promise.all([h.edge.deliver('files', msg), h.edge.deliver('files', { ...msg, attempt: 2 })]);
    assert.equal(h.edge.sentTo('artifacts').length, 1);
    assert.equal((h.app.status() as unknown as TransformerStatus).duplicates, 1);
    await h.stop();
  });

  it('send failures are retried; outputs that never go out are left for re-emission, not dead-lettered', async () => {
    const h = await startApp(root.paths);
    const msg = await dropFile(root.paths, 'retry.csv', 'a\n1\n');
    h.edge.failNextSends(2);
    await h.edge.deliver('files', msg);
    assert.equal(h.edge.sentTo('artifacts').length, 1, 'sent on the third attempt');
    h.edge.failNextSends(10);
    await h.edge.deliver('files', await dropFile(root.paths, 'never.csv', 'a\n2\n'));
    const status = h.app.status() as unknown as TransformerStatus;
    assert.equal(status.sendFailed, 1);
    assert.equal(status.deadLettered, 0);
    h.edge.failNextSends(0);
    await h.stop();
  });

  it('reports a small status object in reported properties on stop', async () => {
    const h = await startApp(root.paths);
    await h.edge.deliver('files', await dropFile(root.paths, 's.csv', 'a\n1\n'));
    await h.stop();
    const reported = h.edge.reported['status'] as Record<string, unknown>;
    assert.equal(reported['forwarded'], 1);
    assert.ok(Buffer.byteLength(JSON.stringify(reported)) < 2048);
    void sha256;
  });
});
