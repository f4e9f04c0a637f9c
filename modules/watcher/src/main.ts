// Entry point: wiring only. The one file of the watcher that touches process.*.
import { createEdgeClientFromEnvironment, createLogger, installProcessHandlers, runModule, selfCheck, type RunningModule } from '@edgeml/shared';
import { watcherModule, watcherSelfCheck } from './index.js';

const logger = createLogger({ name: watcherModule.name, level: process.env['EDGEML_LOG_LEVEL'] ?? 'info' });

if (process.argv.includes('--self-check')) {
  // Loads better-sqlite3's native addon and chokidar (imported above), runs an in-memory ledger
  // and validates the default configuration.
  const problems = [...selfCheck(watcherModule, logger), ...watcherSelfCheck()];
  if (problems.length > 0) logger.error({ problems }, 'self-check failed');
  else logger.info('self-check passed');
  process.exit(problems.length > 0 ? 1 : 0);
}

// Assigned once started; the signal handlers read it (a stop before then just exits).
let running: RunningModule | undefined = undefined;
const fatal = installProcessHandlers(process, () => running, logger);
running = await runModule(watcherModule, { env: process.env, argv: process.argv, connect: createEdgeClientFromEnvironment, onFatal: fatal });
