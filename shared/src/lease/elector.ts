/**
 * Leader election over a lease store, after client-go's leaderelection: a standby takes the lease only
 * when its record has not changed for `leaseDurationMs` *on the standby's own monotonic clock* (the times
 * written inside are informational), so no clock sync between nodes is needed; the holder renews every
 * `retryPeriodMs` and stops acting as leader when it could not renew for `renewDeadlineMs` (below the
 * lease duration, so it has stopped before anyone may take over) or finds the lease taken.
 * A store supplies the compare-and-set: a file on the shared volume (file-lease.ts) or a Kubernetes
 * Lease object (kubernetes-lease.ts).
 */
import { EdgeMLError, errorMessage } from '../errors.js';
import type { Logger } from '../logging.js';
import { sleep } from '../retry.js';
import type { LeaderLease } from './types.js';

/** What a standby sees of the lease: an opaque version that changes on every write. */
export interface LeaseObservation {
  readonly version: string;
  readonly holder: string;
  readonly released: boolean;
}

export interface LeaseStore {
  /** Where the lease lives, for logs. */
  readonly where: string;
  /** The lease as it is now; undefined when there is none yet. */
  read(): Promise<LeaseObservation | undefined>;
  /** Takes the lease, provided it is still as last read. false: another replica wrote first. */
  acquire(holder: string, leaseDurationMs: number): Promise<boolean>;
  /** Renews the lease this store acquired. false: it has been taken over. */
  renew(): Promise<boolean>;
  /** Marks the lease released, so a standby takes it at once. */
  release(): Promise<void>;
}

export interface ElectorOptions {
  readonly identity: string;
  /** Default 15 000. */
  readonly leaseDurationMs?: number;
  /** Default min(10 000, ⅔ of the lease duration). */
  readonly renewDeadlineMs?: number;
  /** Default min(2 000, ⅓ of the renew deadline). */
  readonly retryPeriodMs?: number;
  readonly logger: Logger;
  /** Monotonic milliseconds; injected for tests. */
  readonly monotonicNow?: () => number;
}

export const LEASE_DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } as const;

/** @throws EdgeMLError CONFIG_INVALID when the renew deadline is not below the lease duration */
export function createLeaderElector(store: LeaseStore, options: ElectorOptions): LeaderLease {
  const leaseDurationMs = options.leaseDurationMs ?? LEASE_DEFAULTS.leaseDurationMs;
  const renewDeadlineMs = options.renewDeadlineMs ?? Math.min(LEASE_DEFAULTS.renewDeadlineMs, Math.floor((leaseDurationMs * 2) / 3));
  const retryPeriodMs = options.retryPeriodMs ?? Math.min(LEASE_DEFAULTS.retryPeriodMs, Math.floor(renewDeadlineMs / 3));
  const now = options.monotonicNow ?? (() => performance.now());
  const { identity, logger } = options;
  if (renewDeadlineMs >= leaseDurationMs) throw new EdgeMLError('CONFIG_INVALID', `lease renew deadline (${renewDeadlineMs} ms) must be below the lease duration (${leaseDurationMs} ms)`);
  const lostListeners: ((reason: string) => void)[] = [];
  const stopper = new AbortController();
  let lastRenewOk = 0;
  let held = false;
  let loop: Promise<void> | undefined;
  let observed: { version: string; holder: string; at: number } | undefined;

  /** One step of a standby: true once it holds the lease. */
  const tryAcquire = async (): Promise<boolean> => {
    const seen = await store.read();
    const t = now();
    const version = seen?.version ?? 'none';
    if (observed === undefined || observed.version !== version) observed = { version, holder: seen?.holder ?? '', at: t };
    // Its own name (a restarted pod): the previous process of this identity is gone, take it at once.
    const free = seen === undefined || seen.released || seen.holder === identity || t - observed.at >= leaseDurationMs;
    if (!free || !(await store.acquire(identity, leaseDurationMs))) return false;
    lastRenewOk = now();
    held = true;
    logger.info({ where: store.where, previousHolder: seen?.holder, previousReleased: seen?.released ?? null }, 'leader lease acquired');
    return true;
  };

  const lose = (reason: string): void => {
    if (!held) return;
    held = false;
    logger.error({ where: store.where, reason }, 'leader lease lost');
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
        if (!(await store.renew())) return lose('taken over by another replica');
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
          logger.info({ where: store.where, holder: observed?.holder }, 'standing by: another replica holds the leader lease');
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
        await store.release();
        logger.info({ where: store.where }, 'leader lease released');
      } catch (err: unknown) {
        logger.warn({ err }, `leader lease release failed (a standby takes over after the lease duration): ${errorMessage(err)}`);
      }
    },
  };
}
