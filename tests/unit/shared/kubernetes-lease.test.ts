/**
 * The Kubernetes Lease store on the wire. No API server runs here, so a minimal one over HTTP keeps one
 * coordination.k8s.io/v1 Lease with the API server's optimistic concurrency (resourceVersion on every
 * write, 409 Conflict on a stale one, 404 before it exists) and checks the bearer token.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { createKubernetesLease, createLogger, sleep, type KubernetesApi, type LeaderLease } from '@edgeml/shared';

const silent = createLogger({ name: 'k8s-lease', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const TIMING = { leaseDurationMs: 900, renewDeadlineMs: 600, retryPeriodMs: 100 };

interface Stored {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion: string };
  spec: Record<string, unknown>;
}

function fakeApiServer(): Promise<{ server: Server; url: string; lease: () => Stored | undefined; requests: string[]; conflicts: () => number }> {
  let stored: Stored | undefined;
  let version = 100;
  let conflicts = 0;
  const requests: string[] = [];
  const body = (req: IncomingMessage): Promise<Record<string, unknown>> =>
    new Promise((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>));
    });
  const server = createServer((req, res) => {
    void (async () => {
      requests.push(`${req.method} ${req.url}`);
      const send = (status: number, json: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      if (req.headers.authorization !== 'Bearer sa-token') return send(401, { message: 'Unauthorized' });
      const base = '/apis/coordination.k8s.io/v1/namespaces/edge/leases';
      if (req.method === 'GET' && req.url === `${base}/edgeml-watcher`) return stored === undefined ? send(404, { message: 'not found' }) : send(200, stored);
      if (req.method === 'POST' && req.url === base) {
        if (stored !== undefined) return send(409, { message: 'already exists' });
        const b = (await body(req)) as unknown as Stored;
        stored = { ...b, metadata: { name: b.metadata.name, namespace: 'edge', resourceVersion: String(++version) } };
        return send(201, stored);
      }
      if (req.method === 'PUT' && req.url === `${base}/edgeml-watcher`) {
        const b = (await body(req)) as unknown as Stored;
        if (stored === undefined) return send(404, { message: 'not found' });
        if (b.metadata.resourceVersion !== stored.metadata.resourceVersion) {
          conflicts++;
          return send(409, { message: 'the object has been modified' });
        }
        stored = { ...b, metadata: { ...stored.metadata, resourceVersion: String(++version) } };
        return send(200, stored);
      }
      send(405, { message: 'unexpected' });
    })();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, lease: () => stored, requests, conflicts: () => conflicts })),
  );
}

describe('Kubernetes Lease leader election (coordination.k8s.io/v1, optimistic concurrency)', function () {
  this.timeout(20_000);
  let api: Awaited<ReturnType<typeof fakeApiServer>>;
  const leases: LeaderLease[] = [];
  const lease = (identity: string, token = 'sa-token'): LeaderLease => {
    const k8s: KubernetesApi = { baseUrl: api.url, namespace: 'edge', token: () => Promise.resolve(token) };
    const l = createKubernetesLease(k8s, 'edgeml-watcher', { identity, logger: silent, ...TIMING });
    leases.push(l);
    return l;
  };
  beforeEach(async () => {
    api = await fakeApiServer();
  });
  afterEach(async () => {
    await Promise.all(leases.splice(0).map((l) => l.release()));
    await new Promise((r) => api.server.close(r));
  });

  it('creates the Lease, renews it, and a standby takes it over only when released or unrenewed for the lease duration', async () => {
    const a = lease('watcher-a');
    const b = lease('watcher-b');
    await a.acquire();
    assert.equal(api.lease()?.spec['holderIdentity'], 'watcher-a');
    assert.equal(api.lease()?.spec['leaseDurationSeconds'], 1);
    let bHeld = false;
    const bAcquire = b.acquire().then(() => (bHeld = true));
    const rv = api.lease()?.metadata.resourceVersion;
    await sleep(TIMING.leaseDurationMs * 2);
    assert.equal(bHeld, false, 'a renewing holder keeps it');
    assert.notEqual(api.lease()?.metadata.resourceVersion, rv, 'renewals are writes (new resourceVersion)');
    await a.release();
    await bAcquire;
    assert.equal(api.lease()?.spec['holderIdentity'], 'watcher-b');
    assert.equal(api.lease()?.spec['leaseTransitions'], 1);
  });

  it('loses the lease when another replica has written over it (409 on renewal, another holder)', async () => {
    const a = lease('watcher-a');
    await a.acquire();
    const lost = new Promise<string>((resolve) => a.onLost(resolve));
    const s = api.lease()!;
    // What a standby does after the lease duration: an update on the version it read.
    const res = await fetch(`${api.url}/apis/coordination.k8s.io/v1/namespaces/edge/leases/edgeml-watcher`, {
      method: 'PUT',
      headers: { authorization: 'Bearer sa-token', 'content-type': 'application/json' },
      body: JSON.stringify({ ...s, spec: { ...s.spec, holderIdentity: 'watcher-b' } }),
    });
    assert.equal(res.status, 200);
    assert.match(await lost, /taken over/);
    assert.ok(api.conflicts() >= 1);
  });

  it('keeps standing by, not crashing, when the API server refuses its token', async () => {
    const c = lease('watcher-c', 'wrong');
    await assert.rejects(c.acquire(AbortSignal.timeout(500)), { code: 'ABORTED' });
    assert.equal(api.lease(), undefined);
  });
});
