/**
 * The manifest a model carries in the store (`<models>/<name>/<version>/manifest.json`): what the
 * model expects (input, preprocessing profile and signature), how its outputs are read
 * (post-processor, labels), and how it batches best on each execution provider.
 */
import { readFile } from 'node:fs/promises';
import { EdgeMLError, errorMessage, type ModelProvenance, type PreprocessingSpec, type TablePreprocessingSpec } from '@edgeml/shared';
import { PROFILE_PATTERN } from '../config.js';
import { postprocessorProblems } from '../postprocess/index.js';
import type { PostprocessorSpec } from '../postprocess/types.js';
import type { ExecutionProviderName, TensorSignature } from '../session/types.js';

export const MODEL_MANIFEST_SCHEMA = 'edgeml.model-manifest/v1';
export const MODEL_FILE = 'model.onnx';
export const MANIFEST_FILE = 'manifest.json';

/** How a model batches on one execution provider (measured: see bench/inferencer.ts). */
export interface BatchingHint {
  /** Largest batch worth running (the twin's `maxBatchSize` caps it). */
  readonly maxBatchSize?: number;
  /** Batch sizes dispatched at once when reachable (Triton's preferred_batch_size), ascending. */
  readonly preferredBatchSizes?: readonly number[];
}

/** What the store knows about a model beyond its bytes. */
export interface ModelManifest {
  readonly schema: typeof MODEL_MANIFEST_SCHEMA;
  readonly name: string;
  readonly version: string;
  /** SHA-256 of model.onnx; verified on every load when present. */
  readonly sha256?: string;
  readonly description?: string;
  /** The model's single input (dynamic dimensions are -1). */
  readonly inputs: readonly TensorSignature[];
  /** When present, the model's outputs must match (a wrong model is refused before it serves). */
  readonly outputs?: readonly TensorSignature[];
  /** The preprocessing profile and signature tensors must carry. */
  readonly preprocessing: { readonly profile: string; readonly signature: string; readonly spec?: PreprocessingSpec | TablePreprocessingSpec };
  readonly postprocessor: PostprocessorSpec;
  readonly labels?: readonly string[];
  /** Batching defaults per execution provider; the twin's model entry overrides them. */
  readonly batching?: Readonly<Partial<Record<ExecutionProviderName, BatchingHint>>>;
  /** Where the model came from: the Azure ML registered model, the dataset it was trained on, the revision. */
  readonly provenance?: ModelProvenance;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function signatureProblems(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 16) return [`${where}: must be a non-empty array (at most 16)`];
  const problems: string[] = [];
  value.forEach((s: unknown, i) => {
    const o = s as Partial<TensorSignature> | null;
    if (typeof o !== 'object' || o === null) {
      problems.push(`${where}/${i}: must be an object`);
      return;
    }
    if (typeof o.name !== 'string' || o.name.length === 0) problems.push(`${where}/${i}/name: must be a non-empty string`);
    if (typeof o.dtype !== 'string') problems.push(`${where}/${i}/dtype: must be a string`);
    if (!Array.isArray(o.shape) || o.shape.length > 8 || !o.shape.every((d) => Number.isInteger(d) && (d === -1 || d > 0))) {
      problems.push(`${where}/${i}/shape: must be up to 8 integers, each positive or -1 (dynamic)`);
    }
  });
  return problems;
}

/** Problems with a list of batch sizes: integers 1–256, strictly ascending. */
export function batchSizeProblems(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.length > 16) return [`${where}: must be an array of at most 16 batch sizes`];
  if (!value.every((v) => Number.isInteger(v) && v >= 1 && v <= 256)) return [`${where}: batch sizes are integers from 1 to 256`];
  for (let i = 1; i < value.length; i++) if ((value[i] as number) <= (value[i - 1] as number)) return [`${where}: must be strictly ascending`];
  return [];
}

function batchingProblems(value: unknown): string[] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return ['/batching: must be an object keyed by execution provider (cpu, cuda)'];
  const problems: string[] = [];
  for (const [provider, hint] of Object.entries(value as Record<string, unknown>)) {
    if (provider !== 'cpu' && provider !== 'cuda') {
      problems.push(`/batching/${provider}: unknown execution provider (cpu, cuda)`);
      continue;
    }
    const h = hint as BatchingHint | null;
    if (typeof h !== 'object' || h === null) {
      problems.push(`/batching/${provider}: must be an object`);
      continue;
    }
    if (h.maxBatchSize !== undefined && !(Number.isInteger(h.maxBatchSize) && h.maxBatchSize >= 1 && h.maxBatchSize <= 256)) problems.push(`/batching/${provider}/maxBatchSize: an integer from 1 to 256`);
    if (h.preferredBatchSizes !== undefined) problems.push(...batchSizeProblems(h.preferredBatchSizes, `/batching/${provider}/preferredBatchSizes`));
  }
  return problems;
}

const PROVENANCE_FIELDS = { azureml: ['modelName', 'modelVersion', 'jobName', 'workspace'], dataset: ['name', 'version', 'uri'] } as const;

function provenanceProblems(value: unknown): string[] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return ['/provenance: must be an object'];
  const problems: string[] = [];
  const text = (v: unknown, where: string): void => {
    if (v !== undefined && (typeof v !== 'string' || v.length === 0 || v.length > 512)) problems.push(`${where}: must be a string of 1–512 characters`);
  };
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'azureml' || key === 'dataset') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        problems.push(`/provenance/${key}: must be an object`);
        continue;
      }
      const allowed: readonly string[] = PROVENANCE_FIELDS[key];
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (!allowed.includes(k)) problems.push(`/provenance/${key}/${k}: unknown (${allowed.join(', ')})`);
        else text(x, `/provenance/${key}/${k}`);
      }
    } else if (key === 'gitRevision' || key === 'source' || key === 'trainedAt') text(v, `/provenance/${key}`);
    else problems.push(`/provenance/${key}: unknown (azureml, dataset, gitRevision, source, trainedAt)`);
  }
  return problems;
}

/** Checks a parsed manifest; returns it typed, or every problem. */
export function validateManifest(value: unknown): { manifest: ModelManifest } | { problems: string[] } {
  const m = value as Partial<ModelManifest> | null;
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return { problems: ['(root): manifest must be a JSON object'] };
  const problems: string[] = [];
  if (m.schema !== MODEL_MANIFEST_SCHEMA) problems.push(`/schema: must be ${MODEL_MANIFEST_SCHEMA}`);
  if (typeof m.name !== 'string' || !NAME_RE.test(m.name)) problems.push('/name: must match ' + NAME_RE.source);
  if (typeof m.version !== 'string' || !NAME_RE.test(m.version)) problems.push('/version: must match ' + NAME_RE.source);
  if (m.sha256 !== undefined && (typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256))) problems.push('/sha256: must be 64 lower-case hex digits');
  problems.push(...signatureProblems(m.inputs, '/inputs'));
  if (Array.isArray(m.inputs) && m.inputs.length !== 1) problems.push('/inputs: exactly one input is supported');
  if (m.outputs !== undefined) problems.push(...signatureProblems(m.outputs, '/outputs'));
  const pp = m.preprocessing;
  if (typeof pp !== 'object' || pp === null) problems.push('/preprocessing: must be an object');
  else {
    if (typeof pp.profile !== 'string' || !new RegExp(PROFILE_PATTERN).test(pp.profile)) problems.push(`/preprocessing/profile: must match ${PROFILE_PATTERN}`);
    if (typeof pp.signature !== 'string' || pp.signature.length === 0 || pp.signature.length > 128) problems.push('/preprocessing/signature: must be a non-empty string');
  }
  problems.push(...postprocessorProblems(m.postprocessor));
  if (m.labels !== undefined && (!Array.isArray(m.labels) || m.labels.length > 100_000 || !m.labels.every((l) => typeof l === 'string'))) {
    problems.push('/labels: must be an array of strings');
  }
  problems.push(...batchingProblems(m.batching));
  problems.push(...provenanceProblems(m.provenance));
  return problems.length > 0 ? { problems } : { manifest: m as ModelManifest };
}

/** Reads and validates a manifest file. @throws EdgeMLError FILE_NOT_FOUND, FILE_UNREADABLE, MODEL_INVALID */
export async function readManifest(file: string): Promise<ModelManifest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'FILE_UNREADABLE';
    throw new EdgeMLError(code, `model manifest ${file} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err: unknown) {
    throw new EdgeMLError('MODEL_INVALID', `model manifest ${file} is not JSON: ${errorMessage(err)}`, { cause: err });
  }
  const r = validateManifest(parsed);
  if ('problems' in r) throw new EdgeMLError('MODEL_INVALID', `model manifest ${file} is invalid: ${r.problems.join('; ')}`, { details: { problems: r.problems } });
  return r.manifest;
}
