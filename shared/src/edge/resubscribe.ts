/**
 * Subscribes again, after a reconnect, what the SDK does not. After the edge client reopened a connection
 * the SDK had given up on (its final `disconnect`) that is everything: the SDK re-subscribes only from its
 * own reconnect path, which has ended by then, and `open()` subscribes nothing. After the SDK's own
 * reconnect it is desired patches and twin responses: their topic state keeps "subscribed" from the
 * connection before (wire notes §7). Without this the module stays connected and gets no input, no direct
 * method (the hub answers 404), no desired patch or no answer to a twin read or reported update, for as
 * long as the hub holds no such subscription in the module's session (a hub that lost its state, or a
 * module whose SUBSCRIBEs never reached it).
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../logging.js';

/**
 * The twin response topic's state as azure-iot-device-mqtt keeps it (`MqttTwinClient`, version pinned):
 * the SDK has no call that subscribes `$iothub/twin/res/#` again, only this state machine, which
 * subscribes on the first twin request and then calls every later one done.
 */
export interface TwinResponseTopic {
  readonly _responseTopic: object;
  readonly _topicFsm: {
    subscribe(topic: object, done: (err?: Error) => void): void;
    unsubscribe(topic: object, done: (err?: Error) => void): void;
  };
}

/** The SDK transport calls that (un)subscribe one feature each: a subset of azure-iot-device's `DeviceTransport`. */
export interface SubscribingTransport {
  enableInputMessages(done: (err?: Error) => void): void;
  enableMethods(done: (err?: Error) => void): void;
  enableTwinDesiredPropertiesUpdates(done: (err?: Error) => void): void;
  disableTwinDesiredPropertiesUpdates(done: (err?: Error) => void): void;
  /** The MQTT transport's twin client (absent on other transports: nothing to do then). */
  readonly _twinClient?: TwinResponseTopic;
}

/** Which features to subscribe again. */
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
 * Subscribes inputs, methods and desired patches again, as asked. Desired patches are unsubscribed
 * first: the SDK skips a SUBSCRIBE its twin topic state calls done, so only an UNSUBSCRIBE makes it send
 * one; a desired patch made in between is sent by the hub on the SUBSCRIBE (it sends the difference), and
 * the caller re-reads the full twin afterwards. Never rejects: the outcome is logged (`what` says after
 * which event) and a failure is left to the SDK's next reconnect or the next reopen. Bounded by
 * `timeoutMs`: a SUBSCRIBE cut off by another disconnect never calls back (wire notes §7), and the
 * caller's re-read must still come.
 */
export async function resubscribe(transport: SubscribingTransport, features: ListenedFeatures, o: { logger: Logger; timeoutMs: number; what: string }): Promise<void> {
  const steps: Array<[string, () => Promise<void>]> = [];
  if (features.inputs) steps.push(['inputs', () => call((done) => transport.enableInputMessages(done))]);
  if (features.methods) steps.push(['methods', () => call((done) => transport.enableMethods(done))]);
  const twinClient = transport._twinClient;
  if (features.desired && twinClient !== undefined) {
    // Twin responses (GET and reported updates) as desired patches: UNSUBSCRIBE, then SUBSCRIBE. Without
    // it, after a hub that lost the module's session, every getTwin and reported update went unanswered
    // (wire notes §7: still pending after 70 s), so the re-read below retried for ever.
    steps.push([
      'twin responses',
      async () => {
        await call((done) => twinClient._topicFsm.unsubscribe(twinClient._responseTopic, done));
        await call((done) => twinClient._topicFsm.subscribe(twinClient._responseTopic, done));
      },
    ]);
  }
  if (features.desired) {
    steps.push([
      'desired',
      async () => {
        await call((done) => transport.disableTwinDesiredPropertiesUpdates(done));
        await call((done) => transport.enableTwinDesiredPropertiesUpdates(done));
      },
    ]);
  }
  const timeout = new AbortController();
  const timedOut = new Promise<'timeout'>((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), o.timeoutMs);
    timer.unref();
    timeout.signal.addEventListener('abort', () => clearTimeout(timer));
  });
  const settled = Promise.allSettled(steps.map(([, run]) => run()));
  const results = await Promise.race([settled, timedOut]);
  timeout.abort();
  if (results === 'timeout') {
    o.logger.warn({ features: steps.map(([f]) => f), timeoutMs: o.timeoutMs }, `${o.what}; subscribing again did not finish within ${o.timeoutMs} ms`);
    return;
  }
  const subscribed: string[] = [];
  results.forEach((r, i) => {
    const feature = steps[i]?.[0] ?? '?';
    if (r.status === 'fulfilled') subscribed.push(feature);
    else o.logger.warn({ feature, err: r.reason as unknown }, `${o.what}; could not subscribe ${feature} again: ${errorMessage(r.reason)}`);
  });
  o.logger.info({ features: subscribed }, `${o.what}; subscribed again`);
}
