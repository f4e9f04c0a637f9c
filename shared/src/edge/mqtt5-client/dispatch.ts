/** Where a received message goes: a method request to the methods, anything else to the input its topic feeds. */
import type { createRepeatLimiter, Logger } from '../../logging.js';
import type { Mqtt5Received } from '../mqtt5-connection.js';
import type { Mqtt5Inputs } from './inputs.js';
import type { Mqtt5Methods } from './methods.js';

export interface DispatchParts {
  readonly methods: Mqtt5Methods;
  readonly inputs: Mqtt5Inputs;
  readonly logger: Logger;
  /** The edge client's repeat limiter (one for all its warnings). */
  readonly shouldLog: ReturnType<typeof createRepeatLimiter>;
}

/** The connection's message handler; its promise settles when the message may be acknowledged. */
export function dispatchReceived({ methods, inputs, logger, shouldLog }: DispatchParts): (m: Mqtt5Received) => Promise<void> {
  return async (m) => {
    const method = methods.methodFor(m.topic);
    if (method !== undefined) return methods.answer(method, m);
    const input = inputs.inputFor(m.topic);
    if (input === undefined) {
      // A subscription left in the persistent session by an older topic plan.
      const r = shouldLog(`unrouted:${m.topic}`);
      if (r.log) logger.warn({ topic: m.topic, suppressed: r.suppressed }, 'message on a topic no input of this module is routed from; dropped');
      return;
    }
    return inputs.deliver(input, m);
  };
}
