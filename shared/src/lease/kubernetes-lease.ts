/**
 * A leader lease as a Kubernetes Lease object (coordination.k8s.io/v1), the election itself being
 * elector.ts. The compare-and-set is the API server's optimistic concurrency: every update carries the
 * `resourceVersion` last read, and a 409 Conflict means another replica wrote first. Released is an
 * empty `holderIdentity`, as client-go's leader election writes it.
 *
 * In a pod: the API server from KUBERNETES_SERVICE_HOST/PORT, the service account's token (re-read on
 * every request: the kubelet rotates it), CA and namespace from
 * /var/run/secrets/kubernetes.io/serviceaccount. The role needs get, create and update on `leases`.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { EdgeMLError, errorMessage } from '../errors.js';
import { createLeaderElector, type ElectorOptions, type LeaseStore } from './elector.js';
import type { LeaderLease } from './types.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubernetesApi {
  /** `https://host:port` (or `http://…` for a local test server). */
  readonly baseUrl: string;
  readonly namespace: string;
  /** Read before every request (rotated tokens). */
  readonly token: () => Promise<string | undefined>;
  readonly ca?: Buffer;
}

interface LeaseObject {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

/** The API of the pod's own service account. @throws EdgeMLError CONFIG_INVALID outside a pod */
export async function inClusterApi(env: Readonly<Record<string, string | undefined>>, dir = SERVICE_ACCOUNT_DIR): Promise<KubernetesApi> {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'] ?? '443';
  if (host === undefined || host === '') throw new EdgeMLError('CONFIG_INVALID', 'EDGEML_LEADER_LEASE=kubernetes needs KUBERNETES_SERVICE_HOST (a pod)');
  try {
    const namespace = (await readFile(`${dir}/namespace`, 'utf8')).trim();
    const ca = await readFile(`${dir}/ca.crt`);
    return { baseUrl: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, namespace, ca, token: async () => (await readFile(`${dir}/token`, 'utf8')).trim() };
  } catch (err: unknown) {
    throw new EdgeMLError('CONFIG_INVALID', `the service account files in ${dir} cannot be read (automountServiceAccountToken?): ${errorMessage(err)}`, { cause: err });
  }
}

/** The API server answers JSON; anything else (a proxy's HTML error page) is kept out as null. */
function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
}

async function call(api: KubernetesApi, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const url = new URL(path, api.baseUrl);
  const token = await api.token();
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const lib = url.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      url,
      {
        method,
        ...(api.ca === undefined ? {} : { ca: api.ca }),
        headers: { accept: 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': payload.length }) },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: parseJson(Buffer.concat(chunks)) }));
      },
    );
    req.on('timeout', () => req.destroy(new EdgeMLError('TIMEOUT', `${method} ${path}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function expectOk(r: { status: number; json: unknown }, what: string): LeaseObject {
  if (r.status >= 200 && r.status < 300) return r.json as LeaseObject;
  const code = r.status === 401 || r.status === 403 ? 'UNAUTHORIZED' : 'INTERNAL';
  throw new EdgeMLError(code, `${what}: the API server answered ${r.status} ${JSON.stringify((r.json as { message?: unknown } | null)?.message ?? '')}`);
}

export function createKubernetesLeaseStore(api: KubernetesApi, name: string): LeaseStore {
  const path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(api.namespace)}/leases/${encodeURIComponent(name)}`;
  const collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(api.namespace)}/leases`;
  let lastSeen: LeaseObject | undefined;
  let mine: LeaseObject | undefined;

  const put = async (lease: LeaseObject): Promise<LeaseObject | undefined> => {
    const r = await call(api, 'PUT', path, lease);
    if (r.status === 409) return undefined;
    return expectOk(r, `PUT lease ${name}`);
  };

  return {
    where: `lease ${api.namespace}/${name}`,
    async read() {
      const r = await call(api, 'GET', path);
      if (r.status === 404) {
        lastSeen = undefined;
        return undefined;
      }
      lastSeen = expectOk(r, `GET lease ${name}`);
      const holder = lastSeen.spec.holderIdentity ?? '';
      return { version: lastSeen.metadata.resourceVersion ?? '', holder, released: holder === '' };
    },
    async acquire(holder, leaseDurationMs) {
      const at = new Date().toISOString();
      const spec = { holderIdentity: holder, leaseDurationSeconds: Math.max(1, Math.ceil(leaseDurationMs / 1000)), acquireTime: at, renewTime: at };
      if (lastSeen === undefined) {
        const r = await call(api, 'POST', collection, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec: { ...spec, leaseTransitions: 0 } });
        if (r.status === 409) return false;
        mine = expectOk(r, `POST lease ${name}`);
        return true;
      }
      const transitions = (lastSeen.spec.leaseTransitions ?? 0) + (lastSeen.spec.holderIdentity === holder ? 0 : 1);
      const updated = await put({ ...lastSeen, spec: { ...lastSeen.spec, ...spec, leaseTransitions: transitions } });
      if (updated === undefined) return false;
      mine = updated;
      return true;
    },
    async renew() {
      if (mine === undefined) return false;
      const updated = await put({ ...mine, spec: { ...mine.spec, renewTime: new Date().toISOString() } });
      if (updated !== undefined) {
        mine = updated;
        return true;
      }
      // 409: someone wrote. Still ours (a retried write of our own)? Then renew on the fresh version.
      const current = expectOk(await call(api, 'GET', path), `GET lease ${name}`);
      if (current.spec.holderIdentity !== mine.spec.holderIdentity) return false;
      mine = current;
      return (await put({ ...current, spec: { ...current.spec, renewTime: new Date().toISOString() } })) !== undefined;
    },
    async release() {
      if (mine === undefined) return;
      await put({ ...mine, spec: { ...mine.spec, holderIdentity: '', leaseDurationSeconds: 1 } });
      mine = undefined;
    },
  };
}

export function createKubernetesLease(api: KubernetesApi, name: string, options: ElectorOptions): LeaderLease {
  return createLeaderElector(createKubernetesLeaseStore(api, name), options);
}
