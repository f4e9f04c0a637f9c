import path from 'node:path';
import { usageError } from './command.js';

export interface GlobalArgs {
  /** `--workdir DIR` / `--workdir=DIR`, as given (resolve it against the caller's folder). */
  readonly workDir: string | undefined;
  /** `--json`: JSON even on a terminal. */
  readonly json: boolean;
  readonly help: boolean;
  /** The command and its own arguments, in order, global options removed. */
  readonly rest: readonly string[];
}

/**
 * Takes the global options out of argv wherever they stand (`edgeml --workdir X status` and
 * `edgeml status --workdir X` are the same). Everything after `--` is left to the command.
 * @throws CliError (usage) when `--workdir` has no value
 */
export function parseGlobalArgs(argv: readonly string[]): GlobalArgs {
  let workDir: string | undefined;
  let json = false;
  let help = false;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (a === '--workdir') {
      const v = argv[++i];
      if (v === undefined || v === '') throw usageError('--workdir needs a folder');
      workDir = v;
    } else if (a.startsWith('--workdir=')) {
      workDir = a.slice('--workdir='.length);
      if (workDir === '') throw usageError('--workdir needs a folder');
    } else if (a === '--json') json = true;
    else if ((a === '--help' || a === '-h') && rest.length === 0) help = true;
    else rest.push(a);
  }
  return { workDir, json, help, rest };
}

/** The folder relative paths are meant from: npm runs scripts in the package folder and passes the caller's in INIT_CWD. */
export function callerCwd(env: Readonly<Record<string, string | undefined>>, processCwd: string): string {
  const init = env['INIT_CWD'];
  return init !== undefined && init !== '' && path.isAbsolute(init) ? init : processCwd;
}
