import assert from 'node:assert/strict';
import { backoffDelayMs, EdgeMLError, retry, sleep } from '@edgeml/shared';

describe('shared/retry', () => {
  it('keeps every backoff delay within [base × (1 − jitter), base] and under the cap', () => {
    const options = { initialDelayMs: 100, maxDelayMs: 5_000, multiplier: 2, jitterRatio: 0.5 };
    for (let attempt = 1; attempt <= 30; attempt++) {
      const base = Math.min(5_000, 100 * 2 ** (attempt - 1));
      for (const r of [0, 0.25, 0.5, 0.999, 1]) {
        const d = backoffDelayMs(attempt, options, () => r);
        assert.ok(d >= Math.floor(base * 0.5) && d <= base, `attempt ${attempt} r=${r}: ${d} not in [${base * 0.5}, ${base}]`);
      }
    }
  });

  it('clamps nonsense inputs (attempt 0, random outside [0,1], jitter > 1)', () => {
    assert.equal(backoffDelayMs(0, { initialDelayMs: 10, jitterRatio: 0 }), 10);
    assert.equal(backoffDelayMs(1, { initialDelayMs: 10, jitterRatio: 5 }, () => 2), 0);
    assert.equal(backoffDelayMs(3, { initialDelayMs: 10, jitterRatio: 0 }, () => -1), 40);
  });

  it('aborts a sleep at once when the signal fires', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = sleep(60_000, controller.signal);
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(pending, (err: unknown) => err instanceof EdgeMLError && err.code === 'ABORTED');
    assert.ok(Date.now() - started < 5_000);
  });

  it('retries transient failures, stops on a fatal one, and respects maxAttempts', async () => {
    const delays: number[] = [];
    let calls = 0;
    const value = await retry(
      (attempt) => {
        calls++;
        return attempt < 3 ? Promise.reject(new Error('transient')) : Promise.resolve('ok');
      },
      { sleep: (ms) => (delays.push(ms), Promise.resolve()), random: () => 0, initialDelayMs: 10 },
    );
    assert.equal(value, 'ok');
    assert.equal(calls, 3);
    assert.deepEqual(delays, [10, 20]);

    calls = 0;
    await assert.rejects(
      retry(() => (calls++, Promise.reject(new Error('fatal'))), { classify: () => 'fatal', sleep: () => Promise.resolve() }),
      /fatal/,
    );
    assert.equal(calls, 1);

    calls = 0;
    await assert.rejects(retry(() => (calls++, Promise.reject(new Error('x'))), { maxAttempts: 4, sleep: () => Promise.resolve() }), /x/);
    assert.equal(calls, 4);
  });

  it('stops retrying when aborted during the backoff', async () => {
    const controller = new AbortController();
    const pending = retry(() => Promise.reject(new Error('down')), { signal: controller.signal, initialDelayMs: 60_000 });
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(pending, (err: unknown) => err instanceof EdgeMLError && err.code === 'ABORTED');
  });
});
