/**
 * `npm run loop [-- --workdir DIR] [--files N] [--model anomaly|cls] [--trainer CMD]`: the model loop on one machine
 * (loop/model-loop.ts). Prints each step and, last, a JSON summary; exits 0 when the retrained model
 * was promoted and served the last files.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT, callerCwd } from '@edgeml/runtime';
import { createLogger, errorCode, errorMessage } from '@edgeml/shared';
import { runModelLoop } from '../loop/model-loop.js';

const args = process.argv.slice(2);
const value = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
if (args.includes('--help')) {
  console.log(
    'usage: npm run loop -- [--workdir DIR (default .edge-loop)] [--files N (default 6)] [--model anomaly|cls (default anomaly: the telemetry model, retrained by training/; cls: the classifier, re-packaged)] [--trainer "CMD" (gets EDGEML_LOOP_DATA, writes EDGEML_LOOP_OUTPUT)]',
  );
  process.exit(0);
}
const workDir = path.resolve(callerCwd(process.env, process.cwd()), value('--workdir') ?? path.join(REPO_ROOT, '.edge-loop'));
const files = Number(value('--files') ?? 6);
const model = value('--model') ?? 'anomaly';
if (model !== 'anomaly' && model !== 'cls') {
  console.error(`loop: --model is anomaly or cls, got ${model}`);
  process.exit(2);
}
await mkdir(workDir, { recursive: true });
const logFile = path.join(path.dirname(workDir), `${path.basename(workDir)}.log`);
const logger = createLogger({ name: 'loop', level: 'info', destination: createWriteStream(logFile, { flags: 'a' }) });
const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
const started = Date.now();
try {
  const summary = await runModelLoop({
    repoRoot: REPO_ROOT,
    workDir,
    files,
    model,
    ...(value('--trainer') === undefined ? {} : { trainer: value('--trainer')! }),
    logger,
    env: process.env,
    say: (line) => console.log(line),
    signal: controller.signal,
  });
  console.log(JSON.stringify({ ...summary, wallTimeMs: Date.now() - started }));
  process.exitCode = summary.ok ? 0 : 1;
} catch (err: unknown) {
  console.error(`loop: ${errorCode(err)}: ${errorMessage(err)} (log: ${logFile})`);
  process.exitCode = 1;
}
