// Entry point: wiring only. The one file of the aggregator that touches process.*.
import { createEdgeClientFromEnvironment, createLogger, installProcessHandlers, runModule, selfCheck, type RunningModule } from '@edgeml/shared';
import { aggregatorModule, aggregatorSelfCheck } from './index.js';

const logger = createLogger({ name: aggregatorModule.name, level: process.env['EDGEML_LOG_LEVEL'] ?? 'info' });

if (process.argv.includes('--self-check')) {
  // Loads every import and the contract validators, gathers a one-crop run into a valid result, and
  // validates the default configuration.
  const problems = [...selfCheck(aggregatorModule, logger), ...aggregatorSelfCheck()];
  if (problems.length > 0) logger.error({ problems }, 'self-check failed');
  else logger.info('self-check passed');
  process.exit(problems.length > 0 ? 1 : 0);
}

let running: RunningModule | undefined = undefined;
installProcessHandlers(process, () => running, logger);
running = await runModule(aggregatorModule, { env: process.env, argv: process.argv, connect: createEdgeClientFromEnvironment });
