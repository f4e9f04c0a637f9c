export { MODEL_REGISTERED_TYPE, parseModelRegistered, type ModelRegistered } from './event.js';
export { settingsFromEnv, type ModelRegisteredSettings } from './settings.js';
export { desiredFromLayered, localHubTarget, type TwinTarget } from './targets.js';
export { iotHubTarget, parseServiceConnectionString, serviceSasToken } from './iothub.js';
export { handleModelRegistered, inferencerPatch, type ModelRegisteredOutcome } from './handler.js';
