/**
 * Subscribes again what the module listens to, after the edge client reopened a connection the SDK had
 * given up on (its final `disconnect`). The SDK re-subscribes its features only from its own reconnect
 * path, which has ended by then; `open()` subscribes nothing, and its topic state may be stale: the twin
 * topics keep "subscribed" from the connection before (wire notes §7). Without this the module stays
 * connected and gets no input, no direct method (the hub answers 404) and no desired patch, for as long
 * as the hub holds no such subscription in the module's session (a hub that lost its state, or a module
 * whose SUBSCRIBEs never reached it).
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../logging.js';

/** The SDK transport calls that (un)subscribe one feature each: a subset of azure-iot-device's `DeviceTransport`. */
export interface SubscribingTransport {
  enableInputMessages(done: (err?: Error) => void): void;
  enableMethods(done: (err?: Error) => void): void;
  enableTwinDesiredPropertiesUpdates(done: (err?: Error) => void): void;
  disableTwinDesiredPropertiesUpdates(done: (err?: Error) => void): void;
}

/** Which features the module listens to, hence which to subscribe again. */
export interface ListenedFeatures {
  readonly inputs: boolean;
  readonly methods: boolean;
  readonly desired: boolean;
}

function call(op: (done: (err?: Error) => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    op((err?: Error) => {
      if (err !== undefined && err !== null) reject(err);
      else resolve();
    });
  });
}

/**
 * Subscribes inputs, methods and desired patches again, as listened to. Desired patches are unsubscribed
 * first: the SDK skips a SUBSCRIBE its twin topic state calls done, so only an UNSUBSCRIBE makes it send
 * one. A desired patch made in between is sent by the hub on the SUBSCRIBE (it sends the difference) and
 * is in the full twin re-read that follows every reconnect anyway. A failure is logged and left to the
 * SDK: if the connection is lost again its reconnect (or the next reopen) subscribes once more.
 * Resolves to the features subscribed.
 */
export async function resubscribeAfterReopen(transport: SubscribingTransport, features: ListenedFeatures, logger: Logger): Promise<string[]> {
  const steps: Array<[string, () => Promise<void>]> = [];
  if (features.inputs) steps.push(['inputs', () => call((done) => transport.enableInputMessages(done))]);
  if (features.methods) steps.push(['methods', () => call((done) => transport.enableMethods(done))]);
  if (features.desired) {
    steps.push([
      'desired',
      async () => {
        await call((done) => transport.disableTwinDesiredPropertiesUpdates(done));
        await call((done) => transport.enableTwinDesiredPropertiesUpdates(done));
      },
    ]);
  }
  const results = await Promise.allSettled(steps.map(([, run]) => run()));
  const done: string[] = [];
  results.forEach((r, i) => {
    const feature = steps[i]?.[0] ?? '?';
    if (r.status === 'fulfilled') done.push(feature);
    else logger.warn({ feature, err: r.reason as unknown }, `could not subscribe ${feature} again after the reopen: ${errorMessage(r.reason)}`);
  });
  return done;
}
