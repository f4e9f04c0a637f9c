#!/usr/bin/env node
// Entry point of `npm start`: the local edge runtime. The only runtime file that touches process.*.
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, errorMessage } from '@edgeml/shared';
import { parseStartArgs, START_USAGE } from '../args.js';
import { startLocalRuntime } from '../runtime.js';
import { renderLine, renderView } from '../view.js';
import { followUpstream } from '../upstream.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

async function main(): Promise<number> {
  const args = parseStartArgs(process.argv.slice(2));
  if (args.help) {
    console.log(START_USAGE);
    return 0;
  }
  const workDir = path.resolve(args.workDir ?? path.join(repoRoot, '.edge'));
  await mkdir(path.join(workDir, 'logs'), { recursive: true });
  const logger = createLogger({ name: 'runtime', destination: createWriteStream(path.join(workDir, 'logs', 'runtime.log'), { flags: 'a' }) });
  const tty = process.stdout.isTTY && !args.untilIdle;
  console.log(`EdgeML local runtime: work folder ${workDir} (logs in ${path.join(workDir, 'logs')})`);

  const runtime = await startLocalRuntime({ repoRoot, workDir, demo: args.demo, env: process.env, logger, ...(args.hubPort === undefined ? {} : { hubPort: args.hubPort }) });
  console.log(`hub on localhost:${runtime.hub.port}; $upstream journal ${runtime.hub.upstreamJournalFile}; CLI: npm run edge -- status`);

  const latest: string[] = [];
  const alerts: string[] = [];
  const stopFollow = followUpstream(runtime.hub, (rec) => {
    const body = rec.body as Record<string, unknown> | undefined;
    if (body?.['schema'] === 'edgeml.alert/v1') {
      alerts.push(`${String(body['module'])} ${String(body['code'])}: ${String(body['message']).slice(0, 120)}`);
      if (alerts.length > 5) alerts.shift();
    } else if (body !== undefined) {
      const src = (body['source'] as { path?: string } | undefined)?.path ?? '?';
      const out = body['outputs'] as Record<string, unknown> | undefined;
      const label = out?.['label'] !== undefined ? `label=${String(out['label'])} score=${Number(out['score']).toFixed(3)}` : `${Object.keys(out ?? {}).join(',')}`;
      latest.push(`${src} → ${String((body['model'] as { name?: string } | undefined)?.name ?? '')} ${label}`);
      if (latest.length > 5) latest.shift();
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

  const view = setInterval(
    () => {
      runtime.status().then(
        (s) => {
          const model = { elapsedMs: s.elapsedMs, processes: s.processes, statuses: s.modules, upstreamCount: s.upstreamCount, latestResults: latest, errors: alerts };
          if (tty) process.stdout.write(`\x1b[2J\x1b[H${renderView(model)}\n\nCtrl-C stops every module gracefully.\n`);
          else console.log(renderLine(model));
        },
        (err: unknown) => logger.warn({ err }, 'status poll failed'),
      );
    },
    tty ? 1_000 : 5_000,
  );

  if (!args.untilIdle) {
    await new Promise<never>(() => undefined);
  }
  try {
    await runtime.waitUntilIdle({ signal: AbortSignal.timeout(args.idleTimeoutS * 1_000) });
  } catch (err: unknown) {
    console.log(`not idle after ${args.idleTimeoutS} s: ${errorMessage(err)}`);
  }
  clearInterval(view);
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
