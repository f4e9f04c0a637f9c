import { EdgeMLError } from '@edgeml/shared';
import type { ItemTensor, PostprocessContext, PostprocessResult, Postprocessor } from './types.js';

/**
 * Greedy CTC decoding of a text recogniser's output (PaddleOCR's `CTCLabelDecode`): the most likely
 * class at each time step, repeats collapsed, blanks removed, each class index looked up in the
 * model's dictionary (the manifest's `labels`: index → character, the blank at `blankIndex`).
 */
export interface CtcSpec {
  readonly kind: 'ctc';
  /** Output to read (`[1, T, K]` probabilities or logits); the first one when absent. */
  readonly output?: string;
  /** Class index of the CTC blank. Default 0 (PaddleOCR). */
  readonly blankIndex?: number;
}

export interface CtcReading {
  readonly text: string;
  /** Mean probability of the kept characters (0 when nothing was read), as PaddleOCR scores a line. */
  readonly confidence: number;
  /** Characters read (`text` may hold fewer UTF-16 units than time steps, or more for astral characters). */
  readonly characters: number;
}

/**
 * Decodes one item's `[T, K]` scores (row-major). A score row that is not a probability
 * distribution (logits) is ranked the same way; its confidence is then the softmax of the winner.
 * @throws EdgeMLError INFERENCE_FAILED when a class index has no label (dictionary and model disagree)
 */
export function ctcDecode(scores: ArrayLike<number>, steps: number, classes: number, labels: readonly string[], blankIndex = 0): CtcReading {
  let text = '';
  let characters = 0;
  let confidenceSum = 0;
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    const row = t * classes;
    let best = 0;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < classes; k++) {
      const v = scores[row + k] ?? Number.NEGATIVE_INFINITY;
      if (v > bestScore) {
        bestScore = v;
        best = k;
      }
    }
    if (best !== blankIndex && best !== previous) {
      const label = labels[best];
      if (label === undefined) throw new EdgeMLError('INFERENCE_FAILED', `class ${best} has no entry in the model's dictionary of ${labels.length} labels`);
      text += label;
      characters++;
      confidenceSum += probabilityOf(scores, row, classes, bestScore);
    }
    previous = best;
  }
  return { text, confidence: characters === 0 ? 0 : confidenceSum / characters, characters };
}

/** The winner's probability: the score itself when the row is already in [0, 1], its softmax otherwise. */
function probabilityOf(scores: ArrayLike<number>, row: number, classes: number, best: number): number {
  if (best >= 0 && best <= 1) return best;
  let sum = 0;
  for (let k = 0; k < classes; k++) sum += Math.exp((scores[row + k] ?? Number.NEGATIVE_INFINITY) - best);
  return sum > 0 ? 1 / sum : 0;
}

/** The post-processor: output `[1, T, K]` → `{ text, confidence, characters }`; `score` = confidence (for routes). */
export function ctc(outputs: readonly ItemTensor[], spec: CtcSpec, ctx: PostprocessContext): PostprocessResult {
  const t = spec.output === undefined ? outputs[0] : outputs.find((o) => o.name === spec.output);
  if (t === undefined) throw new EdgeMLError('INFERENCE_FAILED', `model has no output ${spec.output ?? '(none)'}`);
  if (t.data instanceof BigInt64Array) throw new EdgeMLError('INFERENCE_FAILED', `output ${t.name} is int64; CTC decoding needs float scores`);
  const classes = t.dims[t.dims.length - 1] ?? 0;
  const steps = t.dims[t.dims.length - 2] ?? 0;
  if (t.dims.length < 2 || classes < 2 || steps * classes !== t.data.length) {
    throw new EdgeMLError('INFERENCE_FAILED', `output ${t.name} of shape [${t.dims.join(',')}] is not one [time, classes] score map`);
  }
  if (ctx.labels.length !== classes) {
    throw new EdgeMLError('INFERENCE_FAILED', `output ${t.name} scores ${classes} classes but the model's dictionary has ${ctx.labels.length} labels`);
  }
  const reading = ctcDecode(t.data, steps, classes, ctx.labels, spec.blankIndex ?? 0);
  const confidence = Math.round(reading.confidence * 1e4) / 1e4;
  return { outputs: { text: reading.text, confidence, characters: reading.characters }, score: confidence };
}

export const ctcPostprocessor: Postprocessor<CtcSpec> = {
  kind: 'ctc',
  run: ctc,
  problems(spec) {
    const out: string[] = [];
    const blank = spec['blankIndex'];
    if (blank !== undefined && !(Number.isInteger(blank) && (blank as number) >= 0)) out.push('/blankIndex: must be a non-negative integer');
    if (spec['output'] !== undefined && typeof spec['output'] !== 'string') out.push('/output: must be a string');
    return out;
  },
};
