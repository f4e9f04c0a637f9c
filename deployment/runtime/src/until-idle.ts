/**
 * Waiting until the suite is idle: the watcher's getStatus says every file it found is closed
 * (status.ts `isIdle`), and it keeps saying so for `settleMs`.
 */
import type { EdgeHub } from '@edgeml/edge-hub';
import { sleep } from '@edgeml/shared';
import { isIdle } from './status.js';

export interface UntilIdleOptions {
  readonly signal?: AbortSignal;
  /** Between two getStatus calls. Default 1 000 ms. */
  readonly pollMs?: number;
  /** How long idle must hold. Default 3 000 ms. */
  readonly settleMs?: number;
}

/** Resolves once the watcher reports idle through the hub `hub()` returns at each poll. */
export async function waitUntilIdle(hub: () => EdgeHub, o: UntilIdleOptions = {}): Promise<void> {
  const pollMs = o.pollMs ?? 1_000;
  const settleMs = o.settleMs ?? 3_000;
  let idleSince: number | undefined;
  for (;;) {
    const r = await hub()
      .invokeMethod('watcher', 'getStatus', null, { responseTimeoutMs: 5_000 })
      .catch(() => undefined);
    if (r !== undefined && r.status === 200 && isIdle(r.payload)) {
      idleSince ??= Date.now();
      // Idle must hold for a moment: a file may become stable between two polls.
      if (Date.now() - idleSince >= settleMs) return;
    } else idleSince = undefined;
    await sleep(pollMs, o.signal);
  }
}
