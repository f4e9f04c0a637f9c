/**
 * Where the function writes: the module twins of matching devices, or a layered deployment. Two
 * implementations: IoT Hub's service REST API (iothub.ts) and the local edge hub's control API
 * (below), which is how the function is tested and how the one-machine loop runs it.
 */
import { EdgeMLError, errorMessage } from '@edgeml/shared';

export interface TwinTarget {
  /** Device ids matching an IoT Hub query condition (`tags.edgeml.model = 'x'`). */
  findDevices(condition: string): Promise<string[]>;
  /** Merges `patch` into a module twin's desired properties. */
  patchModuleTwin(deviceId: string, moduleId: string, patch: Readonly<Record<string, unknown>>): Promise<void>;
  /** Creates (or replaces) a layered deployment: `modulesContent` in the `properties.desired.<path>` form. */
  applyLayeredDeployment(deployment: { id: string; targetCondition: string; priority: number; modulesContent: Record<string, unknown>; labels: Record<string, string> }): Promise<void>;
}

/**
 * The local edge hub (`npm start`, `npx edgeml hub`): one device, whose module twins the control API
 * patches. It has no device tags or layered deployments: every condition matches its one device,
 * and a layered deployment's desired properties are applied to the module twin directly.
 */
export function localHubTarget(controlUrl: string, deviceId = 'local', doFetch: typeof fetch = fetch): TwinTarget {
  const patch = async (moduleId: string, body: Readonly<Record<string, unknown>>): Promise<void> => {
    let response: Response;
    try {
      response = await doFetch(`${controlUrl}/twin/${encodeURIComponent(moduleId)}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    } catch (err: unknown) {
      throw new EdgeMLError('EDGE_CONNECT_FAILED', `the local hub's control API at ${controlUrl} did not answer: ${errorMessage(err)}`, { cause: err });
    }
    if (!response.ok) throw new EdgeMLError('TWIN_UPDATE_FAILED', `PATCH /twin/${moduleId}: HTTP ${response.status} ${(await response.text()).slice(0, 300)}`);
    await response.body?.cancel().catch(() => undefined);
  };
  return {
    findDevices: () => Promise.resolve([deviceId]),
    patchModuleTwin: (_device, moduleId, body) => patch(moduleId, body),
    async applyLayeredDeployment(deployment) {
      for (const [moduleId, content] of Object.entries(deployment.modulesContent)) await patch(moduleId, desiredFromLayered(content as Record<string, unknown>));
    },
  };
}

/** `{'properties.desired.a.b': v}` (a layered deployment's form) → `{a: {b: v}}`. */
export function desiredFromLayered(content: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(content)) {
    const parts = key.split('.');
    if (parts[0] !== 'properties' || parts[1] !== 'desired' || parts.length < 3) continue;
    let node = out;
    for (const p of parts.slice(2, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts.at(-1)!] = value;
  }
  return out;
}
