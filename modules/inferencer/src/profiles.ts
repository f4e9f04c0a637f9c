/**
 * The default preprocessing profiles (docs/ENGINEERING.md "Preprocessing profiles"), as the
 * bundled model manifests expect them. The transformer owns the profiles; these copies only give the
 * bundled manifests their expected signature, and a test keeps them equal to the documented specs.
 */
import { preprocessingSignature, type PreprocessingSpec } from '@edgeml/shared';

export const CLS_PROFILE_SPEC: PreprocessingSpec = Object.freeze({
  width: 192,
  height: 48,
  resize: 'padRight',
  colorOrder: 'BGR',
  layout: 'NCHW',
  dtype: 'float32',
  scale: 1 / 255,
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
  background: [127.5, 127.5, 127.5],
} as const);

export const DET_PROFILE_SPEC: PreprocessingSpec = Object.freeze({
  width: 640,
  height: 640,
  resize: 'contain',
  colorOrder: 'BGR',
  layout: 'NCHW',
  dtype: 'float32',
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  background: [0, 0, 0],
} as const);

export const DEFAULT_PROFILES = Object.freeze({
  cls: { spec: CLS_PROFILE_SPEC, signature: preprocessingSignature(CLS_PROFILE_SPEC) },
  det: { spec: DET_PROFILE_SPEC, signature: preprocessingSignature(DET_PROFILE_SPEC) },
});
