/**
 * The parts of a deployment manifest the hub reads: `$edgeHub` desired properties (routes,
 * store-and-forward), the module list of `$edgeAgent`, and each module's desired properties (twin seeds).
 */
import { EdgeMLError } from '@edgeml/shared';
import { isPlainObject } from './twins.js';

export interface ManifestParts {
  readonly edgeHubDesired: unknown;
  readonly agentModules: string[];
  /** A module's `properties.desired` without `$version`/`$metadata` (a copy), `{}` when absent. */
  readonly moduleDesired: (moduleId: string) => Record<string, unknown>;
}

/**
 * Accepts `{ modulesContent }` and `{ content: { modulesContent } }` (a layered deployment).
 * @throws EdgeMLError CONFIG_INVALID listing every problem
 */
export function readManifest(manifest: unknown): ManifestParts {
  const problems: string[] = [];
  const root = isPlainObject(manifest) ? manifest : {};
  if (!isPlainObject(manifest)) problems.push('manifest is not an object');
  const content = isPlainObject(root['modulesContent']) ? root['modulesContent'] : isPlainObject(root['content']) && isPlainObject(root['content']['modulesContent']) ? root['content']['modulesContent'] : undefined;
  if (content === undefined) problems.push('manifest has no modulesContent');
  const section = (name: string): Record<string, unknown> | undefined => {
    const s = content?.[name];
    return isPlainObject(s) && isPlainObject(s['properties.desired']) ? s['properties.desired'] : undefined;
  };
  const agent = section('$edgeAgent');
  const hub = section('$edgeHub');
  if (hub === undefined) problems.push("modulesContent.$edgeHub['properties.desired'] is missing");
  if (problems.length > 0) throw new EdgeMLError('CONFIG_INVALID', `deployment manifest: ${problems.join('; ')}`, { details: { problems } });
  const agentModules = agent !== undefined && isPlainObject(agent['modules']) ? Object.keys(agent['modules']) : [];
  return {
    edgeHubDesired: hub,
    agentModules,
    moduleDesired: (m) => {
      const d = section(m);
      if (d === undefined) return {};
      const copy = structuredClone(d);
      delete copy['$version'];
      delete copy['$metadata'];
      return copy;
    },
  };
}
