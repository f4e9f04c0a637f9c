import path from 'node:path';
import { DEFAULT_WORK_DIR } from '../repo-root.js';
import { CliError, EXIT_CODES, type CliCommand, type CliContext, type ExitCode } from './command.js';
import { COMMANDS } from './commands/index.js';
import { callerCwd, parseGlobalArgs } from './global-args.js';

/** What the entry point hands the CLI: the process's streams, environment and stop signal. */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Whether stdout is a terminal: tables there, JSON otherwise. */
  readonly stdoutIsTty: boolean;
  readonly write: (text: string) => void;
  readonly warn: (line: string) => void;
  readonly signal: AbortSignal;
}

/** The usage text, built from the registered commands. */
export function cliUsage(commands: readonly CliCommand[] = COMMANDS): string {
  return [
    'Usage: npx edgeml [--workdir DIR] [--json] <command> [arguments]   (or: npm run edge -- …)',
    '  --workdir DIR   the work folder of the running runtime or hub (default: .edge in the repository); allowed anywhere',
    '  --json          JSON output on a terminal too (it is the default when stdout is not a terminal)',
    '',
    ...commands.map((c) => `  ${c.usage}`),
    '',
    'Exit codes: 0 ok, 1 failed, 2 usage, 3 nothing running in the work folder, 4 method 404, 5 method 504, 6 other method error.',
  ].join('\n');
}

/** Runs one CLI invocation; never throws: every failure becomes a message on stderr and an exit code. */
export async function runCli(argv: readonly string[], io: CliIo, commands: readonly CliCommand[] = COMMANDS): Promise<ExitCode> {
  try {
    const global = parseGlobalArgs(argv);
    const [name, ...args] = global.rest;
    if (global.help || name === undefined || name === 'help') {
      io.write(`${cliUsage(commands)}\n`);
      return name === undefined && !global.help ? EXIT_CODES.usage : EXIT_CODES.ok;
    }
    const command = commands.find((c) => c.name === name);
    if (command === undefined) throw new CliError(`unknown command ${name}\n${cliUsage(commands)}`, EXIT_CODES.usage);
    const cwd = callerCwd(io.env, io.cwd);
    const ctx: CliContext = {
      workDir: global.workDir === undefined ? DEFAULT_WORK_DIR : path.resolve(cwd, global.workDir),
      cwd,
      json: global.json || !io.stdoutIsTty,
      env: io.env,
      write: io.write,
      warn: io.warn,
      signal: io.signal,
    };
    return await command.run(args, ctx);
  } catch (err: unknown) {
    if (err instanceof CliError) {
      io.warn(`edgeml: ${err.message}`);
      return err.exitCode;
    }
    io.warn(`edgeml: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT_CODES.failed;
  }
}
