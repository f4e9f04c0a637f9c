/**
 * What every `edgeml` subcommand is and gets. A subcommand is one file under `commands/` exporting a
 * {@link CliCommand}, listed once in `commands/index.ts`.
 */

/** Exit codes of the CLI (documented in the README's CLI section). */
export const EXIT_CODES = {
  ok: 0,
  /** The command failed (the message says why). */
  failed: 1,
  /** Bad arguments: unknown command or option, missing value. */
  usage: 2,
  /** No runtime or hub is running in the work folder (no runtime.json, or its control API does not answer). */
  notRunning: 3,
  /** A direct method answered 404: the module is not connected or has no handler for it. */
  methodNotFound: 4,
  /** A direct method answered 504: the module did not answer in time. */
  methodTimeout: 5,
  /** A direct method answered another non-2xx status (400 for a bad payload, 500 for a failure in the module). */
  methodFailed: 6,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** The exit code for a direct method's answer status. */
export function exitCodeForMethodStatus(status: number): ExitCode {
  if (status >= 200 && status < 300) return EXIT_CODES.ok;
  if (status === 404) return EXIT_CODES.methodNotFound;
  if (status === 504) return EXIT_CODES.methodTimeout;
  return EXIT_CODES.methodFailed;
}

/** An error that ends the command with a given exit code and a one-line message on stderr. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, EXIT_CODES.usage);
}

/** Everything a command may touch, given by the entry point so commands run in tests without a process. */
export interface CliContext {
  /** The work folder of the runtime or hub to talk to (`--workdir`, default `<repo>/.edge`), absolute. */
  readonly workDir: string;
  /** Where relative paths on the command line resolve from (the caller's folder, also under `npm run`). */
  readonly cwd: string;
  /** JSON on stdout (stdout is not a terminal, or `--json`); otherwise tables for a person. */
  readonly json: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Writes to stdout as is (add the newline yourself). */
  readonly write: (text: string) => void;
  /** One line to stderr. */
  readonly warn: (line: string) => void;
  /** Aborted on SIGINT/SIGTERM: long-running commands (`--follow`, `hub`) stop and return. */
  readonly signal: AbortSignal;
}

export interface CliCommand {
  readonly name: string;
  /** One line for the usage list: arguments and what it does. */
  readonly usage: string;
  /** Runs with the arguments after the command name (global options already taken out). */
  run(args: readonly string[], ctx: CliContext): Promise<ExitCode>;
}
