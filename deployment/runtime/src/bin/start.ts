#!/usr/bin/env node
// Entry point of `npm start`: the local edge runtime. The only runtime file that touches process.*.
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createLogger, errorMessage } from '@edgeml/shared';
import { parseStartArgs, START_USAGE } from '../args.js';
import { callerCwd } from '../cli/global-args.js';
import { REPO_ROOT } from '../repo-root.js';
import { FileResults } from '../results.js';
import { startLocalRuntime } from '../runtime.js';
import { renderLine, renderView } from '../view.js';
import { followUpstream } from '../upstream.js';

const repoRoot = REPO_ROOT;
/** Files the live view lists under latest results, and files it remembers (a late result of a forgotten file starts its line anew). */
const LIVE_VIEW_FILES_SHOWN = 5;
const LIVE_VIEW_FILES_KEPT = 200;

async function main(): Promise<number> {
  const args = parseStartArgs(process.argv.slice(2));
  if (args.help) {
    console.log(START_USAGE);
    return 0;
  }
  // npm runs the script in the repository; paths on the command line are meant from the caller's folder.
  const cwd = callerCwd(process.env, process.cwd());
  const workDir = args.workDir === undefined ? path.join(repoRoot, '.edge') : path.resolve(cwd, args.workDir);
  const manifestFile = args.manifest === undefined ? undefined : path.resolve(cwd, args.manifest);
  const envFile = args.envFile === undefined ? undefined : path.resolve(cwd, args.envFile);
  for (const [flag, file] of [['--manifest', manifestFile], ['--env-file', envFile]] as const) {
    if (file !== undefined && !existsSync(file)) throw new Error(`${flag} ${file}: no such file`);
  }
  await mkdir(path.join(workDir, 'logs'), { recursive: true });
  const logger = createLogger({ name: 'runtime', destination: createWriteStream(path.join(workDir, 'logs', 'runtime.log'), { flags: 'a' }) });
  const tty = process.stdout.isTTY && !args.untilIdle;
  console.log(`EdgeML local runtime: work folder ${workDir} (logs in ${path.join(workDir, 'logs')})`);

  const runtime = await startLocalRuntime({
    repoRoot,
    workDir,
    demo: args.demo,
    env: process.env,
    logger,
    ...(manifestFile === undefined ? {} : { manifestFile }),
    ...(envFile === undefined ? {} : { envFile }),
    ...(args.hubPort === undefined ? {} : { hubPort: args.hubPort }),
    ...(args.hubMetricsPort === undefined ? {} : { hubMetricsPort: args.hubMetricsPort }),
  });
  console.log(`manifest ${manifestFile ?? path.join(repoRoot, 'deployment.template.json')}`);
  console.log(
    `hub on localhost:${runtime.hub.port}, metrics http://127.0.0.1:${String(runtime.hub.metricsPort)}/metrics; $upstream journal ${runtime.hub.upstreamJournalFile}; CLI: npx edgeml status`,
  );

  // The latest files with what was inferred (the text read, labels, boxes), as `edgeml results` shows them.
  const results = new FileResults({ maxFiles: LIVE_VIEW_FILES_KEPT });
  let latest: readonly string[] = [];
  const alerts: string[] = [];
  const stopFollow = followUpstream(runtime.hub, (rec) => {
    const body = rec.body as Record<string, unknown> | undefined;
    if (body?.['schema'] === 'edgeml.alert/v1') {
      alerts.push(`${String(body['module'])} ${String(body['code'])}: ${String(body['message']).slice(0, 120)}`);
      if (alerts.length > 5) alerts.shift();
    } else if (results.add(rec) !== undefined) {
      latest = results.latestLines(LIVE_VIEW_FILES_SHOWN);
    }
  });

  let stopping = false;
  const shutdown = async (reason: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log(`\nstopping (${reason}) …`);
    stopFollow();
    await runtime.stop();
  };
  process.once('SIGINT', () => void shutdown('SIGINT').then(() => process.exit(130)));
  process.once('SIGTERM', () => void shutdown('SIGTERM').then(() => process.exit(143)));
  // A closed terminal: without this the runtime would die and leave its module processes running.
  process.once('SIGHUP', () => void shutdown('SIGHUP').then(() => process.exit(129)));

  const show = (): Promise<void> =>
    runtime.status().then(
      (s) => {
        const model = { elapsedMs: s.elapsedMs, processes: s.processes, statuses: s.modules, upstreamCount: s.upstreamCount, latestResults: latest, errors: alerts };
        if (tty) process.stdout.write(`\x1b[2J\x1b[H${renderView(model)}\n\nCtrl-C stops every module gracefully.\n`);
        else console.log(renderLine(model));
      },
      (err: unknown) => logger.warn({ err }, 'status poll failed'),
    );
  const view = setInterval(() => void show(), tty ? 1_000 : 5_000);

  if (!args.untilIdle) {
    await new Promise<never>(() => undefined);
  }
  try {
    await runtime.waitUntilIdle({ signal: AbortSignal.timeout(args.idleTimeoutS * 1_000) });
  } catch (err: unknown) {
    console.log(`not idle after ${args.idleTimeoutS} s: ${errorMessage(err)}`);
  }
  clearInterval(view);
  // One last progress line: the state at idle, with each stage's last minute (a short run may end between lines).
  await show();
  const summary = await runtime.summary();
  await shutdown('until-idle');
  console.log(JSON.stringify(summary));
  return summary.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`edgeml runtime failed: ${errorMessage(err)}`);
    process.exit(1);
  },
);
