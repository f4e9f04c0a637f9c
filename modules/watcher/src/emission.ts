/**
 * Emission: pending items become `files` messages, at most `maxInFlight` in flight. Write-ahead:
 * the ledger commits the emission (attempt counted, `sent = 0`) before the message goes out and
 * marks it sent after edgeHub accepted it, so a crash in between re-sends the same attempt. A
 * failed send pauses sending with backoff.
 */
import { backoffDelayMs, errorCode, type DataPaths, type EdgeClient, type Logger } from '@edgeml/shared';
import type { WatcherConfig } from './config.js';
import { doneParts } from './item-state.js';
import { relativePosix } from './inventory.js';
import type { ItemRecord, Ledger } from './ledger.js';
import type { LimitedLog } from './limited-log.js';
import { mapLimit } from './map-limit.js';
import { buildFileMessage } from './message.js';
import type { WatcherMetrics } from './metrics.js';

export interface EmissionOptions {
  readonly paths: DataPaths;
  readonly ledger: Ledger;
  readonly edge: EdgeClient;
  readonly log: Logger;
  readonly limited: LimitedLog;
  readonly metrics: WatcherMetrics;
  readonly now: () => number;
  readonly config: () => WatcherConfig;
  /** Aborted when the watcher stops: no new round starts. */
  readonly signal: AbortSignal;
  /**
   * Whether pending items may be taken now (false while the disk budget defers intake). Items
   * already in flight are still sent: re-emissions and unsent ones finish what is under way.
   */
  readonly intakeOpen: () => boolean;
  /** Called when the backpressure state flips (for a reported property). */
  readonly onBackpressure?: (active: boolean) => void;
}

/** Items taken per round (one ledger transaction each way). */
const BATCH = 256;
const SEND_CONCURRENCY = 16;
const SEND_RETRY = { initialDelayMs: 200, maxDelayMs: 30_000 } as const;

export class Emission {
  readonly #o: EmissionOptions;
  readonly #sending = new Set<string>();
  #blockedUntil = 0;
  #failures = 0;
  #backpressure = false;
  readonly #inboxPrefix: string;

  constructor(options: EmissionOptions) {
    this.#o = options;
    this.#inboxPrefix = relativePosix(options.paths.share, options.paths.inbox);
  }

  get backpressure(): boolean {
    return this.#backpressure;
  }

  /** Sends unsent emissions and takes pending items up to `maxInFlight`, in rounds of {@link BATCH}. */
  async pump(): Promise<void> {
    const { ledger } = this.#o;
    for (let round = 0; round < 1_000; round++) {
      if (this.#o.signal.aborted) return;
      const now = this.#o.now();
      if (now < this.#blockedUntil) return;
      const unsent = ledger.unsent(BATCH).filter((i) => !this.#sending.has(i.id));
      const slots = this.#o.config().maxInFlight - ledger.inFlight();
      const fresh = slots > 0 && this.#o.intakeOpen() ? ledger.takeForEmission(Math.min(slots, BATCH), now) : [];
      this.#setBackpressure(slots <= 0 && ledger.pendingCount() > 0);
      const batch = [...unsent, ...fresh];
      if (batch.length === 0) return;
      const sent: string[] = [];
      let failed = false;
      await mapLimit(batch, SEND_CONCURRENCY, async (item) => {
        if (failed) return;
        const ok = await this.#send(item);
        if (ok === 'sent') sent.push(item.id);
        else if (ok === 'failed') failed = true;
      });
      if (sent.length > 0) ledger.markSent(sent);
      if (failed || fresh.length < BATCH) return;
    }
  }

  async #send(item: ItemRecord): Promise<'sent' | 'failed' | 'skipped'> {
    const { ledger, log } = this.#o;
    // The path may hold other content by now (overwritten) or be gone: follow the content or let it go.
    const row = ledger.getPath(item.path);
    let current = item;
    if (row === undefined || row.id !== item.id) {
      const other = ledger.pathsForId(item.id)[0];
      if (other === undefined) {
        ledger.markGone(item.id, this.#o.now());
        log.warn({ id: item.id, path: item.path }, 'file vanished or was overwritten before its emission; not emitted');
        return 'skipped';
      }
      ledger.moveItem(item.id, other);
      current = { ...item, path: other.path, sizeBytes: other.sizeBytes, mtimeMs: other.mtimeMs };
    }
    const now = this.#o.now();
    const { body, properties } = buildFileMessage({ ...current, doneParts: doneParts(current, now) }, now, this.#inboxPrefix);
    this.#sending.add(item.id);
    try {
      await this.#o.edge.sendOutput('files', { body, properties, messageId: body.messageId });
      this.#failures = 0;
      // A deferred item offered again keeps its attempt number; only its first sending is 'first'.
      const first = body.attempt === 1 && item.deferrals === 0;
      this.#o.metrics.emitted.inc({ attempt: first ? 'first' : 'retry' });
      if (first) this.#o.metrics.detectionLatency.observe(Math.max(0, now - current.mtimeMs) / 1000);
      log.debug({ id: item.id, path: current.path, attempt: body.attempt }, 'file emitted');
      return 'sent';
    } catch (err: unknown) {
      this.#failures++;
      const delay = backoffDelayMs(this.#failures, SEND_RETRY);
      this.#blockedUntil = this.#o.now() + delay;
      this.#o.limited('send', 'warn', { err, id: item.id, retryInMs: delay }, `could not send a files message (${errorCode(err)}); will retry`);
      return 'failed';
    } finally {
      this.#sending.delete(item.id);
    }
  }

  #setBackpressure(active: boolean): void {
    if (active === this.#backpressure) return;
    this.#backpressure = active;
    this.#o.metrics.backpressure.set(active ? 1 : 0);
    if (active) this.#o.log.warn({ maxInFlight: this.#o.config().maxInFlight, pending: this.#o.ledger.pendingCount() }, 'maxInFlight reached; stable files wait for completions');
    else this.#o.log.info('backpressure released');
    this.#o.onBackpressure?.(active);
  }
}
