/**
 * A leader lease kept on the shared `/data` volume, so exactly one replica of a singleton module (the
 * watcher: one leader per share) works at a time, and a standby takes over when the leader dies.
 *
 * Why a file on the share: the share is what the leader leads. The lease lives beside it, needs no
 * API server, RBAC or broker feature (Mosquitto has no compare-and-set, and the Azure IoT Operations
 * state store is not there locally), and works wherever the modules already share the volume: one
 * machine, or Kubernetes with a ReadWriteMany volume.
 *
 * The algorithm is client-go's leader election with a filesystem compare-and-set:
 * - the record of generation n is `gen-<n>.json` (holder, renew counter, duration); only its holder
 *   rewrites it (write a temporary file, rename over), which is how it renews;
 * - taking over creates `gen-<n+1>.json` with link(2), which fails with EEXIST for all but one
 *   contender, atomically even on NFS;
 * - a contender takes over only when the record has not changed for `leaseDurationMs` *on its own
 *   monotonic clock* (the renewal time written inside is informational), so no clock sync is needed;
 * - a holder that cannot renew within `renewDeadlineMs` (less than the lease duration), or that sees
 *   a newer generation, stops acting as leader before anyone may take over;
 * - release on a clean stop marks the record released, so a standby takes over at once.
 */
import { randomUUID } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EdgeMLError, errorMessage } from '../errors.js';
import type { Logger } from '../logging.js';
import { sleep } from '../retry.js';
import type { LeaderLease } from './types.js';

export interface FileLeaseOptions {
  /** Directory of the lease records (on the shared volume). Created when missing. */
  readonly dir: string;
  /** This replica's identity (pod name, or host-pid). */
  readonly identity: string;
  /** A standby takes over after the record is unchanged this long. Default 15 000. */
  readonly leaseDurationMs?: number;
  /** The holder gives up when it could not renew for this long; below the lease duration. Default 10 000. */
  readonly renewDeadlineMs?: number;
  /** Period of renewals and of a standby's checks. Default 2 000. */
  readonly retryPeriodMs?: number;
  readonly logger: Logger;
  /** Monotonic milliseconds; injected for tests. */
  readonly monotonicNow?: () => number;
}

interface LeaseRecord {
  readonly holder: string;
  readonly generation: number;
  readonly renewCount: number;
  readonly leaseDurationMs: number;
  readonly renewedAt: string;
  readonly released: boolean;
}

const RECORD = /^gen-(\d+)\.json$/;

export const FILE_LEASE_DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } as const;

export function createFileLease(options: FileLeaseOptions): LeaderLease {
  const leaseDurationMs = options.leaseDurationMs ?? FILE_LEASE_DEFAULTS.leaseDurationMs;
  const renewDeadlineMs = options.renewDeadlineMs ?? Math.min(FILE_LEASE_DEFAULTS.renewDeadlineMs, Math.floor(leaseDurationMs * 2 / 3));
  const retryPeriodMs = options.retryPeriodMs ?? Math.min(FILE_LEASE_DEFAULTS.retryPeriodMs, Math.floor(renewDeadlineMs / 3));
  const now = options.monotonicNow ?? (() => performance.now());
  const { dir, identity, logger } = options;
  if (renewDeadlineMs >= leaseDurationMs) throw new EdgeMLError('CONFIG_INVALID', `lease renew deadline (${renewDeadlineMs} ms) must be below the lease duration (${leaseDurationMs} ms)`);
  const lostListeners: ((reason: string) => void)[] = [];
  const stopper = new AbortController();
  let myGeneration = 0;
  let renewCount = 0;
  let lastRenewOk = 0;
  let held = false;
  let loop: Promise<void> | undefined;
  // What a standby last saw, and when (its own clock).
  let observed: { key: string; at: number } | undefined;

  const file = (generation: number): string => path.join(dir, `gen-${generation}.json`);

  const latest = async (): Promise<{ generation: number; record: LeaseRecord | undefined }> => {
    const names = await readdir(dir).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [] as string[];
      throw err;
    });
    let generation = 0;
    for (const n of names) {
      const m = RECORD.exec(n);
      if (m !== null) generation = Math.max(generation, Number(m[1]));
    }
    if (generation === 0) return { generation, record: undefined };
    try {
      return { generation, record: JSON.parse(await readFile(file(generation), 'utf8')) as LeaseRecord };
    } catch (err: unknown) {
      // Being renamed over right now, or torn by a crash: treat as changed, i.e. alive.
      logger.debug({ err, generation }, 'lease record unreadable for a moment');
      return { generation, record: undefined };
    }
  };

  const write = async (generation: number, exclusive: boolean, released = false): Promise<boolean> => {
    const record: LeaseRecord = { holder: identity, generation, renewCount, leaseDurationMs, renewedAt: new Date().toISOString(), released };
    const tmp = path.join(dir, `.tmp-${identity.replace(/[^A-Za-z0-9_.-]/g, '_')}-${randomUUID()}`);
    await writeFile(tmp, JSON.stringify(record));
    try {
      if (exclusive) {
        try {
          await link(tmp, file(generation));
        } catch (err: unknown) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
          throw err;
        }
        return true;
      }
      await rename(tmp, file(generation));
      return true;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  };

  const prune = async (keepFrom: number): Promise<void> => {
    for (const n of await readdir(dir).catch(() => [] as string[])) {
      const m = RECORD.exec(n);
      if (m !== null && Number(m[1]) < keepFrom - 1) await unlink(path.join(dir, n)).catch(() => undefined);
    }
  };

  /** One step of a standby: true once it holds the lease. */
  const tryAcquire = async (): Promise<boolean> => {
    const { generation, record } = await latest();
    const key = record === undefined ? `unreadable:${generation}` : `${record.generation}:${record.holder}:${record.renewCount}:${record.released}`;
    const t = now();
    if (observed === undefined || observed.key !== key) observed = { key, at: t };
    const free = generation === 0 || record?.released === true || record?.holder === identity || t - observed.at >= leaseDurationMs;
    if (!free) return false;
    renewCount = 0;
    if (!(await write(generation + 1, true))) return false;
    myGeneration = generation + 1;
    lastRenewOk = now();
    held = true;
    logger.info({ generation: myGeneration, previousHolder: record?.holder, previousReleased: record?.released ?? null }, 'leader lease acquired');
    await prune(myGeneration);
    return true;
  };

  const lose = (reason: string): void => {
    if (!held) return;
    held = false;
    logger.error({ generation: myGeneration, reason }, 'leader lease lost');
    for (const l of lostListeners) l(reason);
  };

  const renewLoop = async (): Promise<void> => {
    while (held && !stopper.signal.aborted) {
      try {
        await sleep(retryPeriodMs, stopper.signal);
      } catch {
        return;
      }
      try {
        const { generation } = await latest();
        if (generation > myGeneration) return lose(`generation ${generation} was taken by another replica`);
        renewCount++;
        await write(myGeneration, false);
        lastRenewOk = now();
      } catch (err: unknown) {
        logger.warn({ err }, `leader lease renewal failed: ${errorMessage(err)}`);
      }
      if (now() - lastRenewOk > renewDeadlineMs) return lose(`not renewed for ${Math.round(now() - lastRenewOk)} ms (deadline ${renewDeadlineMs} ms)`);
    }
  };

  return {
    identity,
    async acquire(signal) {
      await mkdir(dir, { recursive: true });
      const combined = signal === undefined ? stopper.signal : AbortSignal.any([signal, stopper.signal]);
      let waitingLogged = false;
      for (;;) {
        if (combined.aborted) throw new EdgeMLError('ABORTED', 'lease acquisition aborted');
        try {
          if (await tryAcquire()) break;
        } catch (err: unknown) {
          logger.warn({ err }, `leader lease check failed: ${errorMessage(err)}`);
        }
        if (!waitingLogged) {
          logger.info({ dir, holder: observed?.key }, 'standing by: another replica holds the leader lease');
          waitingLogged = true;
        }
        await sleep(retryPeriodMs, combined);
      }
      loop = renewLoop();
    },
    isHeld: () => held,
    onLost(listener) {
      lostListeners.push(listener);
    },
    async release() {
      stopper.abort();
      await loop;
      if (!held) return;
      held = false;
      try {
        const { generation } = await latest();
        if (generation === myGeneration) await write(myGeneration, false, true);
        logger.info({ generation: myGeneration }, 'leader lease released');
      } catch (err: unknown) {
        logger.warn({ err }, `leader lease release failed (a standby takes over after the lease duration): ${errorMessage(err)}`);
      }
    },
  };
}
