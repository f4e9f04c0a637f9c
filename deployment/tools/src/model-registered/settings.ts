/**
 * The function's settings (app settings of the Function App, or the environment of the script):
 * where the model's artifact is, which devices get it, and how (a rollout or a direct switch).
 *
 * | setting | default | what |
 * |---|---|---|
 * | `EDGEML_REGISTRY_SERVER` | (required) | the registry holding the artifacts (`myacr.azurecr.io`) |
 * | `EDGEML_MODEL_REPOSITORY_PREFIX` | `edgeml/models/` | repository = prefix + model name (lower-cased); tag = model version |
 * | `EDGEML_MODEL_PROFILE` | `cls` | the inferencer profile the model serves (a model tag `edgeml_profile` wins) |
 * | `EDGEML_ROLLOUT_MODE` | `shadow` | `shadow`, `canary` (a rollout beside the live model) or `direct` (models.<profile> switched) |
 * | `EDGEML_ROLLOUT_SETTINGS` | `{}` | JSON merged into the rollout entry (`fraction`, `minItems`, `minAgreement`, …) |
 * | `EDGEML_TARGET_CONDITION` | `tags.edgeml.model = '<model name>'` | IoT Hub query condition selecting the devices |
 * | `EDGEML_TARGET_MODE` | `twins` | `twins` (patch each matching device's module twin) or `layered` (one layered deployment) |
 * | `EDGEML_LAYERED_PRIORITY` | `20` | priority of the layered deployment |
 * | `EDGEML_INFERENCER_MODULE` | `inferencer` | the module id on the devices |
 */
import { EdgeMLError, isRegistryHost } from '@edgeml/shared';

export interface ModelRegisteredSettings {
  readonly registry: string;
  readonly repositoryPrefix: string;
  readonly profile: string;
  readonly rolloutMode: 'shadow' | 'canary' | 'direct';
  readonly rolloutSettings: Readonly<Record<string, unknown>>;
  readonly targetCondition: string | undefined;
  readonly targetMode: 'twins' | 'layered';
  readonly layeredPriority: number;
  readonly moduleId: string;
}

/** @throws EdgeMLError CONFIG_INVALID with every problem */
export function settingsFromEnv(env: Readonly<Record<string, string | undefined>>): ModelRegisteredSettings {
  const problems: string[] = [];
  const registry = env['EDGEML_REGISTRY_SERVER'] ?? '';
  if (!isRegistryHost(registry)) problems.push('EDGEML_REGISTRY_SERVER: a registry host[:port] is required');
  const mode = env['EDGEML_ROLLOUT_MODE'] ?? 'shadow';
  if (mode !== 'shadow' && mode !== 'canary' && mode !== 'direct') problems.push('EDGEML_ROLLOUT_MODE: shadow, canary or direct');
  const targetMode = env['EDGEML_TARGET_MODE'] ?? 'twins';
  if (targetMode !== 'twins' && targetMode !== 'layered') problems.push('EDGEML_TARGET_MODE: twins or layered');
  let rolloutSettings: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(env['EDGEML_ROLLOUT_SETTINGS'] ?? '{}') as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    rolloutSettings = parsed as Record<string, unknown>;
  } catch {
    problems.push('EDGEML_ROLLOUT_SETTINGS: a JSON object');
  }
  const priority = Number(env['EDGEML_LAYERED_PRIORITY'] ?? 20);
  if (!Number.isInteger(priority) || priority < 0) problems.push('EDGEML_LAYERED_PRIORITY: a non-negative integer');
  if (problems.length > 0) throw new EdgeMLError('CONFIG_INVALID', `model-registered settings: ${problems.join('; ')}`, { details: { problems } });
  return {
    registry,
    repositoryPrefix: env['EDGEML_MODEL_REPOSITORY_PREFIX'] ?? 'edgeml/models/',
    profile: env['EDGEML_MODEL_PROFILE'] ?? 'cls',
    rolloutMode: mode as ModelRegisteredSettings['rolloutMode'],
    rolloutSettings,
    targetCondition: env['EDGEML_TARGET_CONDITION'],
    targetMode: targetMode as ModelRegisteredSettings['targetMode'],
    layeredPriority: priority,
    moduleId: env['EDGEML_INFERENCER_MODULE'] ?? 'inferencer',
  };
}
