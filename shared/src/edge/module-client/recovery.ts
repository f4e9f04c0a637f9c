/**
 * What follows a lost connection. After the SDK's own reconnect it subscribes methods and inputs again but
 * never desired patches (wire notes §7); after its final disconnect (its retry policy gave up) we reopen
 * with our own backoff, and `open()` subscribes nothing, so inputs, methods and desired patches are all
 * subscribed again (resubscribe.ts). Either way the full twin is re-read afterwards: changes made meanwhile
 * are in it.
 */
import type { ModuleClient as SdkModuleClient } from 'azure-iot-device';
import { errorMessage } from '../../errors.js';
import type { createRepeatLimiter, Logger } from '../../logging.js';
import { retry } from '../../retry.js';
import { resubscribe, type ListenedFeatures } from '../resubscribe.js';
import type { ModuleInputs } from './inputs.js';
import type { ModuleMethods } from './methods.js';
import type { ModuleClientTimings } from './options.js';
import type { ModuleClientState } from './state.js';
import type { TwinReader } from './twin.js';

export interface RecoveryOptions {
  readonly client: SdkModuleClient;
  readonly logger: Logger;
  readonly shouldLog: ReturnType<typeof createRepeatLimiter>;
  readonly state: ModuleClientState;
  readonly twin: TwinReader;
  readonly inputs: ModuleInputs;
  readonly methods: ModuleMethods;
  readonly timings: ModuleClientTimings;
}

export class Recovery {
  readonly #o: RecoveryOptions;
  #reopening: Promise<void> | undefined;

  constructor(options: RecoveryOptions) {
    this.#o = options;
  }

  /** A (re)connect of the transport while open: unless it is our reopen's (handled there), the SDK reconnected by itself. */
  reconnected(): void {
    if (this.#reopening === undefined) this.#subscribeAgainThenReread({ inputs: false, methods: false, desired: true }, 'reconnected');
  }

  /** The SDK's final disconnect: keeps trying with our backoff until open or closed (one reopen at a time). */
  reopen(): void {
    const { client, logger, shouldLog, state, inputs, methods, timings } = this.#o;
    this.#reopening ??= retry(() => client.open(), {
      ...timings.openBackoff,
      signal: state.signal,
      onRetry: ({ attempt, delayMs, err }) => {
        const r = shouldLog('reopen');
        if (r.log) logger.warn({ attempt, delayMs, err, suppressed: r.suppressed }, `reopen failed: ${errorMessage(err)}`);
      },
    })
      .then(
        () => {
          // The SDK gave up re-enabling what it listens to (that is what its final disconnect reports) and
          // open() subscribes nothing: without this the module sat connected with no input, no direct
          // method and no desired patch (observed after a hub restart mid-startup, and after a TCP reset).
          this.#subscribeAgainThenReread({ inputs: inputs.listenerAttached, methods: methods.anyAttached, desired: true }, 'reopened after the SDK gave up');
        },
        (err: unknown) => {
          if (!state.signal.aborted) logger.error({ err }, 'reopen gave up');
        },
      )
      .finally(() => {
        this.#reopening = undefined;
      });
  }

  /** Subscribes again what the SDK does not, then re-reads the full twin (changes made meanwhile are in it). */
  #subscribeAgainThenReread(features: ListenedFeatures, what: string): void {
    const { client, logger, twin, timings } = this.#o;
    void resubscribe(client._transport, features, { logger, timeoutMs: timings.twinReadTimeoutMs, what }).then(() => twin.scheduleReread());
  }
}
