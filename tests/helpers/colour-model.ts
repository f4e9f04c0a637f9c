/**
 * A model with other labels than the bundled orientation classifier, for the `cls` profile: the
 * mean of each colour channel of the [N,3,48,192] tensor (BGR, as the profile makes it) as scores,
 * labels `blue`, `green`, `red`. Written as a model package folder for `edgeml model push`.
 */
import path from 'node:path';
import { CLS_PROFILE_SPEC, DEFAULT_PROFILES } from '@edgeml/inferencer';
import { meanColourModel } from './onnx.js';
import { writePackageDir } from './registry.js';

export const COLOUR_LABELS = ['blue', 'green', 'red'] as const;

/** Writes `<dir>/colour-cls-<version>/` (model.onnx + manifest.json); `provenance` goes into the manifest. */
export async function writeColourPackage(dir: string, version: string, provenance?: Record<string, unknown>, options: { negate?: boolean } = {}): Promise<string> {
  return writePackageDir(path.join(dir, `colour-cls-${version}`), meanColourModel(CLS_PROFILE_SPEC.height, CLS_PROFILE_SPEC.width, options), {
    name: 'colour-cls',
    version,
    description: 'mean colour of the text crop (a test model with other labels)',
    inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 3, CLS_PROFILE_SPEC.height, CLS_PROFILE_SPEC.width] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 3] }],
    preprocessing: { profile: 'cls', signature: DEFAULT_PROFILES.cls.signature, spec: CLS_PROFILE_SPEC },
    postprocessor: { kind: 'classification', topK: 3 },
    labels: [...COLOUR_LABELS],
    ...(provenance === undefined ? {} : { provenance }),
  });
}
