import assert from 'node:assert/strict';
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { SCHEMAS, deterministicMessageId, type ChainResultMessage } from '@edgeml/shared';
import { makeDataRoot, resultMessage, startApp, waitFor } from './fixtures.js';

function chainResult(n: number): ChainResultMessage {
  const r = resultMessage(n);
  const model = { name: 'paddleocr-rec', version: '1', sha256: 'c'.repeat(64) };
  return {
    schema: SCHEMAS.chainResult,
    id: r.id,
    messageId: deterministicMessageId(r.id, 'chain-result', 'ocr', 'run'),
    source: r.source,
    part: 'chain:ocr',
    expectedParts: ['artifact', 'result:det', 'chain:ocr'],
    chain: 'ocr',
    run: 'run',
    models: { detector: { ...model, name: 'paddleocr-det' }, reader: model },
    items: [{ index: 0, row: 0, text: `Lot ${n}`, confidence: 0.97, accepted: true, points: [[0, 0], [9, 0], [9, 4], [0, 4]], bbox: { x: 0, y: 0, width: 9, height: 4 }, detectionScore: 0.9 }],
    text: `Lot ${n}`,
    upsideDown: false,
    minConfidence: 0.5,
    droppedBoxes: 0,
    createdAt: r.createdAt,
  };
}

async function lines(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const rel of await readdir(dir, { recursive: true })) {
    if (rel.endsWith('.jsonl')) out.push(...(await readFile(path.join(dir, rel), 'utf8')).split('\n').filter((l) => l.length > 0));
  }
  return out;
}

describe('uploader: per-file chain results, and result windows sealed once idle', function () {
  this.timeout(30_000);

  // What broke (#18): the local demo's sources completed a minute after their last result, because their
  // result lines waited out the whole batch window (60 s) after the flow had stopped.
  it('uploads a window no line joined for batchIdleMs without waiting for batchWindowMs, chain results and inference results alike', async () => {
    const paths = await makeDataRoot();
    const t = await startApp(paths, {}, { sink: 'directory', results: { batchWindowMs: 600_000, batchIdleMs: 1_000 } });
    try {
      const started = Date.now();
      await t.edge.deliver('results', chainResult(1));
      await t.edge.deliver('results', resultMessage(1));
      await waitFor(() => t.completions().filter((c) => c.outcome === 'uploaded').length === 2, 15_000, 'both lines uploaded');
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 600_000 / 10, `sealed on idleness, long before the window (${elapsed} ms)`);
      assert.deepEqual(t.completions().map((c) => c.part).sort(), ['chain:ocr', 'result:cls']);
      const [chainLine] = (await lines(paths.cloudshare)).map((l) => JSON.parse(l) as { schema: string; text?: string }).filter((l) => l.schema === SCHEMAS.chainResult);
      assert.equal(chainLine?.text, 'Lot 1');
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });

  it('a malformed chain result is dead-lettered with the part it names', async () => {
    const paths = await makeDataRoot();
    const t = await startApp(paths, {}, { sink: 'directory' });
    try {
      await t.edge.deliver('results', { ...chainResult(2), items: 'not a list' });
      await waitFor(() => t.completions().length === 1, 10_000, 'the dead letter');
      assert.deepEqual([t.completions()[0]?.outcome, t.completions()[0]?.code, t.completions()[0]?.part], ['deadLettered', 'MESSAGE_INVALID', 'chain:ocr']);
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });
});
