#!/usr/bin/env node
// Entry point of the `edgeml` CLI (`npx edgeml`, `npm run edge --`): the only CLI file that touches process.*.
// Started through deployment/runtime/bin/edgeml.js, which runs this build or the TypeScript sources.
import { runCli } from '../cli/main.js';

const stop = new AbortController();
// SIGHUP too: a closed terminal must stop a running `edgeml hub` cleanly (runtime.json removed).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  // `on`, not `once`: under the launcher a terminal's Ctrl-C arrives twice (from the terminal and forwarded).
  process.on(signal, () => stop.abort(signal));
}

// `edgeml upstream | head` closes the pipe early: that is the reader's choice, not a failure.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

// `npm run edge` and the launcher put a `--` before the user's arguments: Node 20 would otherwise take
// `--env-file FILE` (an `edgeml hub` option) as its own, anywhere on its command line.
const argv = process.argv.slice(2);
if (argv[0] === '--') argv.shift();

const code = await runCli(argv, {
  env: process.env,
  cwd: process.cwd(),
  stdoutIsTty: process.stdout.isTTY === true,
  write: (text) => void process.stdout.write(text),
  warn: (line) => console.error(line),
  signal: stop.signal,
});
// Let stdout drain before exiting (a pipe may still hold the output).
process.stdout.write('', () => process.exit(code));
