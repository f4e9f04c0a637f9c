import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** `<workdir>/runtime.json`: how the CLI finds what runs in a work folder. Removed when it stops. */
export interface RuntimeInfoFile {
  readonly mode: 'suite' | 'hub';
  readonly pid: number;
  readonly controlUrl: string;
  readonly hubPort: number;
  readonly hubMetricsPort: number | null;
  readonly caCertificateFile: string;
  readonly workloadUri: string;
  readonly upstreamJournal: string;
  readonly logsDir: string;
  readonly startedAt: string;
  readonly [extra: string]: unknown;
}

export function runtimeInfoPath(workDir: string): string {
  return path.join(workDir, 'runtime.json');
}

export async function writeRuntimeInfo(workDir: string, info: RuntimeInfoFile): Promise<void> {
  await writeFile(runtimeInfoPath(workDir), `${JSON.stringify(info, null, 2)}\n`);
}

export async function removeRuntimeInfo(workDir: string): Promise<void> {
  await rm(runtimeInfoPath(workDir), { force: true });
}
