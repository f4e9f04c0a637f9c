/**
 * The preprocessing the bundled model manifests expect: the shared PaddleOCR specs (the same ones
 * the transformer's default profiles use) and their signatures.
 */
import { PADDLE_CLS_SPEC, PADDLE_DET_SPEC, PADDLE_REC_SPEC, preprocessingSignature, type PreprocessingSpec } from '@edgeml/shared';

export const CLS_PROFILE_SPEC: PreprocessingSpec = PADDLE_CLS_SPEC;
export const DET_PROFILE_SPEC: PreprocessingSpec = PADDLE_DET_SPEC;
export const REC_PROFILE_SPEC: PreprocessingSpec = PADDLE_REC_SPEC;

export const DEFAULT_PROFILES = Object.freeze({
  cls: { spec: CLS_PROFILE_SPEC, signature: preprocessingSignature(CLS_PROFILE_SPEC) },
  det: { spec: DET_PROFILE_SPEC, signature: preprocessingSignature(DET_PROFILE_SPEC) },
  rec: { spec: REC_PROFILE_SPEC, signature: preprocessingSignature(REC_PROFILE_SPEC) },
});
