import type { ModuleDefinition } from '@edgeml/shared';
import { createWatcherApp, WATCHER_MODULE_NAME } from './app.js';
import { buildWatcherConfig, WATCHER_CONFIG_SCHEMA, type WatcherConfig } from './config.js';

/** What `runModule` needs to run the watcher (main.ts) and what manifest tests check. */
export const watcherModule: ModuleDefinition<WatcherConfig> = {
  name: WATCHER_MODULE_NAME,
  configSchema: WATCHER_CONFIG_SCHEMA,
  buildConfig: buildWatcherConfig,
  createApp: (deps) => createWatcherApp(deps),
};
