/**
 * The `rollout` twin section: a candidate model put beside the live model of a profile, as a
 * `shadow` (it sees a sample of the traffic; its results are compared, never sent) or a `canary`
 * (it serves a fraction of the traffic; the live model's answer to the same items is computed for
 * the comparison and as a fallback). Thresholds decide promotion or rollback (rollout/evaluator.ts).
 */
import type { ModelEntry } from '../config.js';

export type RolloutMode = 'shadow' | 'canary';

/** Defaults of a rollout entry (the schema repeats them). */
export const ROLLOUT_DEFAULTS = {
  mode: 'shadow',
  fraction: 0.5,
  minItems: 200,
  minAgreement: 0.95,
  maxErrorRate: 0.02,
  maxLatencyRatio: 3,
  maxConsecutiveErrors: 5,
} as const;

/** One profile's rollout, as configured. */
export interface RolloutSpec {
  readonly mode: RolloutMode;
  readonly candidate: ModelEntry;
  /** Share of the profile's items the candidate sees (shadow) or serves (canary), 0 < f ≤ 1. */
  readonly fraction: number;
  /** Items compared before the verdict. */
  readonly minItems: number;
  /** Share of compared items on which the candidate must agree with the live model (same label; same outputs within 0.1 %). */
  readonly minAgreement: number;
  /** Share of the candidate's items allowed to fail. */
  readonly maxErrorRate: number;
  /** Candidate time per item over the live model's, at most. */
  readonly maxLatencyRatio: number;
  /** This many candidate failures in a row roll it back at once (an error spike), before minItems. */
  readonly maxConsecutiveErrors: number;
}

/**
 * The section's JSON Schema, built from the model entry's (config.ts imports this file, so the
 * entry schema is passed in rather than imported back).
 */
export function rolloutSchema<E extends object>(modelEntrySchema: E, profilePattern: string) {
  const entry = {
    type: 'object',
    additionalProperties: false,
    required: ['candidate'],
    properties: {
      mode: { enum: ['shadow', 'canary'], default: ROLLOUT_DEFAULTS.mode },
      candidate: modelEntrySchema,
      fraction: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: ROLLOUT_DEFAULTS.fraction },
      minItems: { type: 'integer', minimum: 1, maximum: 1_000_000, default: ROLLOUT_DEFAULTS.minItems },
      minAgreement: { type: 'number', minimum: 0, maximum: 1, default: ROLLOUT_DEFAULTS.minAgreement },
      maxErrorRate: { type: 'number', minimum: 0, maximum: 1, default: ROLLOUT_DEFAULTS.maxErrorRate },
      maxLatencyRatio: { type: 'number', exclusiveMinimum: 0, maximum: 1000, default: ROLLOUT_DEFAULTS.maxLatencyRatio },
      maxConsecutiveErrors: { type: 'integer', minimum: 1, maximum: 10_000, default: ROLLOUT_DEFAULTS.maxConsecutiveErrors },
    },
  } as const;
  return {
    type: 'object',
    description: 'Staged rollout per profile: { <profile>: { mode: shadow|canary, candidate: <model entry>, fraction, minItems, minAgreement, maxErrorRate, maxLatencyRatio, maxConsecutiveErrors } }; null removes one.',
    maxProperties: 8,
    propertyNames: { pattern: profilePattern },
    additionalProperties: entry,
    default: {},
  } as const;
}

/** Cross-field checks: a rollout needs a live model of that profile to compare with. */
export function rolloutProblems(rollout: Readonly<Record<string, RolloutSpec>>, models: Readonly<Record<string, ModelEntry>>): string[] {
  const problems: string[] = [];
  for (const profile of Object.keys(rollout)) {
    if (models[profile] === undefined) problems.push(`/rollout/${profile}: no model is configured for profile ${profile} (models.${profile}) to roll out against`);
  }
  return problems;
}
