/**
 * The SDK's events (connect, disconnects, desired patches, errors), passed on while the client is open.
 * Attached when the client is built: none of them is a feature listener that subscribes (wire notes §4).
 */
import type { ModuleClient as SdkModuleClient } from 'azure-iot-device';
import { errorMessage } from '../../errors.js';
import type { createRepeatLimiter, Logger } from '../../logging.js';
import type { ConnectionStatus } from './connection.js';
import type { DesiredListeners } from './desired.js';
import type { Recovery } from './recovery.js';
import type { ModuleClientState } from './state.js';

export interface SdkEventsOptions {
  readonly client: SdkModuleClient;
  readonly logger: Logger;
  readonly shouldLog: ReturnType<typeof createRepeatLimiter>;
  readonly state: ModuleClientState;
  readonly connection: ConnectionStatus;
  readonly desired: DesiredListeners;
  readonly recovery: Recovery;
}

export function listenToSdk(o: SdkEventsOptions): void {
  const { client, logger, shouldLog, state, connection } = o;
  // Every (re)connect of the transport: the first one is handled by open(), one of our reopen by the reopen
  // (recovery.ts); the others are the SDK's silent reconnects, after which it subscribes methods and inputs
  // again but never desired patches (wire notes §7).
  client.on('connect', () => {
    if (!state.isOpen) return;
    connection.set(true);
    o.recovery.reconnected();
  });
  // The SDK swallows retryable disconnects (wire notes §7); its transport still reports them.
  client._transport.on('disconnect', (err?: Error) => {
    if (!state.isOpen) return;
    connection.set(false, err === undefined ? 'transport disconnected' : errorMessage(err));
  });
  client._transport.on('twinDesiredPropertiesUpdate', (patch: unknown) => {
    if (!state.isOpen || patch === null || typeof patch !== 'object') return;
    o.desired.emit({ kind: 'patch', properties: structuredClone(patch) as Record<string, unknown> });
  });
  // The SDK's final disconnect: its own retry policy gave up. Keep trying with ours.
  client.on('disconnect', (result: unknown) => {
    if (!state.isOpen || state.signal.aborted) return;
    const reason = errorMessage((result as { transportObj?: unknown } | undefined)?.transportObj ?? 'disconnected');
    connection.set(false, reason);
    logger.warn({ reason }, 'edgeHub connection lost and the SDK stopped retrying; reopening');
    o.recovery.reopen();
  });
  client.on('error', (err: unknown) => {
    const r = shouldLog('client-error');
    if (r.log) logger.warn({ err, suppressed: r.suppressed }, `edge client error: ${errorMessage(err)}`);
  });
}
