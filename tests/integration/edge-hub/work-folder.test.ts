import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { createEdgeClientFromEnvironment, isEdgeMLError } from '@edgeml/shared';
import { createEdgeHub, startWorkloadApi } from '@edgeml/edge-hub';
import { collectInputs, connectModule, logger, manifest, startHub, tempDir } from './helpers.js';

describe('edge hub work folder, credentials and the workload API', function () {
  this.timeout(60_000);

  it('writes a credential file per module and keeps keys, CA and twins across restarts', async () => {
    const t = await tempDir();
    const m = manifest({ modules: ['a', 'b'], routes: {}, desired: { a: { level: 1 } } });
    try {
      const hub1 = await startHub({ workDir: t.dir, manifest: m });
      const env1 = hub1.moduleEnv('a');
      const file = readFileSync(path.join(t.dir, 'modules', 'a.env'), 'utf8');
      assert.equal(file, `EdgeHubConnectionString=${env1['EdgeHubConnectionString']}\nEdgeModuleCACertificateFile=${hub1.caCertificateFile}\n`);
      assert.match(env1['EdgeHubConnectionString'] ?? '', new RegExp(`^HostName=edgeml-local\\.azure-devices\\.net;GatewayHostName=localhost:${hub1.port};DeviceId=edgeml-dev;ModuleId=a;SharedAccessKey=[A-Za-z0-9+/=]{44}$`));
      assert.equal(statSync(path.join(t.dir, 'identities.json')).mode & 0o077, 0, 'keys are private to the owner');
      assert.equal(statSync(path.join(t.dir, 'certs', 'ca.key.pem')).mode & 0o077, 0);
      const ca = readFileSync(hub1.caCertificateFile, 'utf8');
      await hub1.patchDesired('a', { level: 2 });
      await hub1.stop();
      await hub1.stop();
      const hub2 = await startHub({ workDir: t.dir, manifest: m, port: hub1.port });
      assert.equal(hub2.moduleEnv('a')['EdgeHubConnectionString'], env1['EdgeHubConnectionString']);
      assert.equal(readFileSync(hub2.caCertificateFile, 'utf8'), ca);
      assert.deepEqual(hub2.getTwin('a').desired, { level: 2, $version: 2 });
      await hub2.stop();
      // A changed manifest section replaces desired, with a new version.
      const hub3 = await createEdgeHub({ workDir: t.dir, manifest: manifest({ modules: ['a', 'b'], routes: {}, desired: { a: { level: 5 } } }), port: 0, logger });
      assert.deepEqual(hub3.getTwin('a').desired, { level: 5, $version: 3 });
      await hub3.stop();
    } finally {
      await t.cleanup();
    }
  });

  it('refuses to build with a route that does not compile, naming the route and the position', async () => {
    const t = await tempDir();
    try {
      await assert.rejects(
        createEdgeHub({ workDir: t.dir, manifest: manifest({ modules: ['a'], routes: { good: 'FROM /messages/* INTO $upstream', broken: 'FROM /messages/* WHERE (a = INTO $upstream' } }), port: 0, logger }),
        (err: unknown) => isEdgeMLError(err) && err.code === 'ROUTE_COMPILE_ERROR' && /broken/.test(err.message) && /column \d+/.test(err.message),
      );
    } finally {
      await t.cleanup();
    }
  });

  it('serves the production IOTEDGE_* path through the workload API on a unix socket', async () => {
    const t = await tempDir();
    const hub = await startHub({ workDir: t.dir, manifest: manifest({ modules: ['a', 'b'], routes: { ab: 'FROM /messages/modules/a/outputs/* INTO BrokeredEndpoint("/modules/b/inputs/in")' } }) });
    const socketPath = path.join(t.dir, 'workload.sock');
    const workload = await startWorkloadApi({ socketPath, hub, logger });
    const edgeEnv = (moduleId: string): Record<string, string> => ({
      IOTEDGE_WORKLOADURI: `unix://${socketPath}`,
      IOTEDGE_DEVICEID: hub.deviceId,
      IOTEDGE_MODULEID: moduleId,
      IOTEDGE_IOTHUBHOSTNAME: hub.iotHubHostName,
      IOTEDGE_AUTHSCHEME: 'sasToken',
      IOTEDGE_MODULEGENERATIONID: 'gen-1',
      IOTEDGE_GATEWAYHOSTNAME: hub.gatewayHostName,
    });
    const a = await connectModule(hub, 'a', edgeEnv('a'));
    const b = await connectModule(hub, 'b', edgeEnv('b'));
    try {
      const got = collectInputs(b, 'in');
      await a.sendOutput('out', { body: { via: 'workload' }, messageId: 'w1' });
      const [msg] = await got.waitFor(1);
      assert.equal(msg?.messageId, 'w1');
      const trust = await fetchOverSocket(socketPath, 'GET', '/trust-bundle?api-version=2018-06-28');
      assert.equal(trust.status, 200);
      assert.match(trust.contentType, /application\/json/);
      assert.equal((JSON.parse(trust.body) as { certificate: string }).certificate, readFileSync(hub.caCertificateFile, 'utf8'));
      await assert.rejects(createEdgeClientFromEnvironment(logger, { ...edgeEnv('a'), IOTEDGE_WORKLOADURI: `unix://${path.join(t.dir, 'missing.sock')}` }), (err: unknown) => isEdgeMLError(err) && err.code === 'EDGE_CONNECT_FAILED');
    } finally {
      await a.close();
      await b.close();
      await workload.close();
      await hub.stop();
      await t.cleanup();
    }
  });
});

async function fetchOverSocket(socketPath: string, method: string, urlPath: string): Promise<{ status: number; contentType: string; body: string }> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: urlPath }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}
