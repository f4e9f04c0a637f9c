/**
 * Whether a candidate's answer to an item agrees with the live model's. Pure.
 * - both name a label (classifiers): the labels are equal;
 * - otherwise the outputs are equal in structure, strings equal, numbers within 0.1 % (relative) or
 *   1e-6 (absolute) — a retrained detector that finds other boxes disagrees.
 */
import type { PostprocessResult } from '../postprocess/types.js';

const RELATIVE = 1e-3;
const ABSOLUTE = 1e-6;

function close(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || Math.abs(a - b) <= Math.max(ABSOLUTE, RELATIVE * Math.max(Math.abs(a), Math.abs(b)));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => close(x, b[i]));
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && close((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

export function agrees(live: PostprocessResult, candidate: PostprocessResult): boolean {
  if (live.label !== undefined && candidate.label !== undefined) return live.label === candidate.label;
  return close(live.outputs, candidate.outputs);
}
