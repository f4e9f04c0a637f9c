import type { ModuleDefinition } from '@edgeml/shared';
import { INFERENCER_MODULE_NAME, createInferencerApp } from './app.js';
import { INFERENCER_CONFIG_SCHEMA, buildInferencerConfig, type InferencerConfig } from './config.js';

/** What `runModule` needs to run the inferencer (main.ts passes it with the real edge client). */
export const inferencerModule: ModuleDefinition<InferencerConfig> = {
  name: INFERENCER_MODULE_NAME,
  configSchema: INFERENCER_CONFIG_SCHEMA,
  buildConfig: buildInferencerConfig,
  createApp: (deps) => createInferencerApp(deps),
};
