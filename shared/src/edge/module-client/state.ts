/** What the parts of one azure-iot-device edge client share: whether it is open, and its lifetime (client-state.ts). */
export { ClientLifecycle as ModuleClientState } from '../client-state.js';
