/**
 * The bundled telemetry anomaly model: written in code (models/anomaly-model.ts), not read from a
 * package. It reads the `anomaly` table profile's windows (shared TELEMETRY_ANOMALY_SPEC: temperature
 * and humidity scaled by their typical level and spread), so its centre is 0 and its scale 1 in those
 * units; a row whose root-mean-square distance exceeds 3 (three typical spreads) is flagged. Retrained
 * models (training/) fit the centre, scale and threshold on uploaded telemetry instead.
 */
import { TELEMETRY_ANOMALY_SPEC, preprocessingSignature } from '@edgeml/shared';
import { BUNDLED_MODEL_NAMES, BUNDLED_MODEL_VERSION } from '../config.js';
import { ANOMALY_MODEL_INPUT, ANOMALY_MODEL_OUTPUT, standardizedDistanceModel, type StandardizedDistanceParams } from './anomaly-model.js';
import { MODEL_MANIFEST_SCHEMA, type ModelManifest } from './manifest.js';

/** A model built in code: its bytes and its manifest. */
export interface GeneratedModel {
  readonly profile: string;
  readonly bytes: Buffer;
  readonly manifest: Omit<ModelManifest, 'sha256'>;
}

/** The manifest of a standardised-distance anomaly model for the telemetry profile. */
export function anomalyManifest(o: { name: string; version: string; description: string; threshold: number; profile?: string }): Omit<ModelManifest, 'sha256'> {
  const columns = TELEMETRY_ANOMALY_SPEC.columns.length;
  return {
    schema: MODEL_MANIFEST_SCHEMA,
    name: o.name,
    version: o.version,
    description: o.description,
    inputs: [{ name: ANOMALY_MODEL_INPUT, dtype: 'float32', shape: [-1, -1, columns] }],
    outputs: [{ name: ANOMALY_MODEL_OUTPUT, dtype: 'float32', shape: [-1, -1] }],
    preprocessing: { profile: o.profile ?? 'anomaly', signature: preprocessingSignature(TELEMETRY_ANOMALY_SPEC), spec: TELEMETRY_ANOMALY_SPEC },
    postprocessor: { kind: 'anomaly', threshold: o.threshold },
    // A window is a few hundred bytes: batching many costs nothing.
    batching: { cpu: { maxBatchSize: 32 }, cuda: { maxBatchSize: 64 } },
  };
}

/** The bundled parameters: the profile's own scaling is the normal spread. */
export const BUNDLED_ANOMALY_PARAMS: StandardizedDistanceParams = { center: [0, 0], scale: [1, 1] };
export const BUNDLED_ANOMALY_THRESHOLD = 3;

/** The bundled telemetry anomaly model. */
export function bundledAnomalyModel(): GeneratedModel {
  return {
    profile: 'anomaly',
    bytes: standardizedDistanceModel(BUNDLED_ANOMALY_PARAMS),
    manifest: anomalyManifest({
      name: BUNDLED_MODEL_NAMES.anomaly,
      version: BUNDLED_MODEL_VERSION,
      description: 'Telemetry anomaly scorer (standardised distance over temperature_c and humidity_pct), written in code',
      threshold: BUNDLED_ANOMALY_THRESHOLD,
    }),
  };
}
