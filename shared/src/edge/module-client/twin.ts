/**
 * The module twin: the full read (on open, and after every reconnect, since desired patches sent while
 * the connection was away can be lost: wire notes §7), delivered as `{ kind: 'full' }`. The SDK's twin
 * calls have no timeout, so each GET is bounded and retried with the open backoff.
 */
import type { ModuleClient as SdkModuleClient, Twin } from 'azure-iot-device';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../logging.js';
import { retry } from '../../retry.js';
import type { DesiredListeners } from './desired.js';
import type { ModuleClientTimings } from './options.js';
import type { ModuleClientState } from './state.js';
import { withTimeout } from './timeout.js';

export interface TwinReaderOptions {
  readonly client: SdkModuleClient;
  readonly logger: Logger;
  readonly state: ModuleClientState;
  readonly desired: DesiredListeners;
  readonly timings: ModuleClientTimings;
}

export class TwinReader {
  readonly #o: TwinReaderOptions;
  #twin: Twin | undefined;
  #rereading: Promise<void> | undefined;
  #rereadAgain = false;

  constructor(options: TwinReaderOptions) {
    this.#o = options;
  }

  /** The SDK's twin, once the first read has got it (reported updates and its listeners go through it). */
  get twin(): Twin | undefined {
    return this.#twin;
  }

  /** Reads the full twin (retried until `signal` aborts) and hands the desired document to the listeners. */
  async read(signal: AbortSignal): Promise<void> {
    const { client, logger, desired, timings } = this.#o;
    const t = await retry(
      async () => {
        // The SDK creates its Twin on first use and reuses it; get() re-reads into a fresh cache.
        const current = this.#twin ?? (await withTimeout(client.getTwin(), timings.twinReadTimeoutMs, 'twin GET'));
        if (this.#twin === undefined) this.#twin = current;
        else await withTimeout(current.get(), timings.twinReadTimeoutMs, 'twin GET');
        return current;
      },
      {
        ...timings.openBackoff,
        signal,
        onRetry: ({ attempt, delayMs, err }) => logger.warn({ attempt, delayMs, err }, `twin read failed, retrying: ${errorMessage(err)}`),
      },
    );
    const document = structuredClone(t.properties.desired) as Record<string, unknown>;
    logger.info({ desiredVersion: document['$version'] }, 'twin read');
    desired.emit({ kind: 'full', properties: document });
  }

  /** Re-reads the twin after a reconnect; concurrent requests coalesce into one more read. */
  scheduleReread(): void {
    const { state, logger } = this.#o;
    if (!state.isOpen || state.signal.aborted) return;
    if (this.#rereading !== undefined) {
      this.#rereadAgain = true;
      return;
    }
    this.#rereading = (async () => {
      do {
        this.#rereadAgain = false;
        try {
          await this.read(state.signal);
        } catch (err: unknown) {
          if (!state.signal.aborted) logger.error({ err }, `twin re-read after reconnect failed: ${errorMessage(err)}`);
          return;
        }
      } while (this.#rereadAgain && !state.signal.aborted);
    })().finally(() => {
      this.#rereading = undefined;
    });
  }
}
