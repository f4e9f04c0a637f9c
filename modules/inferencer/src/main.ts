// Entry point: wiring only. The one file of the inferencer that touches process.*.
import { createEdgeClientFromEnvironment, createLogger, installProcessHandlers, runModule, selfCheck, type RunningModule } from '@edgeml/shared';
import { checkInferencerRuntime, inferencerModule } from './index.js';

const logger = createLogger({ name: inferencerModule.name, level: process.env['EDGEML_LOG_LEVEL'] ?? 'info' });

if (process.argv.includes('--self-check')) {
  // Loads the onnxruntime-node addon (imported above), runs the bundled classifier once on the CPU,
  // and validates the default configuration.
  const problems = selfCheck(inferencerModule, logger);
  const runtime = await checkInferencerRuntime();
  problems.push(...runtime.problems);
  if (problems.length > 0) logger.error({ problems, onnxruntimeVersion: runtime.onnxruntimeVersion }, 'self-check failed');
  else logger.info({ onnxruntimeVersion: runtime.onnxruntimeVersion }, 'self-check passed');
  process.exit(problems.length > 0 ? 1 : 0);
}

let running: RunningModule | undefined = undefined;
installProcessHandlers(process, () => running, logger);
running = await runModule(inferencerModule, { env: process.env, argv: process.argv, connect: createEdgeClientFromEnvironment });
