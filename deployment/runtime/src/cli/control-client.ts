import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CliError, EXIT_CODES } from './command.js';

/** What a running runtime (`npm start`) or hub (`edgeml hub`) writes to `<workdir>/runtime.json`. */
export interface RuntimeInfo {
  readonly mode?: 'suite' | 'hub';
  readonly pid?: number;
  readonly controlUrl: string;
  readonly upstreamJournal: string;
  readonly logsDir: string;
}

/** The file the CLI finds a running instance by. */
export function runtimeInfoFile(workDir: string): string {
  return path.join(workDir, 'runtime.json');
}

/** @throws CliError notRunning when no instance has written its runtime.json in the folder */
export async function readRuntimeInfo(workDir: string): Promise<RuntimeInfo> {
  const file = runtimeInfoFile(workDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CliError(`nothing is running in ${workDir} (no runtime.json): start it with npm start or edgeml hub, or pass --workdir`, EXIT_CODES.notRunning, { cause: err });
    }
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, EXIT_CODES.failed, { cause: err });
  }
  try {
    const info = JSON.parse(text) as RuntimeInfo;
    if (typeof info.controlUrl !== 'string') throw new Error('controlUrl missing');
    return info;
  } catch (err: unknown) {
    throw new CliError(`${file} is not a runtime description: ${(err as Error).message}`, EXIT_CODES.failed, { cause: err });
  }
}

/**
 * The `$upstream` journal of the work folder: runtime.json's while it runs, else the one a stopped
 * runtime or hub left (`<workdir>/hub/upstream.jsonl`), so results stay readable after the run.
 * @throws CliError notRunning when neither exists
 */
export async function upstreamJournalOf(workDir: string): Promise<string> {
  try {
    return (await readRuntimeInfo(workDir)).upstreamJournal;
  } catch (err: unknown) {
    const left = path.join(workDir, 'hub', 'upstream.jsonl');
    if (!(err instanceof CliError) || err.exitCode !== EXIT_CODES.notRunning) throw err;
    return access(left).then(
      () => left,
      () => {
        throw err;
      },
    );
  }
}

/**
 * One request to the control API of the running instance.
 * @throws CliError notRunning when it does not answer, failed when it answers an error
 */
export async function callControl(info: RuntimeInfo, method: 'GET' | 'PATCH' | 'POST', route: string, body?: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${info.controlUrl}${route}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
  } catch (err: unknown) {
    throw new CliError(`the runtime at ${info.controlUrl} does not answer (has it stopped?): ${(err as Error).message}`, EXIT_CODES.notRunning, { cause: err });
  }
  const text = await res.text();
  let payload: unknown = text;
  try {
    payload = JSON.parse(text) as unknown;
  } catch {
    // Not JSON: reported as text below.
  }
  if (!res.ok) {
    const message = (payload as { error?: unknown } | null)?.error;
    throw new CliError(`the runtime answered ${res.status}: ${typeof message === 'string' ? message : text}`, EXIT_CODES.failed);
  }
  return payload;
}
