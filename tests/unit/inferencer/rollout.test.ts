/**
 * The rollout verdict and the agreement rule, as pure functions: an error spike decides at once,
 * nothing else decides before minItems, then error rate, agreement and latency in that order.
 */
import assert from 'node:assert/strict';
import { ROLLOUT_DEFAULTS, RolloutEvaluator, agrees } from '@edgeml/inferencer';

const spec = { ...ROLLOUT_DEFAULTS, minItems: 10 };
const batch = (outcomes: (boolean | 'failed')[], liveMs = 10, candidateMs = 10) => ({ outcomes, liveMs, liveItems: outcomes.length, candidateMs, candidateItems: outcomes.length });

describe('rollout evaluator', () => {
  it('continues until minItems, then promotes a candidate within every threshold', () => {
    const e = new RolloutEvaluator(spec);
    e.record(batch(Array<boolean>(9).fill(true)));
    assert.equal(e.verdict().decision, 'continue');
    e.record(batch([true]));
    const v = e.verdict();
    assert.equal(v.decision, 'promote');
    assert.deepEqual({ items: e.figures().items, agreement: e.figures().agreement, latencyRatio: e.figures().latencyRatio }, { items: 10, agreement: 1, latencyRatio: 1 });
  });

  it('rolls back on disagreement, on errors over the rate and on latency, naming the reason', () => {
    const disagree = new RolloutEvaluator(spec);
    disagree.record(batch([...Array<boolean>(8).fill(true), false, false]));
    assert.match(JSON.stringify(disagree.verdict()), /rollback.*agreement 0\.8 under minAgreement 0\.95/);
    const errors = new RolloutEvaluator(spec);
    errors.record(batch([...Array<boolean>(9).fill(true), 'failed']));
    assert.match(JSON.stringify(errors.verdict()), /rollback.*error rate 0\.1/);
    const slow = new RolloutEvaluator(spec);
    slow.record(batch(Array<boolean>(10).fill(true), 10, 40));
    assert.match(JSON.stringify(slow.verdict()), /rollback.*4× the live model/);
  });

  it('an error spike rolls back at once, before minItems; a success in between resets the count', () => {
    const e = new RolloutEvaluator({ ...spec, minItems: 1000, maxConsecutiveErrors: 3 });
    e.record(batch(['failed', 'failed', true, 'failed', 'failed']));
    assert.equal(e.verdict().decision, 'continue');
    e.record(batch(['failed']));
    assert.match(JSON.stringify(e.verdict()), /rollback.*error spike.*3 items in a row/);
  });

  it('agreement: labels when both have one; otherwise outputs within 0.1 %', () => {
    assert.equal(agrees({ outputs: { x: 1 }, label: 'cat', score: 0.9 }, { outputs: { x: 2 }, label: 'cat', score: 0.6 }), true);
    assert.equal(agrees({ outputs: {}, label: 'cat' }, { outputs: {}, label: 'dog' }), false);
    assert.equal(agrees({ outputs: { t: [{ mean: 1.0 }] } }, { outputs: { t: [{ mean: 1.0005 }] } }), true);
    assert.equal(agrees({ outputs: { t: [{ mean: 1.0 }] } }, { outputs: { t: [{ mean: 1.01 }] } }), false);
    assert.equal(agrees({ outputs: { boxes: [1, 2] } }, { outputs: { boxes: [1] } }), false);
  });
});
