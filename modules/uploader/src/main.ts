// Entry point: wiring only. The one file of the uploader that touches process.*.
import { createEdgeClientFromEnvironment, createLogger, installProcessHandlers, routeAzureSdkLogs, runModule, selfCheck, type RunningModule } from '@edgeml/shared';
import { checkSqliteLoads, uploaderModule } from './index.js';

const logger = createLogger({ name: uploaderModule.name, level: process.env['EDGEML_LOG_LEVEL'] ?? 'info' });

if (process.argv.includes('--self-check')) {
  // Loads better-sqlite3's native addon and the storage SDK (imported above) and validates the defaults.
  const problems = selfCheck(uploaderModule, logger);
  try {
    checkSqliteLoads();
  } catch (err: unknown) {
    problems.push(`better-sqlite3 does not load: ${(err as Error).message}`);
  }
  if (problems.length > 0) logger.error({ problems }, 'self-check failed');
  else logger.info('self-check passed');
  process.exit(problems.length > 0 ? 1 : 0);
}

// Filled once runModule resolves; the handlers installed before it need a way to reach it.
const current: { running?: RunningModule } = {};
installProcessHandlers(process, () => current.running, logger);
await routeAzureSdkLogs(logger);
current.running = await runModule(uploaderModule, { env: process.env, argv: process.argv, connect: createEdgeClientFromEnvironment });
