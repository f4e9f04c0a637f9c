/**
 * The Azure Function (Node.js v4 programming model): an Event Grid trigger on the Azure Machine
 * Learning workspace's `Microsoft.MachineLearningServices.ModelRegistered` events. It only wires:
 * app settings → settings, IoT Hub target, handler. A failure throws, so Event Grid delivers the
 * event again (its retry policy) — e.g. while the artifact is not yet in the registry.
 * Packaged by deployment/functions/model-registered (README there).
 */
import { app, type EventGridEvent, type InvocationContext } from '@azure/functions';
import { createLogger } from '@edgeml/shared';
import { parseModelRegistered } from './event.js';
import { handleModelRegistered } from './handler.js';
import { iotHubTarget } from './iothub.js';
import { settingsFromEnv } from './settings.js';

app.eventGrid('modelRegistered', {
  handler: async (event: EventGridEvent, context: InvocationContext): Promise<void> => {
    const env = process.env;
    const logger = createLogger({ name: 'model-registered', level: env['EDGEML_LOG_LEVEL'] ?? 'info' });
    const connectionString = env['EDGEML_IOTHUB_CONNECTION_STRING'];
    if (connectionString === undefined || connectionString === '') throw new Error('EDGEML_IOTHUB_CONNECTION_STRING is not set');
    const outcome = await handleModelRegistered(parseModelRegistered(event), { settings: settingsFromEnv(env), target: iotHubTarget(connectionString), env, logger });
    context.log(`model ${outcome.model.name}:${outcome.model.version} → ${outcome.artifact}: ${outcome.layeredDeployment ?? `${outcome.devices.length} device(s)`}`);
  },
});
