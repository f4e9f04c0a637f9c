/**
 * IoT Hub's service REST API (api-version 2021-04-12) as a {@link TwinTarget}: a device query, a
 * module twin patch, a layered deployment (a configuration with `modulesContent`). Authenticated
 * with a shared access signature made from the hub's connection string (a policy with
 * `RegistryRead`, `RegistryWrite` and `ServiceConnect`). No SDK: three calls do not justify one.
 */
import { createHmac } from 'node:crypto';
import { EdgeMLError, errorMessage } from '@edgeml/shared';
import type { TwinTarget } from './targets.js';

const API_VERSION = '2021-04-12';

/** Parses `HostName=…;SharedAccessKeyName=…;SharedAccessKey=…`. @throws EdgeMLError CONFIG_INVALID */
export function parseServiceConnectionString(text: string): { host: string; keyName: string; key: string } {
  const parts = Object.fromEntries(text.split(';').filter((p) => p.includes('=')).map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  const host = parts['HostName'];
  const keyName = parts['SharedAccessKeyName'];
  const key = parts['SharedAccessKey'];
  if (host === undefined || keyName === undefined || key === undefined) throw new EdgeMLError('CONFIG_INVALID', 'the IoT Hub connection string needs HostName, SharedAccessKeyName and SharedAccessKey');
  return { host, keyName, key };
}

/** `SharedAccessSignature sr=…&sig=…&se=…&skn=…` for the hub, valid `ttlS` seconds. */
export function serviceSasToken(host: string, keyName: string, key: string, nowMs: number, ttlS = 3600): string {
  const resource = encodeURIComponent(host.toLowerCase());
  const expiry = Math.floor(nowMs / 1000) + ttlS;
  const signature = createHmac('sha256', Buffer.from(key, 'base64')).update(`${resource}\n${expiry}`).digest('base64');
  return `SharedAccessSignature sr=${resource}&sig=${encodeURIComponent(signature)}&se=${expiry}&skn=${encodeURIComponent(keyName)}`;
}

export function iotHubTarget(connectionString: string, options: { fetch?: typeof fetch; now?: () => number; baseUrl?: string } = {}): TwinTarget {
  const { host, keyName, key } = parseServiceConnectionString(connectionString);
  const doFetch = options.fetch ?? fetch;
  const base = options.baseUrl ?? `https://${host}`;
  const call = async (method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> => {
    let response: Response;
    try {
      response = await doFetch(`${base}${path}${path.includes('?') ? '&' : '?'}api-version=${API_VERSION}`, {
        method,
        headers: { 'content-type': 'application/json', authorization: serviceSasToken(host, keyName, key, (options.now ?? Date.now)()), ...headers },
        body: JSON.stringify(body),
      });
    } catch (err: unknown) {
      throw new EdgeMLError('EDGE_CONNECT_FAILED', `IoT Hub ${host} did not answer ${method} ${path}: ${errorMessage(err)}`, { cause: err });
    }
    if (response.status === 401 || response.status === 403) throw new EdgeMLError('UNAUTHORIZED', `IoT Hub ${host} refused ${method} ${path} (${response.status})`);
    if (!response.ok) throw new EdgeMLError('TWIN_UPDATE_FAILED', `IoT Hub ${host}: ${method} ${path}: HTTP ${response.status} ${(await response.text()).slice(0, 300)}`);
    return response;
  };
  return {
    async findDevices(condition) {
      const ids: string[] = [];
      let continuation: string | null = null;
      do {
        const response = await call('POST', '/devices/query', { query: `SELECT deviceId FROM devices WHERE ${condition}` }, continuation === null ? {} : { 'x-ms-continuation': continuation });
        for (const d of (await response.json()) as { deviceId?: string }[]) if (typeof d.deviceId === 'string') ids.push(d.deviceId);
        continuation = response.headers.get('x-ms-continuation');
      } while (continuation !== null && continuation !== '');
      return ids;
    },
    async patchModuleTwin(deviceId, moduleId, patch) {
      const r = await call('PATCH', `/twins/${encodeURIComponent(deviceId)}/modules/${encodeURIComponent(moduleId)}`, { properties: { desired: patch } });
      await r.body?.cancel().catch(() => undefined);
    },
    async applyLayeredDeployment(d) {
      const r = await call('PUT', `/configurations/${encodeURIComponent(d.id)}`, { id: d.id, labels: d.labels, targetCondition: d.targetCondition, priority: d.priority, content: { modulesContent: d.modulesContent } }, { 'if-match': '*' });
      await r.body?.cancel().catch(() => undefined);
    },
  };
}
