/**
 * The leader lease a module asks for through its environment (only singletons need one: the watcher,
 * one leader per share). `EDGEML_LEADER_LEASE`: unset or `none` (no lease); `file` (a lease on the
 * shared volume, file-lease.ts: `EDGEML_LEADER_LEASE_DIR`, default `<data>/state/<module>/leader`); or
 * `kubernetes` (a Lease object in the pod's namespace, kubernetes-lease.ts: `EDGEML_LEADER_LEASE_NAME`,
 * default `edgeml-<module>`). Both: `EDGEML_LEADER_LEASE_DURATION_MS` (15000) and
 * `EDGEML_LEADER_IDENTITY` (default `<hostname>-<random>`; Kubernetes sets the pod name).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import { EdgeMLError } from '../errors.js';
import type { Logger } from '../logging.js';
import type { DataPaths } from '../paths.js';
import { createFileLease } from './file-lease.js';
import { createKubernetesLease, inClusterApi } from './kubernetes-lease.js';
import type { LeaderLease } from './types.js';

/** @throws EdgeMLError CONFIG_INVALID for an unknown kind, a bad duration, or a kubernetes lease outside a pod */
export async function leaseFromEnvironment(moduleName: string, env: Readonly<Record<string, string | undefined>>, paths: DataPaths, logger: Logger): Promise<LeaderLease | undefined> {
  const kind = (env['EDGEML_LEADER_LEASE'] ?? '').trim().toLowerCase();
  if (kind === '' || kind === 'none') return undefined;
  if (kind !== 'file' && kind !== 'kubernetes') throw new EdgeMLError('CONFIG_INVALID', `EDGEML_LEADER_LEASE must be none, file or kubernetes (got "${kind}")`);
  const rawDuration = env['EDGEML_LEADER_LEASE_DURATION_MS'];
  const leaseDurationMs = rawDuration === undefined || rawDuration.trim() === '' ? undefined : Number(rawDuration);
  if (leaseDurationMs !== undefined && (!Number.isInteger(leaseDurationMs) || leaseDurationMs < 300 || leaseDurationMs > 600_000)) {
    throw new EdgeMLError('CONFIG_INVALID', `EDGEML_LEADER_LEASE_DURATION_MS must be an integer from 300 to 600000 (got "${rawDuration}")`);
  }
  const identity = env['EDGEML_LEADER_IDENTITY']?.trim() || `${hostname()}-${randomUUID().slice(0, 8)}`;
  const options = { identity, ...(leaseDurationMs === undefined ? {} : { leaseDurationMs }), logger: logger.child({ component: 'lease', identity }) };
  if (kind === 'kubernetes') return createKubernetesLease(await inClusterApi(env), env['EDGEML_LEADER_LEASE_NAME']?.trim() || `edgeml-${moduleName}`, options);
  return createFileLease({ dir: env['EDGEML_LEADER_LEASE_DIR']?.trim() || path.join(paths.state(moduleName), 'leader'), ...options });
}
