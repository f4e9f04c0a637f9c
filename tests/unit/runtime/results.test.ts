import assert from 'node:assert/strict';
import { describeFile, FileResults, oneLine, RESULT_LINE_TEXT_CHARS } from '@edgeml/runtime';

// Records as the hub writes them to the $upstream journal in `npm start -- --until-idle` (trimmed:
// system properties, model digests and most anomaly scores left out; values as observed).
const SAMPLE_11 = { path: 'inbox/sample-11.png', sha256: 'ff9e6979', sizeBytes: 3865, detectedAt: '2026-12-04T09:33:26.406Z' };
const SAMPLE_03 = { path: 'inbox/sample-03-rot180.png', sha256: '7715163e', sizeBytes: 4102, detectedAt: '2026-12-04T09:33:26.406Z' };
const TELEMETRY = { path: 'inbox/telemetry.csv', sha256: 'd2616feb', sizeBytes: 26333, detectedAt: '2026-12-04T09:33:26.405Z' };
const model = (name: string): { name: string; version: string; sha256: string } => ({ name, version: '1', sha256: '30a86f57' });

const det11 = {
  receivedAt: '2026-12-04T09:33:29.965Z',
  source: '/messages/modules/inferencer/outputs/results',
  properties: { schema: 'edgeml.inference.result/v1', part: 'result:det', profile: 'det', model: 'paddleocr-det' },
  body: {
    schema: 'edgeml.inference.result/v1',
    id: 'ff9e6979',
    messageId: 'c4394bc9',
    source: SAMPLE_11,
    part: 'result:det',
    expectedParts: ['artifact', 'result:cls', 'result:det', 'chain:ocr'],
    model: model('paddleocr-det'),
    runtime: { provider: 'cpu', batchSize: 1, queueMs: 0.001, inferMs: 264.81 },
    outputs: {
      boxes: [{ points: [[14.7, 23.5], [233.2, 22.6], [233.4, 58.9], [14.8, 59.8]], bbox: { x: 14.7, y: 22.6, width: 218.7, height: 37.3 }, score: 0.9935 }],
      boxCount: 1,
      coordinates: 'source',
      mapSize: { width: 640, height: 640 },
    },
    createdAt: '2026-12-04T09:33:29.962Z',
  },
};
const cls11 = {
  receivedAt: '2026-12-04T09:33:30.257Z',
  source: '/messages/modules/inferencer/outputs/results',
  properties: { schema: 'edgeml.inference.result/v1', part: 'result:cls', profile: 'cls', label: '0', score: '0.982779860496521' },
  body: {
    schema: 'edgeml.inference.result/v1',
    id: 'ff9e6979',
    messageId: 'ac3f9328',
    source: SAMPLE_11,
    part: 'result:cls',
    expectedParts: ['artifact', 'result:cls', 'result:det', 'chain:ocr'],
    model: model('paddleocr-cls'),
    runtime: { provider: 'cpu', batchSize: 12, queueMs: 5.22, inferMs: 510.227 },
    outputs: { label: '0', score: 0.982779860496521, top: [{ label: '0', score: 0.982779860496521 }, { label: '180', score: 0.017220085486769676 }], rotate180: false },
    createdAt: '2026-12-04T09:33:30.230Z',
  },
};
const chain = (source: typeof SAMPLE_11, receivedAt: string, text: string, confidence: number, upsideDown: boolean): unknown => ({
  receivedAt,
  source: '/messages/modules/aggregator/outputs/results',
  properties: { schema: 'edgeml.chain.result/v1', part: 'chain:ocr', chain: 'ocr', items: '1', accepted: '1', text },
  body: {
    schema: 'edgeml.chain.result/v1',
    id: source.sha256,
    messageId: 'effefe3d',
    source,
    part: 'chain:ocr',
    expectedParts: ['artifact', 'result:cls', 'result:det', 'chain:ocr'],
    chain: 'ocr',
    run: '7e82b939',
    models: { detector: model('paddleocr-det'), orientation: model('paddleocr-cls'), reader: model('paddleocr-rec') },
    items: [
      {
        index: 0,
        row: 0,
        points: [[14.7, 23.5], [233.2, 22.6], [233.4, 58.9], [14.8, 59.8]],
        bbox: { x: 14.7, y: 22.6, width: 218.7, height: 37.2 },
        text,
        confidence,
        accepted: true,
        detectionScore: 0.9935,
        orientation: { label: upsideDown ? '180' : '0', score: 1, rotated: upsideDown },
      },
    ],
    text,
    upsideDown,
    minConfidence: 0.5,
    droppedBoxes: 0,
    createdAt: receivedAt,
  },
});
const chain11 = chain(SAMPLE_11, '2026-12-04T09:33:30.756Z', 'Rack C-04', 0.9948, false);
const window = (w: number, firstRow: number, rows: number, flagged: number[]): unknown => ({
  receivedAt: '2026-12-04T09:33:30.248Z',
  source: '/messages/modules/inferencer/outputs/results',
  properties: { schema: 'edgeml.inference.result/v1', part: `result:anomaly.w${w}`, profile: 'anomaly' },
  body: {
    schema: 'edgeml.inference.result/v1',
    id: 'd2616feb',
    messageId: `dcc440a${w}`,
    source: TELEMETRY,
    part: `result:anomaly.w${w}`,
    expectedParts: ['artifact', ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => `result:anomaly.w${i}`)],
    model: model('telemetry-anomaly'),
    runtime: { provider: 'cpu', batchSize: 7, queueMs: 5.731, inferMs: 503.48 },
    outputs: {
      label: flagged.length > 0 ? 'anomaly' : 'normal',
      firstRow,
      rows,
      scores: [0, 1.0051, 0.9902],
      flagged: flagged.map((row) => ({ row, score: 6.4896 })),
      flaggedCount: flagged.length,
      maxScore: 6.4896,
      threshold: 3,
    },
    createdAt: '2026-12-04T09:33:30.213Z',
  },
});
const TELEMETRY_WINDOWS = [window(0, 0, 64, [37]), window(1, 64, 64, []), window(2, 128, 64, [137]), window(3, 192, 64, [237]), window(4, 256, 64, []), window(5, 320, 64, [337]), window(6, 384, 64, [437]), window(7, 448, 52, [])];

describe('results per source file (edgeml results, the live view)', () => {
  it('folds a file\'s detector, classifier and chain records into one line with the text read', () => {
    const fold = new FileResults();
    const key = fold.add(det11);
    assert.notEqual(key, undefined);
    assert.equal(fold.add(cls11), key);
    assert.equal(fold.add(chain11), key);
    assert.deepEqual(fold.lines(), ['inbox/sample-11.png  text "Rack C-04" (1 line, conf 0.99)  cls 0 (0.983)  det 1 box']);
    const [file] = fold.summaries();
    assert.equal(file?.file, 'inbox/sample-11.png');
    assert.equal(file?.id, 'ff9e6979');
    assert.equal(file?.text, 'Rack C-04');
    assert.equal(file?.label, '0');
    assert.equal(file?.score, 0.982779860496521);
    assert.equal(file?.boxes, 1);
    assert.equal(file?.updatedAt, '2026-12-04T09:33:30.756Z');
  });

  it('reads the same whichever result arrived first, and the latest record of a part wins', () => {
    const a = new FileResults();
    for (const r of [det11, cls11, chain11]) a.add(r);
    const b = new FileResults();
    for (const r of [chain11, cls11, det11]) b.add(r);
    assert.deepEqual(b.lines(), a.lines());
    b.add(chain(SAMPLE_11, '2026-12-04T09:40:00.000Z', 'Rack C-05', 0.9, false));
    assert.match(b.lines()[0]!, /text "Rack C-05"/);
    assert.doesNotMatch(b.lines()[0]!, /C-04/);
  });

  it('says when a page was upside down; keeps files in order of first appearance', () => {
    const fold = new FileResults();
    fold.add(det11);
    fold.add(chain(SAMPLE_03, '2026-12-04T09:33:31.594Z', 'Serial 0042-XK', 0.9798, true));
    fold.add(chain11);
    assert.deepEqual(fold.lines(), [
      'inbox/sample-11.png  text "Rack C-04" (1 line, conf 0.99)  det 1 box',
      'inbox/sample-03-rot180.png  text "Serial 0042-XK" (1 line, conf 0.98, upside down)',
    ]);
  });

  it('gathers anomaly windows into flagged rows of the whole table', () => {
    const fold = new FileResults();
    const keys = new Set(TELEMETRY_WINDOWS.map((w) => fold.add(w)));
    assert.equal(keys.size, 1);
    assert.deepEqual(fold.lines(), ['inbox/telemetry.csv  anomaly 5 of 500 rows flagged (rows 37, 137, 237, …) in 8 windows']);
    assert.deepEqual(fold.summaries()[0]?.anomalies, [{ profile: 'anomaly', model: 'telemetry-anomaly', windows: 8, rows: 500, flaggedRows: [37, 137, 237, 337, 437] }]);
    fold.add(window(2, 128, 64, [137]));
    assert.equal(fold.summaries()[0]?.anomalies?.[0]?.windows, 8, 'a repeated window is not counted twice');
  });

  it('returns undefined for records that are not about a file\'s inference', () => {
    const fold = new FileResults();
    const alert = { receivedAt: 't', source: '/messages/modules/watcher/outputs/alerts', properties: {}, body: { schema: 'edgeml.alert/v1', module: 'watcher', code: 'SHARE_UNREADABLE', message: 'x' } };
    const cropReading = { ...cls11, body: { ...cls11.body, chain: { name: 'ocr', run: 'r', step: 'read', index: 0, count: 1 } } };
    const noOutputs = { ...cls11, body: { ...cls11.body, outputs: undefined } };
    for (const r of [alert, cropReading, noOutputs, undefined, 'text', { body: 'x' }, { body: { schema: 'edgeml.chain.result/v1' } }]) assert.equal(fold.add(r), undefined);
    assert.deepEqual(fold.lines(), [], 'no line for a file nothing was inferred about');
  });

  it('shows any classifier, detector and unknown result generically; marks hard examples', () => {
    const fold = new FileResults();
    const other = (part: string, outputs: unknown, extra: Record<string, unknown> = {}): unknown => ({ ...cls11, body: { ...cls11.body, part, model: model('m'), outputs, ...extra } });
    fold.add(other('result:defects', { label: 'scratch', score: 0.42 }, { comparison: { mode: 'shadow', model: model('m2'), agrees: false, label: 'ok' } }));
    fold.add(other('result:parts', { boxes: [{}, {}, {}], boxCount: 3 }));
    fold.add(other('result:embed', { vector: [0.1], norm: 1 }));
    fold.add({ receivedAt: 't2', body: { schema: 'edgeml.hard-example/v1', id: 'ff9e6979', source: SAMPLE_11, part: 'result:defects', profile: 'defects', reasons: ['lowConfidence', 'disagreement'] } });
    assert.deepEqual(fold.lines(), ['inbox/sample-11.png  defects scratch (0.420) candidate disagrees  embed m {vector,norm}  parts 3 boxes  hard example (lowConfidence, disagreement)']);
  });

  it('cuts long text with … on the line, keeps it whole in the summary', () => {
    const long = `TOTAL 42.50\n${'PUMP 7 '.repeat(20).trim()}`;
    const fold = new FileResults();
    fold.add(chain(SAMPLE_11, 't', long, 0.93, false));
    const line = fold.lines()[0]!;
    assert.ok(line.includes(`text "${oneLine(long)}"`), line);
    assert.equal(oneLine(long).length, RESULT_LINE_TEXT_CHARS);
    assert.ok(oneLine(long).startsWith('TOTAL 42.50 | PUMP 7') && oneLine(long).endsWith('…'));
    assert.match(line, /\(2 lines, conf 0\.93\)/);
    assert.equal(fold.summaries()[0]?.text, long);
    assert.equal(describeFile({ file: 'a.png', id: 'x', updatedAt: '', chains: [], results: [] }), 'a.png  no result yet');
  });

  it('lists the latest changed files for the live view, and forgets the least recently changed beyond maxFiles', () => {
    const fold = new FileResults({ maxFiles: 2 });
    fold.add(det11);
    for (const w of TELEMETRY_WINDOWS) fold.add(w);
    fold.add(chain(SAMPLE_03, 't', 'Serial 0042-XK', 0.9798, true));
    assert.deepEqual(
      fold.summaries().map((f) => f.file),
      ['inbox/telemetry.csv', 'inbox/sample-03-rot180.png'],
      'sample-11 was the least recently changed',
    );
    fold.add(chain11);
    assert.deepEqual(fold.latestLines(5), [
      'inbox/sample-03-rot180.png  text "Serial 0042-XK" (1 line, conf 0.98, upside down)',
      'inbox/sample-11.png  text "Rack C-04" (1 line, conf 0.99)',
    ]);
    assert.deepEqual(fold.latestLines(1), ['inbox/sample-11.png  text "Rack C-04" (1 line, conf 0.99)']);
    assert.throws(() => new FileResults({ maxFiles: 0 }), RangeError);
  });
});
