/**
 * Warm-up of a candidate model before it serves: one run at each batch size it will see, the
 * largest first (on a GPU the first run of a shape allocates memory and searches convolution
 * algorithms; warming at batch 1 left that cost to the first full batch). Every item goes through
 * the post-processor and one result is checked against the result contract, so a model whose
 * outputs the post-processor cannot read is refused before it serves.
 */
import { EdgeMLError, SCHEMAS, assertValidMessage, errorMessage, type InferenceResultMessage } from '@edgeml/shared';
import { isItemFailure, type ModelSession, type SessionTensor } from '../session/types.js';
import type { ModelManifest } from './manifest.js';

/** A tensor of zeros in the model's input shape for `batch` items (dynamic dimensions from the profile's spec). */
export function warmupInput(manifest: ModelManifest, batch: number): SessionTensor {
  const input = manifest.inputs[0]!;
  const spec = manifest.preprocessing.spec;
  const dims = input.shape.map((d, i) => {
    if (i === 0) return batch;
    if (d !== -1) return d;
    if (input.shape.length === 4 && spec !== undefined && !('kind' in spec)) {
      const nchw = spec.layout === 'NCHW';
      if (i === 1) return nchw ? 3 : spec.height;
      if (i === 2) return nchw ? spec.height : spec.width;
      if (i === 3) return nchw ? spec.width : 3;
    }
    // A table profile's window: its columns are the last dimension, its rows the one before.
    if (spec !== undefined && 'kind' in spec && i === input.shape.length - 1) return spec.columns.length;
    return 32;
  });
  const count = dims.reduce((a, b) => a * b, 1);
  return input.dtype === 'uint8' ? { dtype: 'uint8', data: new Uint8Array(count), dims } : { dtype: 'float32', data: new Float32Array(count), dims };
}

/** @throws EdgeMLError MODEL_INVALID (the run, a post-processor or the result contract failed) */
export async function warmUp(session: ModelSession, manifest: ModelManifest, batchSizes: readonly number[]): Promise<void> {
  const what = `model ${manifest.name}@${manifest.version}`;
  // Every replica runs each size once: a replica's first run at a size is the slow one.
  const runs = batchSizes.flatMap((batch) => Array.from({ length: session.replicas }, (_, replica) => ({ batch, replica })));
  for (const { batch, replica } of runs) {
    let response;
    try {
      response = await session.runBatch(
        {
        inputName: manifest.inputs[0]!.name,
        input: warmupInput(manifest, batch),
        postprocessor: manifest.postprocessor,
        labels: manifest.labels ?? [],
        geometries: new Array<undefined>(batch).fill(undefined),
        },
        replica,
      );
    } catch (err: unknown) {
      throw new EdgeMLError('MODEL_INVALID', `${what} failed its warm-up run at batch ${batch}: ${errorMessage(err)}`, { cause: err });
    }
    const first = response.items[0];
    if (first === undefined || response.items.length !== batch) throw new EdgeMLError('MODEL_INVALID', `${what} returned ${response.items.length} results for a warm-up batch of ${batch}`);
    const failed = response.items.find(isItemFailure);
    if (failed !== undefined) throw new EdgeMLError('MODEL_INVALID', `${what} failed its warm-up post-processing: ${failed.message}`);
    if (isItemFailure(first)) continue;
    // The result contract, checked once per model instead of once per item.
    const zero = '0'.repeat(64);
    const sample: InferenceResultMessage = {
      schema: SCHEMAS.result,
      id: zero,
      messageId: 'warm-up',
      source: { path: 'warm-up', sha256: zero, sizeBytes: 0, detectedAt: new Date(0).toISOString() },
      part: `result:${manifest.preprocessing.profile}`,
      expectedParts: [`result:${manifest.preprocessing.profile}`],
      model: { name: manifest.name, version: manifest.version, sha256: manifest.sha256 ?? zero },
      runtime: { provider: session.provider, batchSize: batch, queueMs: 0, inferMs: response.inferMs },
      outputs: first.outputs,
      createdAt: new Date(0).toISOString(),
    };
    try {
      assertValidMessage(sample);
    } catch (err: unknown) {
      throw new EdgeMLError('MODEL_INVALID', `${what}: its post-processor's output does not fit the result contract: ${errorMessage(err)}`, { cause: err });
    }
  }
}
