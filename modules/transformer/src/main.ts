// Entry point: wiring only. The one file of the transformer that touches process.*.
import { createEdgeClientFromEnvironment, createLogger, installProcessHandlers, runModule, selfCheck, type RunningModule } from '@edgeml/shared';
import { transformerModule, transformerSelfCheck } from './index.js';

const logger = createLogger({ name: transformerModule.name, level: process.env['EDGEML_LOG_LEVEL'] ?? 'info' });

if (process.argv.includes('--self-check')) {
  // Loads sharp's native addon and apache-arrow (imported above), round-trips an image and a
  // table, and validates the default configuration.
  const problems = [...selfCheck(transformerModule, logger), ...(await transformerSelfCheck())];
  if (problems.length > 0) logger.error({ problems }, 'self-check failed');
  else logger.info('self-check passed');
  process.exit(problems.length > 0 ? 1 : 0);
}

let running: RunningModule | undefined = undefined;
installProcessHandlers(process, () => running, logger);
running = await runModule(transformerModule, { env: process.env, argv: process.argv, connect: createEdgeClientFromEnvironment });
