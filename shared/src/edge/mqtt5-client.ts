/**
 * The {@link EdgeClient} over an MQTT 5 broker (Azure IoT Operations, or Mosquitto locally), for
 * modules running without edgeHub. The module sees the same interface as on IoT Edge:
 *
 * - outputs and inputs follow the topic plan derived from the manifest's routes (topics.ts); inputs
 *   are shared subscriptions, so N replicas of a module each get a share of the messages;
 * - application properties travel as MQTT 5 user properties; the content type and the correlation id
 *   in their own MQTT 5 fields (Content Type, Correlation Data); the message id and content encoding,
 *   which MQTT 5 has no field for, as the user properties `$.mid` and `$.ce` (edgeHub's names);
 * - a direct method is an MQTT 5 request: the caller sets Response Topic and Correlation Data, the
 *   answer goes there with the status in user property `__stat` (the Azure IoT Operations SDK
 *   convention) and the correlation data echoed;
 * - desired properties come from a mounted configuration file (config-file-source.ts) and go through
 *   the same binder as a twin; reported properties are merged here and published, retained, on the
 *   replica's status topic.
 *
 * The parts, in mqtt5-client/: session.ts (open, close, connection events), inputs.ts, outputs.ts,
 * methods.ts, dispatch.ts (received message → method or input), reported.ts, desired.ts,
 * properties.ts (the transport's reserved user properties), state.ts (what the parts share).
 */
import { createRepeatLimiter, type Logger } from '../logging.js';
import type { EdgeClient } from './types.js';
import type { ConfigFileSource } from './config-file-source.js';
import type { Mqtt5Connection } from './mqtt5-connection.js';
import { statusTopic, type TopicPlan } from './topics.js';
import { DesiredFeed } from './mqtt5-client/desired.js';
import { dispatchReceived } from './mqtt5-client/dispatch.js';
import { Mqtt5Inputs } from './mqtt5-client/inputs.js';
import { Mqtt5Methods } from './mqtt5-client/methods.js';
import { Mqtt5Outputs } from './mqtt5-client/outputs.js';
import { ReportedStatus } from './mqtt5-client/reported.js';
import { Mqtt5EdgeSession } from './mqtt5-client/session.js';
import { EdgeClientState } from './mqtt5-client/state.js';

export { CONTENT_ENCODING_PROPERTY, MESSAGE_ID_PROPERTY, SOURCE_ID_PROPERTY, STATUS_PROPERTY } from './mqtt5-client/properties.js';

export interface Mqtt5EdgeClientOptions {
  readonly connection: Mqtt5Connection;
  readonly deviceId: string;
  readonly moduleId: string;
  readonly plan: TopicPlan;
  /** Where desired properties come from; without one the module runs on its defaults (an empty document). */
  readonly desired?: ConfigFileSource;
  readonly logger: Logger;
}

/** Wires the parts (see the file comment) to the connection. */
export function createMqtt5EdgeClient(options: Mqtt5EdgeClientOptions): EdgeClient {
  const { connection, logger, plan, moduleId } = options;
  const shouldLog = createRepeatLimiter();
  const state = new EdgeClientState();
  const myStatusTopic = statusTopic(plan.prefix, moduleId, connection.clientId);
  const inputs = new Mqtt5Inputs({ connection, logger, subscriptions: plan.inputs[moduleId] ?? [], state });
  const methods = new Mqtt5Methods({ connection, logger, shouldLog, prefix: plan.prefix, moduleId, state });
  const outputs = new Mqtt5Outputs({ connection, plan, moduleId, state });
  const reported = new ReportedStatus({ connection, topic: myStatusTopic, state });
  const desired = new DesiredFeed(options.desired);
  const session = new Mqtt5EdgeSession({ connection, logger, state, methods, inputs, desired, reported, statusTopic: myStatusTopic });
  connection.onMessage(dispatchReceived({ methods, inputs, logger, shouldLog }));
  connection.onConnectionChange((s) => session.connectionChanged(s));
  return {
    deviceId: options.deviceId,
    moduleId,
    open: (signal) => session.open(signal),
    close: () => session.close(),
    onInput: (inputName, handler) => inputs.register(inputName, handler),
    sendOutput: (outputName, message) => outputs.send(outputName, message),
    onMethod: (methodName, handler) => methods.register(methodName, handler),
    onDesired: (listener) => desired.on(listener),
    updateReported: (patch) => reported.update(patch),
    onConnectionChange: (listener) => session.onConnectionChange(listener),
  };
}
