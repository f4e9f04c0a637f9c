/**
 * The function's handler as a command, for scripts and the one-machine loop:
 *   node --import tsx deployment/tools/src/bin/model-registered.ts --event FILE (--local WORKDIR | --iothub)
 * `--local` patches the local edge hub of a running `npm start` / `edgeml hub` (its runtime.json);
 * `--iothub` uses EDGEML_IOTHUB_CONNECTION_STRING. Settings from the environment (settings.ts).
 * Prints the outcome as JSON; exits 1 on failure, 2 on usage.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createLogger, errorCode, errorMessage } from '@edgeml/shared';
import { handleModelRegistered, iotHubTarget, localHubTarget, parseModelRegistered, settingsFromEnv } from '../model-registered/index.js';

const args = process.argv.slice(2);
const value = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const eventFile = value('--event');
const local = value('--local');
if (eventFile === undefined || (local === undefined) === !args.includes('--iothub')) {
  console.error('usage: model-registered --event FILE (--local WORKDIR | --iothub)');
  process.exit(2);
}
const logger = createLogger({ name: 'model-registered', level: process.env['EDGEML_LOG_LEVEL'] ?? 'warn' });
try {
  const parsed = JSON.parse(await readFile(eventFile, 'utf8')) as unknown;
  const events = Array.isArray(parsed) ? parsed : [parsed];
  let target;
  if (local !== undefined) {
    const info = JSON.parse(await readFile(path.join(path.resolve(local), 'runtime.json'), 'utf8')) as { controlUrl: string; deviceId?: string };
    target = localHubTarget(info.controlUrl, info.deviceId ?? 'local');
  } else {
    target = iotHubTarget(process.env['EDGEML_IOTHUB_CONNECTION_STRING'] ?? '');
  }
  const settings = settingsFromEnv(process.env);
  for (const e of events) console.log(JSON.stringify(await handleModelRegistered(parseModelRegistered(e), { settings, target, env: process.env, logger })));
} catch (err: unknown) {
  console.error(`model-registered: ${errorCode(err)}: ${errorMessage(err)}`);
  process.exitCode = 1;
}
