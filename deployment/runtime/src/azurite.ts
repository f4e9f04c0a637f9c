import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import path from 'node:path';
import { EdgeMLError, sleep, type Logger } from '@edgeml/shared';
import { freePort } from './ports.js';

/** Azurite's well-known development account (public, documented by Microsoft; not a secret). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteHandle {
  readonly blobEndpoint: string;
  readonly connectionString: string;
  readonly port: number;
  /** SIGTERM, then SIGKILL after 5 s. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL at once (fault tests). */
  kill(): Promise<void>;
  /** Starts again on the same port and folder (data kept). */
  restart(): Promise<void>;
  readonly process: ChildProcess | undefined;
}

async function waitForPort(port: number, deadlineMs: number, child: ChildProcess): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new EdgeMLError('SINK_UNAVAILABLE', `azurite exited with code ${child.exitCode} during start`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new EdgeMLError('TIMEOUT', `azurite did not listen on ${port} within ${deadlineMs} ms`);
}

/**
 * Starts Azurite's blob service from its npm package as a child process, fully offline
 * (`--disableTelemetry`; `--skipApiVersionCheck` because the storage SDK moves faster than the
 * emulator), persisting into `location` so a restart keeps the data.
 */
export async function startAzurite(options: { location: string; port?: number; logFile?: string; logger?: Logger }): Promise<AzuriteHandle> {
  const require = createRequire(import.meta.url);
  const pkgDir = path.dirname(require.resolve('azurite/package.json'));
  const main = path.join(pkgDir, 'dist', 'src', 'blob', 'main.js');
  await mkdir(options.location, { recursive: true });
  const port = options.port ?? (await freePort());
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const args = [main, '--silent', '--disableTelemetry', '--skipApiVersionCheck', '--loose', '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', options.location];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (options.logFile !== undefined) {
      const out = createWriteStream(options.logFile, { flags: 'a' });
      proc.stdout?.pipe(out);
      proc.stderr?.pipe(out);
    } else {
      proc.stdout?.resume();
      proc.stderr?.resume();
    }
    child = proc;
    await waitForPort(port, 30_000, proc);
    options.logger?.info({ port, location: options.location }, 'azurite (npm) blob service started');
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    blobEndpoint,
    port,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`,
    get process() {
      return child;
    },
    stop: () => terminate('SIGTERM'),
    kill: () => terminate('SIGKILL'),
    restart: async () => {
      await terminate('SIGTERM');
      await launch();
    },
  };
}
