import assert from 'node:assert/strict';
import { Gatherings, buildChainResult, chainResultProperties, readingOf, type Run } from '@edgeml/aggregator';
import { SCHEMAS, assertValidMessage, type ChainLink, type CropsMessage, type InferenceResultMessage, type PlannedCrop } from '@edgeml/shared';

const ID = 'a'.repeat(64);
const MODEL = { name: 'paddleocr-rec', version: '1', sha256: 'b'.repeat(64) };
const CLS = { name: 'paddleocr-cls', version: '1', sha256: 'c'.repeat(64) };
const source = { path: 'inbox/a.png', sha256: ID, sizeBytes: 10, detectedAt: '2026-11-24T12:00:00.000Z' };
const PARTS = ['artifact', 'result:cls', 'result:det', 'chain:ocr'];

function crop(index: number, row: number, x: number, y: number): PlannedCrop {
  return { index, row, points: [[x, y], [x + 100, y], [x + 100, y + 30], [x, y + 30]], bbox: { x, y, width: 100, height: 30 }, score: 0.9, width: 100, height: 30, rotated90: false };
}

function plan(crops: PlannedCrop[], run = 'run-1'): CropsMessage {
  return {
    schema: SCHEMAS.crops,
    id: ID,
    messageId: `plan-${run}`,
    source,
    part: 'chain:ocr',
    expectedParts: PARTS,
    chain: { name: 'ocr', run, orientation: 'cls', reader: 'rec' },
    detection: { part: 'result:det', messageId: 'det-1', model: { name: 'paddleocr-det', version: '1', sha256: 'd'.repeat(64) } },
    crops,
    droppedBoxes: 1,
    createdAt: source.detectedAt,
  };
}

function reading(index: number, count: number, text: string, confidence: number, rotated = false, run = 'run-1'): InferenceResultMessage & { chain: ChainLink } {
  return {
    schema: SCHEMAS.result,
    id: ID,
    messageId: `r-${run}-${index}`,
    source,
    part: 'chain:ocr',
    expectedParts: PARTS,
    model: MODEL,
    runtime: { provider: 'cpu', batchSize: 1, queueMs: 0, inferMs: 1 },
    outputs: { text, confidence, characters: text.length },
    chain: { name: 'ocr', run, step: 'read', index, count, orientation: { label: rotated ? '180' : '0', score: 0.99, rotated, model: CLS } },
    createdAt: source.detectedAt,
  };
}

describe('aggregator/gather and result (pure)', () => {
  let now = 0;
  const gatherings = (maxRuns = 10): Gatherings => new Gatherings({ maxRuns: () => maxRuns, gatherTimeoutMs: () => 1000, nowMs: () => now });

  it('completes a run once the plan and every reading are in, whatever the order; duplicates are recognised', () => {
    now = 0;
    const g = gatherings();
    assert.equal(g.addReading(reading(1, 2, 'Lot 7', 0.9)).kind, 'waiting', 'a reading before its plan waits');
    assert.equal(g.addReading(reading(1, 2, 'Lot 7', 0.9)).kind, 'duplicate');
    assert.equal(g.addPlan(plan([crop(0, 0, 0, 0), crop(1, 1, 0, 40)])).kind, 'waiting');
    assert.equal(g.addPlan(plan([crop(0, 0, 0, 0), crop(1, 1, 0, 40)])).kind, 'duplicate');
    const done = g.addReading(reading(0, 2, 'Serial 42', 0.95));
    assert.equal(done.kind, 'complete');
    const r = buildChainResult((done as { run: Run }).run, { minConfidence: 0.5, now: new Date(0) });
    assertValidMessage(r);
    assert.equal(r.text, 'Serial 42\nLot 7');
    assert.equal(r.upsideDown, false);
    assert.deepEqual(r.models, { detector: plan([]).detection.model, orientation: CLS, reader: MODEL });
    assert.deepEqual(r.items.map((i) => [i.index, i.row, i.text, i.accepted]), [[0, 0, 'Serial 42', true], [1, 1, 'Lot 7', true]]);
    assert.equal(r.droppedBoxes, 1);
    assert.equal(chainResultProperties(r)['text'], 'Serial 42 Lot 7');
    g.finish((done as { run: Run }).run);
    assert.equal(g.size, 0);
  });

  it('a plan with no crops completes at once (an image without text still gets its result)', () => {
    const g = gatherings();
    const done = g.addPlan(plan([]));
    assert.equal(done.kind, 'complete');
    const r = buildChainResult((done as { run: Run }).run, { minConfidence: 0.5, now: new Date(0) });
    assert.equal(r.text, '');
    assert.deepEqual(r.items, []);
    assert.equal(r.models.reader, undefined);
  });

  it('joins one row with spaces, drops unconfident and empty readings from the text (kept as items), reads an upside-down page in its order', () => {
    const g = gatherings();
    g.addPlan(plan([crop(0, 0, 0, 0), crop(1, 0, 120, 0), crop(2, 1, 0, 40), crop(3, 2, 0, 80)]));
    g.addReading(reading(0, 4, 'Gate', 0.9));
    g.addReading(reading(1, 4, '3', 0.8));
    g.addReading(reading(2, 4, 'noise', 0.3));
    const done = g.addReading(reading(3, 4, ' ', 0.9));
    const r = buildChainResult((done as { run: Run }).run, { minConfidence: 0.5, now: new Date(0) });
    assert.equal(r.text, 'Gate 3');
    assert.deepEqual(r.items.map((i) => i.accepted), [true, true, false, false]);

    // Turned: the crops of an upside-down page come bottom row first, right to left; most were turned.
    const u = gatherings();
    u.addPlan(plan([crop(0, 0, 0, 0), crop(1, 1, 0, 40), crop(2, 1, 120, 40)], 'run-2'));
    u.addReading(reading(0, 3, 'North', 0.9, true, 'run-2'));
    u.addReading(reading(1, 3, '3', 0.9, true, 'run-2'));
    const turned = u.addReading(reading(2, 3, 'Gate', 0.9, true, 'run-2'));
    const t = buildChainResult((turned as { run: Run }).run, { minConfidence: 0.5, now: new Date(0) });
    assert.equal(t.upsideDown, true);
    assert.equal(t.text, 'Gate 3\nNorth');
    assert.deepEqual(t.items.map((i) => [i.index, i.row]), [[2, 0], [1, 0], [0, 1]]);
  });

  it('a reading that does not fit its run is refused; a plan for a finished run starts it again', () => {
    const g = gatherings();
    g.addPlan(plan([crop(0, 0, 0, 0)]));
    assert.equal(g.addReading(reading(0, 3, 'x', 0.9)).kind, 'mismatch');
    const done = g.addReading(reading(0, 1, 'x', 0.9));
    g.finish((done as { run: Run }).run);
    // A late duplicate of a finished run is kept quiet: it expires without being handed back.
    const late = g.addReading(reading(0, 1, 'x', 0.9));
    assert.equal(late.kind === 'waiting' && late.run.afterDone, true);
    // The source offered again: its plan restarts the run, which completes and is sent again.
    assert.equal(g.addPlan(plan([crop(0, 0, 0, 0)])).kind, 'complete');
  });

  it('hands back runs quiet for gatherTimeoutMs, and the quietest when maxRuns are gathering; a run being sent stays', () => {
    now = 0;
    const g = gatherings(2);
    g.addPlan(plan([crop(0, 0, 0, 0)], 'a'));
    now = 100;
    const b = g.addPlan(plan([crop(0, 0, 0, 0)], 'b'));
    now = 200;
    const evicted: Run[] = [];
    g.addPlan(plan([crop(0, 0, 0, 0)], 'c'), evicted);
    assert.deepEqual(evicted.map((r) => r.run), ['a']);
    (b as { run: Run }).run.sending = true;
    now = 1200;
    assert.deepEqual(g.expire().map((r) => r.run), ['c'], 'b is being sent; c is quiet since 200');
    assert.deepEqual(Gatherings.missing((b as { run: Run }).run), [0]);
    assert.deepEqual(g.drain().map((r) => r.run), ['b']);
  });

  it('reads a recogniser (text, confidence) or a classifier (label, score)', () => {
    assert.deepEqual(readingOf({ text: 'ab', confidence: 0.7 }), { text: 'ab', confidence: 0.7 });
    assert.deepEqual(readingOf({ label: 'bolt', score: 0.8, top: [] }), { label: 'bolt', score: 0.8 });
  });
});
