// `npm run start:mqtt`: entry point (wiring only; the one file here that touches process.*).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, errorMessage } from '@edgeml/shared';
import { parseStartMqttArgs, runStartMqtt } from '../run.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const logger = createLogger({ name: 'mqtt-local', level: process.env['EDGEML_LOG_LEVEL'] ?? 'info' });
const stop = new AbortController();
for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => stop.abort());
try {
  const args = parseStartMqttArgs(process.argv.slice(2), process.cwd());
  const { exitCode, summary } = await runStartMqtt(args, repoRoot, logger, stop.signal);
  if (summary !== undefined) console.log(JSON.stringify(summary));
  process.exit(exitCode);
} catch (err: unknown) {
  logger.error({ err }, errorMessage(err));
  process.exit(1);
}
