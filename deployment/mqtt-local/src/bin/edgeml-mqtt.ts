// `npm run edge:mqtt`: entry point (wiring only).
import { createLogger, errorMessage } from '@edgeml/shared';
import { parseOperatorCommand, runOperatorCommand } from '../operator-cli.js';

const logger = createLogger({ name: 'edgeml-mqtt', level: process.env['EDGEML_LOG_LEVEL'] ?? 'warn' });
try {
  const cmd = await parseOperatorCommand(process.argv.slice(2), process.env, process.cwd());
  const { output, exitCode } = await runOperatorCommand(cmd, logger);
  console.log(JSON.stringify(output, null, 2));
  process.exit(exitCode);
} catch (err: unknown) {
  console.error(errorMessage(err));
  process.exit(1);
}
