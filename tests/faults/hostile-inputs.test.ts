/**
 * Hostile inputs against one running suite (real hub, Azurite, ONNX Runtime, the five modules as
 * processes): a generated corpus of bad files in the inbox, bad messages on every module input, bad
 * twin patches on every module and bad direct-method payloads. Each must end in a clear outcome
 * (dead letter with a reason, alert on $upstream, rejected patch with problems, method error), no
 * module process may die, and the good files dropped in the same run must all complete.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, readFile, readdir, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderTextImage, telemetryCsv } from '@edgeml/runtime';
import { sleep } from '@edgeml/shared';
import { ALERT_SCHEMA, RESULT_SCHEMA, dropFile, listBlobs, readJournal, restartCounts, sha256, startSuite, waitFor, type JournalRecord, type SuiteHandle } from '../helpers/suite.js';

// ---------------------------------------------------------------- corpus generation

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A real small PNG whose IHDR is rewritten (with a valid CRC) to claim `width` × `height` pixels. */
async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await renderTextImage('huge', { width: 64, height: 16 }));
  // Signature (8) + length (4) + "IHDR" (4) → width at 16, height at 20; CRC over type+data at 29.
  assert.equal(png.toString('latin1', 12, 16), 'IHDR');
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

function wideCsv(columns: number): string {
  const header = Array.from({ length: columns }, (_, i) => `c${i}`).join(',');
  const row = Array.from({ length: columns }, (_, i) => String(i % 10)).join(',');
  return `${header}\n${row}\n`;
}

/** The longest unicode name the filesystem takes: NAME_MAX is 255 bytes, so 300 characters cannot exist. */
function longUnicodeName(ext: string): string {
  const pieces = ['日本語', 'ß', 'é', '🙂', 'עברית', 'ñ', '中', 'ö', 'e\u0301'];
  let name = '';
  for (let i = 0; ; i++) {
    const next = name + (pieces[i % pieces.length] ?? 'x');
    if (Buffer.byteLength(next + ext) > 255) break;
    name = next;
  }
  return name + ext;
}

// ---------------------------------------------------------------- hostile messages

const HEX = 'ab'.repeat(32);
const iso = (): string => new Date().toISOString();
const source = (p: string): Record<string, unknown> => ({ path: p, sha256: HEX, sizeBytes: 100, detectedAt: iso() });

/** A message that is well formed except for its path, which climbs out of the data root. */
function traversalMessage(module: string, input: string): Record<string, unknown> {
  const base = { id: HEX, messageId: `hostile-traversal-${module}-${input}`, createdAt: iso() };
  const escape = '../../../../etc/passwd';
  switch (`${module}/${input}`) {
    case 'watcher/shareEvents':
      return { ChangeType: 'Created', ShareRelativeFilePath: `inbox/${escape}`, ShareName: 'share' };
    case 'watcher/completed':
      return { ...base, schema: 'edgeml.completion/v1', part: '../../artifact', expectedParts: ['../../artifact'], outcome: 'uploaded', module: 'uploader' };
    case 'transformer/files':
      return {
        ...base,
        schema: 'edgeml.file/v1',
        attempt: 1,
        source: { ...source(escape), name: 'passwd.png', extension: '.png', kind: 'image', mtimeMs: 0 },
        detectedAt: iso(),
        stableAt: iso(),
      };
    case 'inferencer/tensors':
      return {
        ...base,
        schema: 'edgeml.tensor/v1',
        source: source('inbox/x.png'),
        part: 'result:cls',
        expectedParts: ['artifact', 'result:cls'],
        tensor: { path: escape, sha256: HEX, dtype: 'float32', shape: [1, 3, 48, 192], layout: 'NCHW' },
        preprocessing: {
          profile: 'cls',
          signature: HEX,
          spec: { width: 192, height: 48, resize: 'padRight', colorOrder: 'BGR', layout: 'NCHW', dtype: 'float32', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], background: [127.5, 127.5, 127.5] },
        },
      };
    case 'uploader/artifacts':
      return {
        ...base,
        schema: 'edgeml.artifact/v1',
        source: source('inbox/x.png'),
        part: 'artifact',
        expectedParts: ['artifact'],
        artifact: { path: escape, sizeBytes: 100, kind: 'image', format: 'jpg', contentType: 'image/jpeg', sha256: HEX, metadata: {} },
      };
    case 'transformer/detections':
      // A detector result of a source planned with the ocr chain, whose source path escapes the share.
      return {
        ...base,
        schema: 'edgeml.inference.result/v1',
        source: source(escape),
        part: 'result:det',
        expectedParts: ['result:det', 'chain:ocr'],
        model: { name: 'paddleocr-det', version: '1', sha256: HEX },
        runtime: { provider: 'cpu', batchSize: 1, queueMs: 0, inferMs: 0 },
        outputs: { boxes: [{ points: [[0, 0], [40, 0], [40, 20], [0, 20]], bbox: { x: 0, y: 0, width: 40, height: 20 }, score: 0.9 }], boxCount: 1 },
      };
    case 'transformer/orientations':
    case 'aggregator/readings': {
      // A crop's result whose pending tensor (turned, since the orientation says 180) lies outside the data root.
      const spec = { width: 1600, height: 48, resize: 'padRight', widthStep: 320, colorOrder: 'BGR', layout: 'NCHW', dtype: 'float32', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], background: [127.5, 127.5, 127.5] };
      const next = { tensor: { path: escape, sha256: HEX, dtype: 'float32', shape: [1, 3, 48, 320], layout: 'NCHW' }, preprocessing: { profile: 'rec', signature: HEX, spec }, contentWidth: 100 };
      return {
        ...base,
        schema: 'edgeml.inference.result/v1',
        source: source(escape),
        part: 'chain:ocr',
        expectedParts: ['chain:ocr'],
        model: { name: 'paddleocr-cls', version: '1', sha256: HEX },
        runtime: { provider: 'cpu', batchSize: 1, queueMs: 0, inferMs: 0 },
        outputs: input === 'orientations' ? { label: '180', score: 0.99 } : { text: 'x', confidence: 0.9 },
        chain: { name: 'ocr', run: HEX, step: input === 'orientations' ? 'orient' : 'read', index: 0, count: 1, ...(input === 'orientations' ? { next } : {}) },
      };
    }
    case 'aggregator/crops':
      return {
        ...base,
        schema: 'edgeml.crops/v1',
        source: source(escape),
        part: 'chain:ocr',
        expectedParts: ['chain:ocr'],
        chain: { name: 'ocr', run: `${HEX}-traversal`, orientation: '../../cls', reader: '../../rec' },
        detection: { part: 'result:det', messageId: 'x', model: { name: '../../x', version: '1', sha256: HEX } },
        crops: [],
        droppedBoxes: 0,
      };
    default:
      return {
        ...base,
        schema: 'edgeml.inference.result/v1',
        source: source(escape),
        part: 'result:cls',
        expectedParts: ['result:cls'],
        model: { name: '../../x', version: '1', sha256: HEX },
        runtime: { provider: 'cpu', batchSize: 1, queueMs: 0, inferMs: 0 },
        outputs: {},
      };
  }
}

const INPUTS: ReadonlyArray<readonly [string, string]> = [
  ['watcher', 'completed'],
  ['watcher', 'shareEvents'],
  ['transformer', 'files'],
  ['inferencer', 'tensors'],
  ['uploader', 'artifacts'],
  ['uploader', 'results'],
  ['transformer', 'detections'],
  ['transformer', 'orientations'],
  ['aggregator', 'crops'],
  ['aggregator', 'readings'],
];

// ---------------------------------------------------------------- the run

interface FileCase {
  readonly name: string;
  readonly data?: Buffer | string;
  /** `completed`: results/blobs expected; a code: dead-lettered with that code; `any`: some clear outcome, printed. */
  readonly expect: 'completed' | 'gone' | string;
  readonly kind?: 'image' | 'table';
}

describe('faults: hostile inputs against one running suite', function () {
  this.timeout(15 * 60_000);
  let suite: SuiteHandle;
  const upstream: JournalRecord[] = [];
  const files: FileCase[] = [];
  const runAsRoot = process.getuid?.() === 0;

  before(async function () {
    this.timeout(180_000);
    suite = await startSuite('edgeml-hostile-');
    suite.runtime.hub.onUpstream((r) => upstream.push(r as unknown as JournalRecord));
    // The modules must be connected before messages are injected (the hub queues them anyway).
    await waitFor(() => suite.runtime.hub.stats().connected.length >= 5, 120_000, 'all five modules connected');
  });
  after(async function () {
    this.timeout(120_000);
    await suite?.close();
  });

  it('drops good files and the hostile corpus into the inbox', async () => {
    const rt = suite.runtime;
    const good: FileCase[] = [
      { name: 'good-1.png', data: await renderTextImage('Invoice 4711'), expect: 'completed', kind: 'image' },
      { name: 'good-2-rot180.png', data: await renderTextImage('Pallet B-17', { rotate180: true }), expect: 'completed', kind: 'image' },
      { name: 'good-3.jpg', data: await renderTextImage('Dock A12', { format: 'jpeg' }), expect: 'completed', kind: 'image' },
      { name: 'good-4.csv', data: telemetryCsv(200), expect: 'completed', kind: 'table' },
      { name: longUnicodeName('.png'), data: await renderTextImage('Unicode name'), expect: 'completed', kind: 'image' },
    ];
    const jpeg = await renderTextImage('Truncated', { format: 'jpeg', width: 640, height: 160 });
    const hostile: FileCase[] = [
      { name: 'truncated.jpg', data: jpeg.subarray(0, Math.floor(jpeg.length / 2)), expect: 'INPUT_MALFORMED' },
      { name: 'claims-50000x50000.png', data: await pngClaiming(50_000, 50_000), expect: 'INPUT_TOO_COMPLEX' },
      { name: 'zero-bytes.jpg', data: Buffer.alloc(0), expect: 'INPUT_MALFORMED' },
      { name: 'random.jpg', data: randomBytes(64 * 1024), expect: 'INPUT_MALFORMED' },
      { name: 'random.csv', data: randomBytes(64 * 1024), expect: 'any' },
      { name: 'wide-100000-columns.csv', data: wideCsv(100_000), expect: 'INPUT_TOO_COMPLEX' },
    ];
    // 300 characters is past NAME_MAX (255 bytes): the OS itself refuses the name, so it can never reach the watcher.
    await assert.rejects(writeFile(path.join(rt.paths.inbox, 'ü'.repeat(300) + '.png'), 'x'), (e: NodeJS.ErrnoException) => e.code === 'ENAMETOOLONG');

    for (const f of [...good, ...hostile]) {
      await dropFile(rt, f.name, f.data!);
      files.push(f);
    }

    // A symlink out of the share, to a real image (so following it would "work").
    const outside = path.join(suite.workDir, 'outside-secret.png');
    const outsideData = await renderTextImage('Outside the share');
    await writeFile(outside, outsideData);
    await symlink(outside, path.join(rt.paths.inbox, 'escape-link.png'));
    files.push({ name: 'escape-link.png', data: outsideData, expect: 'PATH_OUTSIDE_ROOT' });

    // A file that disappears right after it appears.
    const vanishing = await renderTextImage('Vanishing');
    await dropFile(rt, 'vanishing.png', vanishing);
    await sleep(30);
    await unlink(path.join(rt.paths.inbox, 'vanishing.png'));
    files.push({ name: 'vanishing.png', data: vanishing, expect: 'gone' });

    // An unreadable file. As root, mode 000 does not stop reads (CAP_DAC_OVERRIDE), so the file is a
    // valid image and must simply complete; as another user it must be dead-lettered FILE_UNREADABLE.
    const unreadable = await renderTextImage('Mode 000');
    const dest = await dropFile(rt, 'mode-000.png', unreadable);
    await chmod(dest, 0o000);
    files.push({ name: 'mode-000.png', data: unreadable, expect: runAsRoot ? 'completed' : 'FILE_UNREADABLE', kind: 'image' });
  });

  it('answers hostile messages on every module input with an alert', async () => {
    const rt = suite.runtime;
    const big = JSON.stringify({ schema: 'edgeml.file/v1', padding: 'x'.repeat(300 * 1024) });
    const outcomes: { target: string; kind: string; injected: string }[] = [];
    for (const [module, input] of INPUTS) {
      const target = `${module}/${input}`;
      const cases: Array<[string, Parameters<typeof rt.hub.injectInput>[2]]> = [
        ['invalid JSON', { body: Buffer.from('{"schema": "edgeml.file/v1", not json'), contentType: 'application/json', contentEncoding: 'utf-8', messageId: `hostile-json-${target}` }],
        ['wrong schema', { body: { schema: 'edgeml.nonsense/v9', id: 42, source: ['not', 'an', 'object'] }, messageId: `hostile-schema-${target}` }],
        ['path traversal', { body: traversalMessage(module, input), messageId: `hostile-traversal-${target}` }],
        ['over 256 KiB', { body: Buffer.from(big), contentType: 'application/json', contentEncoding: 'utf-8', messageId: `hostile-big-${target}` }],
      ];
      for (const [kind, msg] of cases) {
        const injected = await rt.hub.injectInput(module, input, msg).then(
          () => 'delivered to the module',
          (e: unknown) => `refused by the hub: ${(e as Error).message}`,
        );
        outcomes.push({ target, kind, injected });
      }
    }
    // Every module that took hostile messages alerts with MESSAGE_INVALID (JSON/schema) and MESSAGE_TOO_LARGE.
    const alertCodes = (module: string): Set<string> => new Set(upstream.filter((r) => r.body.schema === ALERT_SCHEMA && r.body.module === module).map((r) => r.body.code ?? ''));
    await waitFor(
      () => ['watcher', 'transformer', 'inferencer', 'uploader', 'aggregator'].every((m) => alertCodes(m).has('MESSAGE_INVALID') && alertCodes(m).has('MESSAGE_TOO_LARGE')),
      120_000,
      'MESSAGE_INVALID and MESSAGE_TOO_LARGE alerts from every module',
    ).catch((err: unknown) => {
      const seen = Object.fromEntries(['watcher', 'transformer', 'inferencer', 'uploader', 'aggregator'].map((m) => [m, [...alertCodes(m)]]));
      throw new Error(`${(err as Error).message}; alerts seen: ${JSON.stringify(seen)}; injections: ${JSON.stringify(outcomes)}`);
    });
    for (const o of outcomes) assert.equal(o.injected, 'delivered to the module', `${o.target} ${o.kind}`);
    const alerts = upstream.filter((r) => r.body.schema === ALERT_SCHEMA);
    process.stdout.write(`      alerts on $upstream so far: ${alerts.length}\n`);
    for (const a of alerts) process.stdout.write(`        ${a.body.module} ${a.body.code}: ${(a.body.message ?? '').slice(0, 110)}\n`);
  });

  it('rejects hostile twin patches on every module, keeping the previous configuration', async () => {
    const rt = suite.runtime;
    const long = 'x'.repeat(4096);
    const patches: Record<string, Record<string, unknown>> = {
      watcher: { maxInFlight: -1, useEvents: 'yes', hostileUnknownKey: long },
      transformer: { maxConcurrentItems: -3, image: { maxFileSizeBytes: 'huge', vipsThreads: -1 }, hostileUnknownKey: long },
      inferencer: { maxBatchSize: -1, maxQueueDelayMs: 'soon', hostileUnknownKey: long },
      uploader: { uploadOn: 'sometimes', blobNameTemplate: long, quotaWarnRatio: -1, hostileUnknownKey: long },
    };
    type Reported = { config?: { status?: string; desiredVersion?: number; problems?: string[]; effective?: unknown } };
    const reported = (m: string): Reported => rt.hub.getTwin(m).reported as Reported;
    for (const [module, patch] of Object.entries(patches)) {
      await waitFor(() => reported(module).config?.effective !== undefined, 60_000, `${module} reports its config`);
      const before = structuredClone(reported(module).config?.effective);
      const version = await rt.hub.patchDesired(module, patch);
      await waitFor(() => reported(module).config?.desiredVersion === version, 30_000, `${module} answers desired version ${version}`);
      const cfg = reported(module).config!;
      assert.equal(cfg.status, 'rejected', `${module}: ${JSON.stringify(cfg)}`);
      assert.ok((cfg.problems?.length ?? 0) >= 3, `${module} lists every problem: ${JSON.stringify(cfg.problems)}`);
      assert.ok(cfg.problems!.some((p) => p.includes('hostileUnknownKey')), `${module} names the unknown key: ${JSON.stringify(cfg.problems)}`);
      assert.ok(JSON.stringify(cfg).length < 16 * 1024, `${module}: the report stays small (${JSON.stringify(cfg).length} bytes)`);
      assert.deepEqual(cfg.effective, before, `${module}: the previous configuration stays in force`);
      process.stdout.write(`      ${module}: rejected v${version} with ${cfg.problems!.length} problems, e.g. ${JSON.stringify(cfg.problems!.slice(0, 2)).slice(0, 160)}\n`);

      // Removing the hostile keys (merge patch null) brings back a document that applies, unchanged.
      const undo = Object.fromEntries(Object.keys(patch).map((k) => [k, null]));
      const v2 = await rt.hub.patchDesired(module, undo);
      await waitFor(() => reported(module).config?.desiredVersion === v2, 30_000, `${module} answers desired version ${v2}`);
      assert.equal(reported(module).config?.status, 'applied', `${module} after undo: ${JSON.stringify(reported(module).config)}`);
    }
  });

  it('answers hostile method payloads with 400 and the problems', async () => {
    const rt = suite.runtime;
    const calls: Array<[string, string, unknown]> = [];
    for (const m of ['watcher', 'transformer', 'inferencer', 'uploader']) {
      calls.push([m, 'getStatus', { unexpected: true }], [m, 'getStatus', 'a string'], [m, 'getStatus', { blob: 'x'.repeat(130 * 1024) }]);
    }
    calls.push(['watcher', 'rescan', { path: '../../etc' }], ['inferencer', 'reloadModel', { profile: 42 }], ['inferencer', 'reloadModel', { profile: '../../etc/passwd' }]);
    calls.push(['uploader', 'flush', { waitMs: -5 }], ['uploader', 'retryQuarantined', { keys: 'not-an-array' }], ['uploader', 'retryQuarantined', { all: false, extra: 1 }]);
    for (const [module, method, payload] of calls) {
      const r = await rt.hub.invokeMethod(module, method, payload, { responseTimeoutMs: 15_000 }).catch((e: unknown) => ({ status: -1, payload: (e as Error).message }));
      const what = `${module}.${method}(${JSON.stringify(payload).slice(0, 60)})`;
      assert.equal(r.status, 400, `${what} → ${r.status} ${JSON.stringify(r.payload).slice(0, 300)}`);
      const body = r.payload as { code?: string; problems?: string[] };
      assert.equal(body.code, 'METHOD_PAYLOAD_INVALID', what);
      assert.ok(Array.isArray(body.problems) && body.problems.length > 0, `${what} lists problems`);
    }
    // A method nobody registered is an error too (504 when the module does not answer, as IoT Hub does), not a hang.
    const unknown = await rt.hub.invokeMethod('transformer', 'formatDisk', {}, { responseTimeoutMs: 5_000 }).catch((e: unknown) => ({ status: -1, payload: (e as Error).message }));
    assert.ok(unknown.status >= 400 || unknown.status === -1, `unknown method → ${JSON.stringify(unknown)}`);
    process.stdout.write(`      ${calls.length} hostile method calls → 400 METHOD_PAYLOAD_INVALID; unknown method → ${unknown.status}\n`);
  });

  it('gives every file a clear outcome and completes every good file; no module restarted', async () => {
    const rt = suite.runtime;
    await rt.waitUntilIdle({ signal: AbortSignal.timeout(600_000) });
    const failedEntries = await readdir(rt.paths.failed, { recursive: true });
    const records = new Map<string, { code?: string; reasons?: { code: string; reason: string }[] }>();
    for (const rel of failedEntries.filter((n) => n.endsWith('.error.json'))) {
      records.set(rel.slice(0, -'.error.json'.length), JSON.parse(await readFile(path.join(rt.paths.failed, rel), 'utf8')) as { code?: string; reasons?: { code: string; reason: string }[] });
    }
    const journal = await readJournal(rt.hub.upstreamJournalFile);
    const blobs = await listBlobs(rt.storageConnectionString!, { download: true });
    const rows: string[] = [];
    for (const f of files) {
      const id = f.data === undefined ? '' : sha256(f.data);
      const record = records.get(f.name);
      const results = journal.filter((r) => r.body.schema === RESULT_SCHEMA && r.body.id === id);
      const fileBlobs = blobs.filter((b) => b.metadata['sourcesha256'] === id);
      const outcome = record !== undefined ? `dead-lettered ${record.code}` : results.length > 0 || fileBlobs.length > 0 ? 'completed' : 'no trace';
      const reason = record?.reasons?.[0]?.reason;
      rows.push(`${f.name.slice(0, 40).padEnd(40)} ${outcome}${reason !== undefined ? ` (${reason.slice(0, 90)})` : ''}`);
      if (f.expect === 'completed') {
        assert.equal(record, undefined, `${f.name} must not be dead-lettered: ${JSON.stringify(record)}`);
        if (f.kind === 'image') assert.ok(results.some((r) => r.body.part === 'result:cls'), `${f.name}: a cls result on $upstream`);
        const artifact = fileBlobs.find((b) => b.metadata['contentsha256'] !== undefined);
        assert.ok(artifact !== undefined, `${f.name}: an artifact blob (blobs with its id: ${fileBlobs.map((b) => b.name).join(', ')})`);
        assert.equal(artifact.contentSha256, artifact.metadata['contentsha256'], `${f.name}: artifact content matches its recorded sha256`);
      } else if (f.expect === 'gone') {
        assert.equal(results.length, 0, `${f.name} vanished: no result`);
      } else if (f.expect === 'any') {
        assert.ok(outcome !== 'no trace', `${f.name}: a clear outcome`);
      } else {
        assert.equal(record?.code, f.expect, `${f.name}: ${JSON.stringify(record)}`);
        assert.ok((reason ?? '').length > 0, `${f.name}: a reason`);
        assert.equal(results.length, 0, `${f.name}: no result for a dead-lettered file`);
      }
    }
    process.stdout.write(`      outcomes:\n${rows.map((r) => `        ${r}`).join('\n')}\n`);
    const summary = await rt.summary();
    process.stdout.write(`      summary: ${JSON.stringify(summary)}\n`);
    assert.equal(summary.unaccounted, 0);
    assert.deepEqual(restartCounts(rt), { watcher: 0, transformer: 0, inferencer: 0, uploader: 0, aggregator: 0 }, 'no module process died');
    for (const p of rt.processes.values()) assert.equal(p.snapshot().state, 'running', `${p.snapshot().name} still running`);
  });
});
