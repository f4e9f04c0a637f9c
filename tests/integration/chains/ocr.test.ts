import assert from 'node:assert/strict';
import type { ChainResultMessage, CropsMessage, InferenceResultMessage, TensorMessage } from '@edgeml/shared';
import { editDistance } from '../../helpers/text.js';
import { renderLines, startChainPipeline, type ChainPipeline } from './pipeline.js';

/** Words and numbers as on equipment labels and delivery notes, one to three lines per image. */
const IMAGES: readonly { lines: readonly string[]; rotate180: boolean; format?: 'png' | 'jpeg' }[] = [
  { lines: ['Invoice 4711'], rotate180: false },
  { lines: ['Serial 0042-XK', 'Lot 2026/11'], rotate180: false },
  { lines: ['Pallet B-17'], rotate180: true },
  { lines: ['Order 55123', 'Rack C-04'], rotate180: true, format: 'jpeg' },
  { lines: ['Sensor OK', 'Unit 318', 'Batch 9981'], rotate180: false },
  { lines: ['Dock A12 North'], rotate180: true },
  { lines: ['Voltage 230V 50Hz'], rotate180: false, format: 'jpeg' },
  { lines: ['Model TX-900', 'Max load 1500 kg'], rotate180: true },
];

async function waitUntil(what: string, predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const chainResults = (p: ChainPipeline): ChainResultMessage[] => p.to('$upstream').filter((r) => r.body['schema'] === 'edgeml.chain.result/v1').map((r) => r.body as unknown as ChainResultMessage);

describe('inference chain: detection → crops → orientation → recognition → one result per file', function () {
  this.timeout(600_000);
  let p: ChainPipeline;
  const ids = new Map<string, (typeof IMAGES)[number]>();
  before(async () => {
    p = await startChainPipeline();
    for (const [i, image] of IMAGES.entries()) {
      const msg = await p.drop(`label-${i}.${image.format === 'jpeg' ? 'jpg' : 'png'}`, await renderLines(image.lines, { rotate180: image.rotate180, ...(image.format === undefined ? {} : { format: image.format }) }));
      ids.set(msg.id, image);
    }
    await waitUntil('a chain result for every image', () => chainResults(p).length >= IMAGES.length, 540_000);
    await waitUntil('every routed message handled', () => p.pending() === 0, 30_000);
  });
  after(async () => p?.stop());

  it('reads rendered words and numbers, upright and upside down, with a character error rate under 10 %', () => {
    let errors = 0;
    let chars = 0;
    const lines: string[] = [];
    for (const result of chainResults(p)) {
      const image = ids.get(result.id);
      assert.ok(image, `a result for a source of this test (${result.source.path})`);
      const truth = image.lines.join('\n');
      const d = editDistance(result.text, truth);
      errors += d;
      chars += [...truth].length;
      lines.push(`${result.source.path.padEnd(20)} ${image.rotate180 ? '180°' : '  0°'}  ${JSON.stringify(result.text)}  (truth ${JSON.stringify(truth)}, ${d} edits)`);
      if (image.rotate180) assert.ok(result.items.every((it) => it.orientation?.rotated === true), `${result.source.path}: every line of an upside-down image is turned before it is read`);
      else assert.ok(result.items.every((it) => it.orientation?.rotated === false), `${result.source.path}: no line of an upright image is turned`);
    }
    const cer = errors / chars;
    console.log(`      character error rate ${(cer * 100).toFixed(2)} % (${errors} edits over ${chars} characters, ${IMAGES.length} images)\n${lines.map((l) => `        ${l}`).join('\n')}`);
    assert.ok(cer < 0.1, `character error rate ${(cer * 100).toFixed(1)} %`);
  });

  it('gathers lines with boxes in source pixels and confidences, and names every model', () => {
    for (const result of chainResults(p)) {
      const image = ids.get(result.id)!;
      assert.equal(result.part, 'chain:ocr');
      assert.equal(result.items.length, image.lines.length, `${result.source.path}: one item per rendered line: ${JSON.stringify(result.items.map((i) => i.text))}`);
      for (const item of result.items) {
        assert.equal(item.points.length, 4);
        assert.ok(item.bbox.width > 0 && item.bbox.height > 0);
        assert.ok(item.confidence! > 0.5 && item.confidence! <= 1, `confidence ${item.confidence}`);
        assert.ok(item.accepted);
      }
      assert.equal(result.models.detector.name, 'paddleocr-det');
      assert.equal(result.models.orientation?.name, 'paddleocr-cls');
      assert.equal(result.models.reader?.name, 'paddleocr-rec');
    }
  });

  it('tells the watcher about the chain part before any part can be acknowledged, and sends its result to the uploader', () => {
    // The first messages the uploader acknowledges (artifacts, whole-image results) already name the chain part.
    for (const r of [...p.to('uploader/artifacts'), ...p.to('uploader/results')]) assert.ok((r.body['expectedParts'] as string[]).includes('chain:ocr'), `${r.output} of ${String(r.body['id'])} names chain:ocr`);
    const uploaded = p.to('uploader/results').filter((r) => r.body['schema'] === 'edgeml.chain.result/v1');
    assert.equal(uploaded.length, IMAGES.length);
    // Crop results go on to the next step only: never to $upstream or the uploader.
    assert.equal(
      p.routed.filter((r) => (r.to === '$upstream' || r.to === 'uploader/results') && r.body['chain'] !== undefined && typeof r.body['chain'] === 'object').length,
      0,
    );
    // Nothing was dead-lettered or handed back on the way.
    assert.deepEqual(p.to('watcher/completed').map((r) => `${String(r.body['module'])}:${String(r.body['outcome'])}:${String(r.body['code'])}`), []);
  });

  it('a duplicate detection result produces the same names and message ids', async () => {
    const [id] = [...ids.keys()];
    const det = p.edges.inferencer.sentTo('results').map((m) => m.json as InferenceResultMessage).find((r) => r.id === id && r.part === 'result:det')!;
    const before = {
      plans: p.edges.transformer.sentTo('crops').filter((m) => (m.json as CropsMessage).id === id).map((m) => m.messageId),
      results: chainResults(p).filter((r) => r.id === id).map((r) => r.messageId),
    };
    await p.deliver('transformer', 'detections', det);
    await waitUntil('the duplicate run to finish', () => chainResults(p).filter((r) => r.id === id).length === 2, 120_000);
    await waitUntil('every routed message handled', () => p.pending() === 0, 30_000);
    const plans = p.edges.transformer.sentTo('crops').filter((m) => (m.json as CropsMessage).id === id);
    assert.deepEqual(new Set(plans.map((m) => m.messageId)), new Set(before.plans), 'the same plan message id');
    const crops = p.edges.transformer.sentTo('tensors').filter((m) => (m.json as TensorMessage).id === id && (m.json as TensorMessage).chain !== undefined);
    const byStep = new Map<string, Set<string>>();
    for (const m of crops) {
      const t = m.json as TensorMessage;
      const key = `${t.chain!.step}:${t.chain!.index}`;
      byStep.set(key, (byStep.get(key) ?? new Set()).add(`${m.messageId ?? ''}|${t.tensor.path}|${t.tensor.sha256}`));
    }
    for (const [key, variants] of byStep) assert.equal(variants.size, 1, `crop ${key}: one message id, path and content across both runs`);
    assert.deepEqual(new Set(chainResults(p).filter((r) => r.id === id).map((r) => r.messageId)), new Set(before.results), 'the same chain result message id');
  });

  it('a re-emission that lacks only the chain part runs the detector again (not the classifier or the artifact), with the same ids', async () => {
    const [first, id] = [...ids.entries()].map(([k]) => k).slice(0, 2);
    assert.ok(first !== undefined && id !== undefined);
    const file = p.edges.transformer.sentTo('tensors').map((m) => m.json as TensorMessage).find((t) => t.id === id && t.part === 'result:det')!;
    const sentBefore = p.edges.transformer.sent.length;
    const resultsBefore = chainResults(p).filter((r) => r.id === id).map((r) => r.messageId);
    await p.deliver('transformer', 'files', {
      schema: 'edgeml.file/v1',
      id,
      messageId: `${id.slice(0, 16)}-2`,
      attempt: 2,
      doneParts: ['artifact', 'result:cls', 'result:det'],
      source: { ...file.source, name: file.source.path.slice(6), extension: file.source.path.endsWith('.jpg') ? '.jpg' : '.png', kind: 'image', mtimeMs: 1 },
      detectedAt: file.source.detectedAt,
      stableAt: file.source.detectedAt,
      createdAt: file.source.detectedAt,
    });
    await waitUntil('the chain to run again', () => chainResults(p).filter((r) => r.id === id).length === 2, 120_000);
    await waitUntil('every routed message handled', () => p.pending() === 0, 30_000);
    const whole = p.edges.transformer.sent.slice(sentBefore).filter((m) => (m.json as { chain?: unknown }).chain === undefined && m.outputName !== 'crops');
    assert.deepEqual(whole.map((m) => `${m.outputName}:${(m.json as { part: string }).part}`), ['tensors:result:det'], 'only the detector tensor again');
    assert.deepEqual(new Set(chainResults(p).filter((r) => r.id === id).map((r) => r.messageId)), new Set(resultsBefore));
  });

  it('a chain no longer configured still closes its part: an empty result that says why', async () => {
    const id = [...ids.keys()][2]!;
    const det = p.edges.inferencer.sentTo('results').map((m) => m.json as InferenceResultMessage).find((r) => r.id === id && r.part === 'result:det')!;
    await p.deliver('transformer', 'detections', { ...det, messageId: `${det.messageId}-other`, expectedParts: [...det.expectedParts, 'chain:retired'] });
    await waitUntil('the result of the retired chain', () => chainResults(p).some((r) => r.part === 'chain:retired'), 60_000);
    const r = chainResults(p).find((x) => x.part === 'chain:retired')!;
    assert.deepEqual(r.items, []);
    assert.match(r.skipped ?? '', /chain retired is not configured/);
  });

  it('failures end in an outcome for the chain part: content changed → dead letter; a consumed crop tensor → deferral; a malformed message → dead letter', async () => {
    const before = p.to('watcher/completed').length;
    const [a, b] = [...ids.keys()];
    const det = p.edges.inferencer.sentTo('results').map((m) => m.json as InferenceResultMessage).find((r) => r.id === a && r.part === 'result:det')!;
    const other = p.edges.inferencer.sentTo('results').map((m) => m.json as InferenceResultMessage).find((r) => r.id === b && r.part === 'result:det')!;
    // The detection names a file whose content is not the one detected.
    await p.deliver('transformer', 'detections', { ...det, messageId: `${det.messageId}-moved`, source: other.source });
    // An orientation whose crop tensors are all consumed already (a late duplicate).
    const rotatedId = [...ids.entries()].find(([, v]) => v.rotate180)![0];
    const orient = p.edges.inferencer.sentTo('orientations').map((m) => m.json as InferenceResultMessage).find((r) => r.id === rotatedId && r.chain?.step === 'orient')!;
    await p.deliver('transformer', 'orientations', orient);
    await p.deliver('transformer', 'detections', { id: a, expectedParts: ['chain:ocr'], schema: 'edgeml.inference.result/v1' });
    await waitUntil('three completions', () => p.to('watcher/completed').length >= before + 3, 30_000);
    const got = p.to('watcher/completed').slice(before).map((r) => `${String(r.body['part'])}:${String(r.body['outcome'])}:${String(r.body['code'])}`);
    assert.deepEqual(got.sort(), ['chain:ocr:deadLettered:CONTENT_CHANGED', 'chain:ocr:deadLettered:MESSAGE_INVALID', 'chain:ocr:deferred:FILE_NOT_FOUND'].sort());
  });
});
