/**
 * The IoT Hub service REST calls of the model-registered function, against a local HTTP server
 * that records them (IoT Hub itself is not reachable from tests): the SAS token, the device query
 * with its continuation, the module twin patch and the layered deployment body.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { desiredFromLayered, iotHubTarget, parseServiceConnectionString, serviceSasToken } from '@edgeml/deploy-tools';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

describe('model-registered: IoT Hub service REST target', () => {
  let server: Server;
  let base: string;
  const seen: Seen[] = [];
  const key = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
  const cs = `HostName=edgeml-hub.azure-devices.net;SharedAccessKeyName=registryReadWrite;SharedAccessKey=${key}`;

  before(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => (text += d.toString()));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: text === '' ? undefined : JSON.parse(text) });
        if (req.url!.startsWith('/devices/query')) {
          const page2 = req.headers['x-ms-continuation'] === 'page2';
          res.writeHead(200, { 'content-type': 'application/json', ...(page2 ? {} : { 'x-ms-continuation': 'page2' }) }).end(JSON.stringify(page2 ? [{ deviceId: 'dev-3' }] : [{ deviceId: 'dev-1' }, { deviceId: 'dev-2' }]));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => server.close());

  it('signs with a SAS token from the connection string', () => {
    const { host, keyName } = parseServiceConnectionString(cs);
    const token = serviceSasToken(host, keyName, key, 1_700_000_000_000, 600);
    const expiry = 1_700_000_000 + 600;
    const sig = createHmac('sha256', Buffer.from(key, 'base64')).update(`edgeml-hub.azure-devices.net\n${expiry}`).digest('base64');
    assert.equal(token, `SharedAccessSignature sr=edgeml-hub.azure-devices.net&sig=${encodeURIComponent(sig)}&se=${expiry}&skn=registryReadWrite`);
  });

  it('queries devices page by page, patches module twins, writes a layered deployment', async () => {
    const target = iotHubTarget(cs, { baseUrl: base, now: () => 1_700_000_000_000 });
    assert.deepEqual(await target.findDevices("tags.edgeml.model = 'colour-cls'"), ['dev-1', 'dev-2', 'dev-3']);
    assert.deepEqual(seen[0]!.body, { query: "SELECT deviceId FROM devices WHERE tags.edgeml.model = 'colour-cls'" });
    assert.match(seen[0]!.url, /api-version=2021-04-12/);
    assert.match(String(seen[0]!.headers.authorization), /^SharedAccessSignature sr=edgeml-hub\.azure-devices\.net&sig=/);
    await target.patchModuleTwin('dev-1', 'inferencer', { rollout: { cls: { mode: 'shadow' } } });
    const patch = seen.find((s) => s.method === 'PATCH')!;
    assert.equal(patch.url, '/twins/dev-1/modules/inferencer?api-version=2021-04-12');
    assert.deepEqual(patch.body, { properties: { desired: { rollout: { cls: { mode: 'shadow' } } } } });
    const content = { inferencer: { 'properties.desired.rollout.cls': { mode: 'canary' } } };
    await target.applyLayeredDeployment({ id: 'edgeml-model-x-1', targetCondition: "tags.edgeml.model = 'x'", priority: 20, modulesContent: content, labels: { model: 'x' } });
    const put = seen.find((s) => s.method === 'PUT')!;
    assert.equal(put.url, '/configurations/edgeml-model-x-1?api-version=2021-04-12');
    assert.equal(put.headers['if-match'], '*');
    assert.deepEqual(put.body, { id: 'edgeml-model-x-1', labels: { model: 'x' }, targetCondition: "tags.edgeml.model = 'x'", priority: 20, content: { modulesContent: content } });
    assert.deepEqual(desiredFromLayered(content.inferencer), { rollout: { cls: { mode: 'canary' } } });
  });
});
