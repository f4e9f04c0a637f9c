/**
 * The edge client's life: open (the first `open()` is never retried by the SDK, wire notes §2, so we
 * retry it; then the first full twin read; then the listeners that subscribe, which registering would
 * otherwise connect: §4) and close (no more input, running handlers given time to send their outcome).
 */
import type { ModuleClient as SdkModuleClient } from 'azure-iot-device';
import { EdgeMLError, errorMessage, isEdgeMLError } from '../../errors.js';
import type { createRepeatLimiter, Logger } from '../../logging.js';
import { retry } from '../../retry.js';
import type { ConnectionStatus } from './connection.js';
import type { ModuleInputs } from './inputs.js';
import type { ModuleMethods } from './methods.js';
import type { ModuleClientTimings } from './options.js';
import type { ModuleClientState } from './state.js';
import type { TwinReader } from './twin.js';

export interface ModuleClientSessionOptions {
  readonly client: SdkModuleClient;
  readonly logger: Logger;
  readonly shouldLog: ReturnType<typeof createRepeatLimiter>;
  readonly state: ModuleClientState;
  readonly connection: ConnectionStatus;
  readonly twin: TwinReader;
  readonly inputs: ModuleInputs;
  readonly methods: ModuleMethods;
  readonly timings: ModuleClientTimings;
}

export class ModuleClientSession {
  readonly #o: ModuleClientSessionOptions;
  #closing: Promise<void> | undefined;

  constructor(options: ModuleClientSessionOptions) {
    this.#o = options;
  }

  /** @throws EdgeMLError EDGE_CONNECT_FAILED (closed; the connection could not be opened), ABORTED */
  async open(signal?: AbortSignal): Promise<void> {
    const { client, logger, shouldLog, state, connection, twin, inputs, methods, timings } = this.#o;
    if (this.#closing !== undefined) throw new EdgeMLError('EDGE_CONNECT_FAILED', 'edge client is closed');
    if (state.isOpen) return;
    const combined = signal === undefined ? state.signal : AbortSignal.any([signal, state.signal]);
    const started = Date.now();
    try {
      await retry(() => client.open(), {
        ...timings.openBackoff,
        signal: combined,
        onRetry: ({ attempt, delayMs, err }) => {
          const r = shouldLog('open');
          if (r.log) logger.warn({ attempt, delayMs, err, suppressed: r.suppressed }, `edgeHub connection failed, retrying: ${errorMessage(err)}`);
        },
      });
    } catch (err: unknown) {
      if (isEdgeMLError(err) && err.code === 'ABORTED') throw err;
      throw new EdgeMLError('EDGE_CONNECT_FAILED', `could not open the edgeHub connection: ${errorMessage(err)}`, { cause: err });
    }
    await twin.read(combined);
    state.markOpen();
    connection.set(true);
    // Keeps the SDK subscribed to desired patches and makes it reconnect by itself after a loss;
    // the patches themselves are taken from the transport event (sdk-events.ts: exactly one per PATCH).
    twin.twin?.on('properties.desired', () => undefined);
    twin.twin?.on('error', (err: unknown) => logger.warn({ err }, `twin error: ${errorMessage(err)}`));
    methods.attachRegistered();
    inputs.attachListener();
    logger.info({ elapsedMs: Date.now() - started }, 'connected to edgeHub');
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const { client, logger, state, connection, inputs, timings } = this.#o;
      inputs.detach();
      if (inputs.running > 0) await inputs.drain(timings.handlerDrainTimeoutMs);
      state.endLifetime();
      const wasOpen = state.markClosed();
      try {
        await client.close();
      } catch (err: unknown) {
        logger.warn({ err }, `edge client close failed: ${errorMessage(err)}`);
      }
      if (wasOpen) connection.closed();
    })();
    return this.#closing;
  }
}
