import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import type { CompletionMessage } from '@edgeml/shared';
import { makeDataRoot, resultMessage, startApp, waitFor } from './fixtures.js';

describe('uploader: result lines waiting in a batch window are announced as held', function () {
  this.timeout(30_000);

  // What broke (#20): result parts were acknowledged only when their batch blob was committed (up to
  // batchWindowMs, 60 s by default), so each source kept a watcher maxInFlight slot meanwhile and the
  // whole suite ran at maxInFlight files per window (100 a minute) whatever the offered rate.
  it('sends held with a lease covering the window as soon as the line is queued, then uploaded when the batch commits', async () => {
    const paths = await makeDataRoot();
    const t = await startApp(paths, {}, { sink: 'directory', results: { batchWindowMs: 600_000, batchIdleMs: 0 } });
    try {
      for (let i = 0; i < 3; i++) await t.edge.deliver('results', resultMessage(i));
      const byOutcome = (o: CompletionMessage['outcome']): CompletionMessage[] => [...t.completions(), ...t.held()].filter((c) => c.outcome === o);
      await waitFor(() => byOutcome('held').length === 3, 10_000, 'three held announcements');
      assert.equal(byOutcome('uploaded').length, 0, 'the window is still open');
      for (const c of byOutcome('held')) {
        assert.equal(c.part, 'result:cls');
        assert.deepEqual(c.expectedParts, ['artifact', 'result:cls']);
        assert.ok((c.leaseMs ?? 0) > 600_000, `lease ${c.leaseMs} covers the window`);
      }
      assert.equal((await t.edge.invoke('flush', null)).status, 200);
      await waitFor(() => byOutcome('uploaded').length === 3, 10_000, 'the batch committed');
      assert.deepEqual(new Set(byOutcome('uploaded').map((c) => c.id)), new Set(byOutcome('held').map((c) => c.id)));
      // A replay of a line already uploaded is re-acknowledged as uploaded, never held again.
      await t.edge.deliver('results', resultMessage(0));
      await waitFor(() => byOutcome('uploaded').length === 4, 10_000, 'the re-acknowledgement');
      assert.equal(byOutcome('held').length, 3);
    } finally {
      await t.stop();
      await rm(paths.root, { recursive: true, force: true });
    }
  });
});
