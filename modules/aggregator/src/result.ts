/**
 * A complete run → its per-file result (`edgeml.chain.result/v1`), pure: each planned crop with what
 * the chain's last step read (a recogniser's text and confidence, or a classifier's label and
 * score), in reading order, and the text of the accepted items, rows on their own lines. When most
 * crops were turned 180° the source was upside down, and the reading order is the page's.
 */
import { SCHEMAS, deterministicMessageId, type ChainItem, type ChainResultMessage, type ModelRef } from '@edgeml/shared';
import type { Reading, Run } from './gather.js';

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** What one reading says: text + confidence (CTC) or label + score (classification). */
export function readingOf(outputs: Readonly<Record<string, unknown>>): Pick<ChainItem, 'text' | 'confidence' | 'label' | 'score'> {
  if (typeof outputs['text'] === 'string') {
    const confidence = num(outputs['confidence']) ?? num(outputs['score']) ?? 0;
    return { text: outputs['text'], confidence: Math.min(1, Math.max(0, confidence)) };
  }
  const label = outputs['label'];
  return { label: typeof label === 'string' ? label : String(label ?? ''), score: num(outputs['score']) ?? 0 };
}

const modelKey = (m: ModelRef | undefined): string => (m === undefined ? '' : `${m.name}@${m.version}`);

/** The first model among the readings (a run is read by one model unless it was swapped meanwhile). */
function firstModel(readings: Iterable<Reading>, pick: (r: Reading) => ModelRef | undefined): ModelRef | undefined {
  for (const r of readings) {
    const m = pick(r);
    if (m !== undefined) return m;
  }
  return undefined;
}

/**
 * Builds the result of a complete run (`run.plan` set, a reading for every crop).
 * @throws RangeError when the run is not complete (a bug: call it on `complete` only)
 */
export function buildChainResult(run: Run, options: { readonly minConfidence: number; readonly now: Date }): ChainResultMessage {
  const plan = run.plan;
  if (plan === undefined) throw new RangeError(`run ${run.key} has no plan yet`);
  const items: ChainItem[] = plan.crops.map((crop) => {
    const reading = run.readings.get(crop.index);
    if (reading === undefined) throw new RangeError(`run ${run.key} misses the reading of crop ${crop.index}`);
    const read = readingOf(reading.outputs);
    const confidence = read.confidence ?? read.score ?? 0;
    const accepted = confidence >= options.minConfidence && (read.text === undefined || read.text.trim() !== '');
    const orientation = reading.orientation === undefined ? undefined : { label: reading.orientation.label, score: reading.orientation.score, rotated: reading.orientation.rotated };
    return {
      index: crop.index,
      row: crop.row,
      points: crop.points,
      bbox: crop.bbox,
      ...read,
      accepted,
      detectionScore: crop.score,
      ...(orientation === undefined ? {} : { orientation }),
    };
  });
  // A page whose lines were mostly turned 180° was upside down as a whole: its reading order is the
  // crops' order reversed (last row first, each row right to left), rows numbered the page's way.
  const turned = items.filter((i) => i.orientation?.rotated === true).length;
  const upsideDown = items.length > 0 && turned * 2 > items.length;
  if (upsideDown) {
    const lastRow = Math.max(...items.map((i) => i.row));
    items.reverse();
    for (let i = 0; i < items.length; i++) items[i] = { ...items[i]!, row: lastRow - items[i]!.row };
  }
  const readings = [...run.readings.values()];
  const reader = firstModel(readings, (r) => r.model);
  const orientation = firstModel(readings, (r) => r.orientation?.model);
  const rows = new Map<number, string[]>();
  for (const item of items) {
    if (!item.accepted || item.text === undefined) continue;
    const row = rows.get(item.row) ?? [];
    row.push(item.text.trim());
    rows.set(item.row, row);
  }
  const text = [...rows.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, words]) => words.join(' '))
    .join('\n');
  return {
    schema: SCHEMAS.chainResult,
    id: run.id,
    messageId: deterministicMessageId(run.id, 'chain-result', run.chain, run.run, modelKey(orientation), modelKey(reader)),
    source: plan.source,
    part: plan.part,
    expectedParts: [...plan.expectedParts],
    chain: run.chain,
    run: run.run,
    models: { detector: plan.detection.model, ...(orientation === undefined ? {} : { orientation }), ...(reader === undefined ? {} : { reader }) },
    items,
    text,
    upsideDown,
    minConfidence: options.minConfidence,
    droppedBoxes: plan.droppedBoxes,
    ...(plan.skipped === undefined ? {} : { skipped: plan.skipped }),
    createdAt: options.now.toISOString(),
  };
}

/** Application properties of a chain result, for route WHERE clauses (values are strings; `text` cut at 256 characters). */
export function chainResultProperties(r: ChainResultMessage): Record<string, string> {
  const accepted = r.items.filter((i) => i.accepted);
  return {
    schema: SCHEMAS.chainResult,
    id: r.id,
    part: r.part,
    chain: r.chain,
    items: String(r.items.length),
    accepted: String(accepted.length),
    text: r.text.replace(/\s+/g, ' ').trim().slice(0, 256),
  };
}
