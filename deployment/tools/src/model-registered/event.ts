/**
 * Azure Machine Learning's `Microsoft.MachineLearningServices.ModelRegistered` Event Grid event,
 * in the Event Grid schema or as a CloudEvent: the registered model's name, version, tags and
 * properties. Pure.
 */
import { EdgeMLError } from '@edgeml/shared';

export const MODEL_REGISTERED_TYPE = 'Microsoft.MachineLearningServices.ModelRegistered';

export interface ModelRegistered {
  readonly id: string;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly modelTags: Readonly<Record<string, string>>;
  readonly modelProperties: Readonly<Record<string, string>>;
  /** The workspace (the event's topic / source). */
  readonly workspace: string;
}

const strings = (v: unknown): Record<string, string> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string' || typeof x === 'number').map(([k, x]) => [k, String(x)])) : {};

/**
 * Reads one event (an Event Grid delivery may batch several: pass each).
 * @throws EdgeMLError MESSAGE_INVALID (not a ModelRegistered event, no model name or version)
 */
export function parseModelRegistered(event: unknown): ModelRegistered {
  const e = event as Record<string, unknown> | null;
  if (typeof e !== 'object' || e === null) throw new EdgeMLError('MESSAGE_INVALID', 'the event is not a JSON object');
  const type = e['eventType'] ?? e['type'];
  if (type !== MODEL_REGISTERED_TYPE) throw new EdgeMLError('MESSAGE_INVALID', `the event is ${JSON.stringify(type)}, not ${MODEL_REGISTERED_TYPE}`);
  const data = (e['data'] ?? {}) as Record<string, unknown>;
  const name = data['modelName'];
  const version = data['modelVersion'];
  if (typeof name !== 'string' || name === '' || (typeof version !== 'string' && typeof version !== 'number') || String(version) === '') {
    throw new EdgeMLError('MESSAGE_INVALID', 'the ModelRegistered event names no modelName and modelVersion');
  }
  return {
    id: String(e['id'] ?? ''),
    modelName: name,
    modelVersion: String(version),
    modelTags: strings(data['modelTags']),
    modelProperties: strings(data['modelProperties']),
    workspace: String(e['topic'] ?? e['source'] ?? ''),
  };
}
