/**
 * Starts a real Azurite blob service for tests: the runtime's launcher (`@edgeml/runtime/azurite`,
 * the npm package's blob service as a child process) on 127.0.0.1 and a free port, persisting to a
 * temp directory (not in-memory, so `restart()` keeps the data). Prints `azurite (npm)` so the test
 * output says which Azurite ran. There is no Docker engine on the CI machine, so the testcontainers
 * variant is not wired in.
 *
 *   const azurite = await startAzurite();
 *   // azurite.connectionString → BlobServiceClient.fromConnectionString(…)
 *   await azurite.kill();      // SIGKILL, data kept (an outage)
 *   await azurite.restart();   // same port, same data
 *   await azurite.stop();      // final: the process is killed and the temp directory removed
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite as launchAzurite } from '@edgeml/runtime/azurite';

export const AZURITE_ACCOUNT_NAME = AZURITE_ACCOUNT;
export const AZURITE_ACCOUNT_KEY = AZURITE_KEY;

export interface AzuriteInstance {
  readonly connectionString: string;
  /** `http://127.0.0.1:<port>/devstoreaccount1` */
  readonly blobEndpoint: string;
  readonly accountName: string;
  readonly accountKey: string;
  /** Final stop; removes the data directory. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, as in a crash or outage; the data directory is kept for `restart()`. */
  kill(): Promise<void>;
  /** Starts again on the same port and data directory (kills a running one first). */
  restart(): Promise<void>;
}

export async function startAzurite(): Promise<AzuriteInstance> {
  const location = await mkdtemp(path.join(tmpdir(), 'edgeml-azurite-'));
  const handle = await launchAzurite({ location });
  console.log(`      azurite (npm) azurite-blob on 127.0.0.1:${handle.port}, data in ${location}`);
  let stopped = false;
  return {
    connectionString: handle.connectionString,
    blobEndpoint: handle.blobEndpoint,
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    kill: () => handle.kill(),
    async restart() {
      if (stopped) throw new Error('azurite was stopped for good; start a new one');
      await handle.kill();
      await handle.restart();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // The data is discarded, so there is no point in a graceful stop (it takes seconds).
      await handle.kill();
      await rm(location, { recursive: true, force: true });
    },
  };
}
