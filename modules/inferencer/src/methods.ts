/** The inferencer's direct methods (`getStatus` is registered by runModule for every module). */
import { jsonMethod, type EdgeClient, type Logger } from '@edgeml/shared';
import { PROFILE_PATTERN } from './config.js';

export const RELOAD_MODEL_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { profile: { type: 'string', pattern: PROFILE_PATTERN } },
} as const;

/**
 * `reloadModel {profile?}`: re-runs the verified swap for one profile (all when absent).
 * 200 with the outcome per profile; 500 MODEL_INVALID when refused (the old model serves); 400 for a bad payload.
 */
export function registerMethods(edge: EdgeClient, logger: Logger, verbs: { reloadModel(profile?: string): Promise<Record<string, unknown>> }): void {
  edge.onMethod('reloadModel', jsonMethod<{ profile?: string }>({ schema: RELOAD_MODEL_SCHEMA, logger, handler: (payload) => verbs.reloadModel(payload.profile) }));
}
