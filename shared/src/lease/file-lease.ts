/**
 * A leader lease kept on the shared `/data` volume (the election itself is elector.ts).
 *
 * Why a file on the share: the share is what the leader leads. The lease lives beside it and needs
 * no API server, RBAC or broker feature (Mosquitto has no compare-and-set, and the Azure IoT
 * Operations state store is not there locally); it works wherever the modules already share the
 * volume: one machine, or Kubernetes with a ReadWriteMany volume.
 *
 * The compare-and-set: the record of generation n is `gen-<n>.json` (holder, renew counter); only its
 * holder rewrites it (a temporary file renamed over it), which is how it renews; taking over creates
 * `gen-<n+1>.json` with link(2), which fails with EEXIST for all but one contender, atomically even on
 * NFS. A holder that finds a newer generation has been taken over.
 */
import { randomUUID } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logging.js';
import { createLeaderElector, LEASE_DEFAULTS, type ElectorOptions, type LeaseStore } from './elector.js';
import type { LeaderLease } from './types.js';

export interface FileLeaseOptions extends ElectorOptions {
  /** Directory of the lease records (on the shared volume). Created when missing. */
  readonly dir: string;
}

interface FileRecord {
  readonly holder: string;
  readonly generation: number;
  readonly renewCount: number;
  readonly leaseDurationMs: number;
  readonly renewedAt: string;
  readonly released: boolean;
}

const RECORD = /^gen-(\d+)\.json$/;

/** Same timings as every lease. */
export const FILE_LEASE_DEFAULTS = LEASE_DEFAULTS;

export function createFileLeaseStore(dir: string, identity: string, logger: Logger): LeaseStore {
  let lastSeenGeneration = 0;
  let myGeneration = 0;
  let renewCount = 0;
  let leaseDurationMs: number = LEASE_DEFAULTS.leaseDurationMs;
  const file = (generation: number): string => path.join(dir, `gen-${generation}.json`);

  const latestGeneration = async (): Promise<number> => {
    const names = await readdir(dir).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [] as string[];
      throw err;
    });
    let generation = 0;
    for (const n of names) {
      const m = RECORD.exec(n);
      if (m !== null) generation = Math.max(generation, Number(m[1]));
    }
    return generation;
  };

  const write = async (generation: number, exclusive: boolean, released: boolean): Promise<boolean> => {
    const record: FileRecord = { holder: identity, generation, renewCount, leaseDurationMs, renewedAt: new Date().toISOString(), released };
    await mkdir(dir, { recursive: true });
    const tmp = path.join(dir, `.tmp-${identity.replace(/[^A-Za-z0-9_.-]/g, '_')}-${randomUUID()}`);
    await writeFile(tmp, JSON.stringify(record));
    try {
      if (!exclusive) {
        await rename(tmp, file(generation));
        return true;
      }
      try {
        await link(tmp, file(generation));
        return true;
      } catch (err: unknown) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw err;
      }
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  };

  return {
    where: dir,
    async read() {
      const generation = await latestGeneration();
      lastSeenGeneration = generation;
      if (generation === 0) return undefined;
      try {
        const r = JSON.parse(await readFile(file(generation), 'utf8')) as FileRecord;
        return { version: `${generation}:${r.renewCount}:${r.released}`, holder: r.holder, released: r.released };
      } catch (err: unknown) {
        // Being renamed over right now, or torn by a crash: a version of its own, i.e. alive.
        logger.debug({ err, generation }, 'lease record unreadable for a moment');
        return { version: `unreadable:${generation}`, holder: '', released: false };
      }
    },
    async acquire(_holder, durationMs) {
      leaseDurationMs = durationMs;
      renewCount = 0;
      if (!(await write(lastSeenGeneration + 1, true, false))) return false;
      myGeneration = lastSeenGeneration + 1;
      for (const n of await readdir(dir).catch(() => [] as string[])) {
        const m = RECORD.exec(n);
        if (m !== null && Number(m[1]) < myGeneration - 1) await unlink(path.join(dir, n)).catch(() => undefined);
      }
      return true;
    },
    async renew() {
      if ((await latestGeneration()) > myGeneration) return false;
      renewCount++;
      return write(myGeneration, false, false);
    },
    async release() {
      if ((await latestGeneration()) === myGeneration) await write(myGeneration, false, true);
    },
  };
}

export function createFileLease(options: FileLeaseOptions): LeaderLease {
  return createLeaderElector(createFileLeaseStore(options.dir, options.identity, options.logger), options);
}
