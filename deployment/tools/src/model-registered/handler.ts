/**
 * The other side of the loop: a `ModelRegistered` event from Azure Machine Learning becomes a twin
 * change on the devices that should run the model. The artifact is found by convention
 * (`<registry>/<prefix><model name>:<model version>`, what `edgeml model push` in
 * .github/workflows/retrain.yml publishes) and pinned by digest — the model's `oci_digest` tag when
 * the workflow set it, else the tag resolved in the registry — so every device runs the same bytes.
 */
import {
  EdgeMLError,
  createRegistryClient,
  isDigest,
  plainHttpFor,
  registryCredentialsFromEnv,
  type Logger,
} from '@edgeml/shared';
import type { ModelRegistered } from './event.js';
import type { ModelRegisteredSettings } from './settings.js';
import type { TwinTarget } from './targets.js';

export interface ModelRegisteredOutcome {
  readonly model: { readonly name: string; readonly version: string };
  /** `registry/repository@sha256:…`. */
  readonly artifact: string;
  /** The desired-properties patch for the inferencer. */
  readonly patch: Record<string, unknown>;
  readonly devices: readonly string[];
  readonly layeredDeployment?: string;
}

const repositoryName = (prefix: string, model: string): string => `${prefix}${model}`.toLowerCase().replace(/[^a-z0-9._/-]/g, '-');

/** The inferencer twin patch: a rollout entry beside the live model, or a direct switch. */
export function inferencerPatch(s: ModelRegisteredSettings, profile: string, candidate: { name: string; version: string; artifact: string }): Record<string, unknown> {
  if (s.rolloutMode === 'direct') return { models: { [profile]: candidate } };
  return { rollout: { [profile]: { ...s.rolloutSettings, mode: s.rolloutMode, candidate } } };
}

/**
 * Resolves the artifact's digest and patches the matching devices (or one layered deployment).
 * @throws EdgeMLError REGISTRY_* (the artifact is not there yet: Event Grid retries), TWIN_UPDATE_FAILED, UNAUTHORIZED
 */
export async function handleModelRegistered(
  event: ModelRegistered,
  deps: { settings: ModelRegisteredSettings; target: TwinTarget; env: Readonly<Record<string, string | undefined>>; logger: Logger; fetch?: typeof fetch },
): Promise<ModelRegisteredOutcome> {
  const s = deps.settings;
  const repository = repositoryName(s.repositoryPrefix, event.modelName);
  const tag = event.modelVersion.replace(/[^a-zA-Z0-9_.-]/g, '-');
  let digest = event.modelTags['oci_digest'];
  if (digest !== undefined && !isDigest(digest)) throw new EdgeMLError('MESSAGE_INVALID', `the model's oci_digest tag is not sha256:<64 hex>: ${digest}`);
  if (digest === undefined) {
    const client = createRegistryClient({ registry: s.registry, plainHttp: plainHttpFor(s.registry, deps.env), credentials: await registryCredentialsFromEnv(s.registry, deps.env), ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }) });
    digest = (await client.resolve(repository, tag)).digest;
  }
  const artifact = `${s.registry}/${repository}@${digest}`;
  const profile = event.modelTags['edgeml_profile'] ?? s.profile;
  const patch = inferencerPatch(s, profile, { name: event.modelName, version: event.modelVersion, artifact });
  const condition = s.targetCondition ?? `tags.edgeml.model = '${event.modelName.replace(/'/g, "''")}'`;
  if (s.targetMode === 'layered') {
    const id = `edgeml-model-${event.modelName}-${tag}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 128);
    const key = s.rolloutMode === 'direct' ? `properties.desired.models.${profile}` : `properties.desired.rollout.${profile}`;
    const value = s.rolloutMode === 'direct' ? (patch['models'] as Record<string, unknown>)[profile] : (patch['rollout'] as Record<string, unknown>)[profile];
    await deps.target.applyLayeredDeployment({ id, targetCondition: condition, priority: s.layeredPriority, modulesContent: { [s.moduleId]: { [key]: value } }, labels: { model: event.modelName.slice(0, 128), version: tag } });
    deps.logger.info({ model: event.modelName, version: event.modelVersion, artifact, deployment: id }, 'layered deployment written');
    return { model: { name: event.modelName, version: event.modelVersion }, artifact, patch, devices: [], layeredDeployment: id };
  }
  const devices = await deps.target.findDevices(condition);
  for (const device of devices) await deps.target.patchModuleTwin(device, s.moduleId, patch);
  deps.logger.info({ model: event.modelName, version: event.modelVersion, artifact, devices: devices.length }, 'module twins patched');
  return { model: { name: event.modelName, version: event.modelVersion }, artifact, patch, devices };
}
