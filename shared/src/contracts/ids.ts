import { createHash } from 'node:crypto';
import type { PreprocessingSpec, TablePreprocessingSpec } from './messages.js';

/** JSON with object keys sorted, so equal values always hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** Short stable hash (hex, 16 chars) of any JSON value. */
export function configHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/**
 * The signature of a preprocessing spec: the transformer stamps it on each tensor and a model
 * manifest names the signature it expects, so a tensor prepared differently is refused.
 */
export function preprocessingSignature(spec: PreprocessingSpec | TablePreprocessingSpec): string {
  return `pp1-${configHash(spec)}`;
}

/**
 * Deterministic message id from its parts: a duplicate caused by a retry or a re-emission
 * carries the same id, so consumers can de-duplicate on it.
 */
export function deterministicMessageId(...parts: readonly (string | number)[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}
