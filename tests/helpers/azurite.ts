/**
 * Starts a real Azurite blob service for tests: the npm package (`node_modules/.bin/azurite-blob`),
 * on 127.0.0.1 and a free port, persisting to a temp directory (not in-memory, so `restart()` keeps
 * the data). Prints `azurite (npm)` so the test output says which Azurite ran. There is no Docker
 * engine on the CI machine, so the testcontainers variant is not wired in.
 *
 *   const azurite = await startAzurite();
 *   // azurite.connectionString → BlobServiceClient.fromConnectionString(…)
 *   await azurite.kill();      // SIGKILL, data kept (an outage)
 *   await azurite.restart();   // same port, same data
 *   await azurite.stop();      // final: the process is killed and the temp directory removed
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Azurite's well-known development account (public, not a secret). */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteInstance {
  readonly connectionString: string;
  /** `http://127.0.0.1:<port>/devstoreaccount1` */
  readonly blobEndpoint: string;
  readonly accountName: string;
  readonly accountKey: string;
  /** Final stop (SIGKILL: the data is discarded anyway, and a graceful stop takes seconds); removes the data directory. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, as in a crash or outage; the data directory is kept for `restart()`. */
  kill(): Promise<void>;
  /** Starts again on the same port and data directory (kills a running one first). */
  restart(): Promise<void>;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const AZURITE_BIN = path.join(repoRoot, 'node_modules', '.bin', 'azurite-blob');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`azurite exited with code ${child.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`azurite did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startAzurite(options: { timeoutMs?: number } = {}): Promise<AzuriteInstance> {
  const location = await mkdtemp(path.join(tmpdir(), 'edgeml-azurite-'));
  const port = await freePort();
  const timeoutMs = options.timeoutMs ?? 20_000;
  let child: ChildProcess | undefined;
  let stopped = false;

  const launch = async (): Promise<void> => {
    const args = ['--silent', '--disableTelemetry', '--skipApiVersionCheck', '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', location];
    const proc = spawn(AZURITE_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child = proc;
    try {
      await waitForPort(port, proc, timeoutMs);
    } catch (err: unknown) {
      proc.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${stderr}`, { cause: err });
    }
    console.log(`      azurite (npm) ${path.basename(AZURITE_BIN)} on 127.0.0.1:${port}, data in ${location}`);
  };

  const kill = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined) return;
    c.kill('SIGKILL');
    await waitForExit(c);
  };

  await launch();
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT_NAME}`;
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT_NAME};AccountKey=${AZURITE_ACCOUNT_KEY};BlobEndpoint=${blobEndpoint};`,
    blobEndpoint,
    accountName: AZURITE_ACCOUNT_NAME,
    accountKey: AZURITE_ACCOUNT_KEY,
    kill,
    async restart() {
      if (stopped) throw new Error('azurite was stopped for good; start a new one');
      await kill();
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const c = child;
      child = undefined;
      if (c !== undefined) {
        c.kill('SIGKILL');
        await waitForExit(c);
      }
      await rm(location, { recursive: true, force: true });
    },
  };
}
