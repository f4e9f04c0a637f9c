import assert from 'node:assert/strict';
import { ctc, ctcDecode, postprocessorProblems, readBundledDictionary } from '@edgeml/inferencer';

/** A [T, K] score map whose arg-max per step is `path` (probability `p` for the winner). */
function scores(path: readonly number[], classes: number, p = 0.9): Float32Array {
  const out = new Float32Array(path.length * classes).fill((1 - p) / (classes - 1));
  path.forEach((k, t) => (out[t * classes + k] = p));
  return out;
}

describe('inferencer/postprocess ctc (greedy CTC decoding with the dictionary)', () => {
  const labels = ['', 'a', 'b', 'c', ' '];

  it('collapses repeats, drops blanks, keeps a repeat separated by a blank', () => {
    // a a _ a b b _ _ c ' ' c  →  "aab c c"... step by step: a(aa→a) _ a b(bb→b) _ c ' ' c
    const r = ctcDecode(scores([1, 1, 0, 1, 2, 2, 0, 0, 3, 4, 3], 5), 11, 5, labels);
    assert.equal(r.text, 'aabc c');
    assert.equal(r.characters, 6);
    assert.ok(Math.abs(r.confidence - 0.9) < 1e-6);
  });

  it('reads nothing from blanks only (confidence 0), and refuses a class beyond the dictionary', () => {
    assert.deepEqual(ctcDecode(scores([0, 0, 0], 5), 3, 5, labels), { text: '', confidence: 0, characters: 0 });
    assert.throws(() => ctcDecode(scores([5], 6), 1, 6, labels), /no entry in the model's dictionary/);
  });

  it('takes logits as well: the winner is the same, its confidence is its softmax', () => {
    const logits = new Float32Array([0, 5, 0, 0, 0]);
    const r = ctcDecode(logits, 1, 5, labels);
    assert.equal(r.text, 'a');
    assert.ok(Math.abs(r.confidence - Math.exp(5) / (Math.exp(5) + 4)) < 1e-6);
  });

  it('as a post-processor: [1, T, K] in, { text, confidence, characters } out, score = confidence; shape and dictionary checked', () => {
    const out = ctc([{ name: 'softmax', dtype: 'float32', data: scores([2, 0, 1], 5, 0.8), dims: [1, 3, 5] }], { kind: 'ctc' }, { labels, geometry: undefined });
    assert.deepEqual(out.outputs, { text: 'ba', confidence: 0.8, characters: 2 });
    assert.equal(out.score, 0.8);
    assert.equal(out.label, undefined, 'no label: a text must not become a metric label');
    assert.throws(() => ctc([{ name: 'x', dtype: 'float32', data: new Float32Array(10), dims: [1, 2, 5] }], { kind: 'ctc' }, { labels: ['', 'a'], geometry: undefined }), /dictionary has 2 labels/);
    assert.throws(() => ctc([{ name: 'x', dtype: 'float32', data: new Float32Array(9), dims: [1, 2, 5] }], { kind: 'ctc' }, { labels, geometry: undefined }), /not one \[time, classes\]/);
    assert.deepEqual(postprocessorProblems({ kind: 'ctc', blankIndex: -1 }), ['/postprocessor/blankIndex: must be a non-negative integer']);
    assert.deepEqual(postprocessorProblems({ kind: 'ctc' }), []);
  });

  it('the bundled dictionary is PaddleOCR’s: blank, 6,623 characters, space = the recogniser’s 6,625 classes', () => {
    const dict = readBundledDictionary();
    assert.equal(dict.length, 6625);
    assert.equal(dict[0], '');
    assert.equal(dict[dict.length - 1], ' ');
    for (const ch of 'AZaz09-/') assert.ok(dict.includes(ch), `dictionary has ${ch}`);
  });
});
