/**
 * Vector tensors ([1, n] float32 `.npy` in staging, with their `edgeml.tensor/v1` messages) for
 * tests of models built in code (profile names and signatures of the test's choosing).
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CLS_PROFILE_SPEC, encodeNpy } from '@edgeml/inferencer';
import { SCHEMAS, type TensorMessage } from '@edgeml/shared';

const sha = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** Writes `staging/<id>/<profile>.npy` holding `values` and returns its message; `seed` makes the id. */
export async function vectorTensor(root: string, profile: string, values: readonly number[], seed: string, signature = `pp1-${profile}-test`): Promise<TensorMessage> {
  const npy = encodeNpy({ dtype: 'float32', shape: [1, values.length], data: Float32Array.from(values) });
  const id = sha(`${profile}|${seed}`);
  const rel = `staging/${id}/${profile}.npy`;
  await mkdir(path.join(root, 'staging', id), { recursive: true });
  await writeFile(path.join(root, rel), npy);
  return {
    schema: SCHEMAS.tensor,
    id,
    messageId: id.slice(0, 32),
    source: { path: `inbox/${seed}.csv`, sha256: id, sizeBytes: 10, detectedAt: '2026-11-24T12:00:00.000Z' },
    part: `result:${profile}`,
    expectedParts: [`result:${profile}`],
    tensor: { path: rel, sha256: sha(npy), dtype: 'float32', shape: [1, values.length], layout: 'NC' },
    preprocessing: { profile, signature, spec: CLS_PROFILE_SPEC },
    createdAt: '2026-11-24T12:00:01.000Z',
  };
}

/** A model manifest (edgeml.model-manifest/v1) for a [N, 4] classifier of the `vec` profile. */
export function vecManifest(name: string, version: string, labels: readonly string[] = ['a', 'b', 'c', 'd'], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema: 'edgeml.model-manifest/v1',
    name,
    version,
    inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 4] }],
    preprocessing: { profile: 'vec', signature: 'pp1-vec-test' },
    postprocessor: { kind: 'classification', topK: 2 },
    labels,
    ...extra,
  };
}
