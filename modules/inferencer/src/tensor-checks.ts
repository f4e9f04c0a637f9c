/**
 * Pure checks between a tensor message, a model's manifest and the session ONNX Runtime opened:
 * does this tensor fit this model, and is this model what its manifest says.
 */
import type { TensorMessage } from '@edgeml/shared';
import type { ModelManifest } from './models/manifest.js';
import type { TensorSignature } from './session/types.js';

/** Bytes per element of the tensor dtypes the suite exchanges. */
export const BYTES_PER_ELEMENT = { float32: 4, uint8: 1 } as const;

/** Bytes of a tensor's data: the product of its shape times the element size. */
export function tensorBytes(tensor: Pick<TensorMessage['tensor'], 'dtype' | 'shape'>): number {
  return tensor.shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[tensor.dtype];
}

/**
 * Item shape of a tensor for a model input of rank `rank`: `[1, ...item]` or `item` alone.
 * Returns the reason as a string when the tensor cannot be one item of that input.
 */
export function itemShapeOf(shape: readonly number[], rank: number): readonly number[] | string {
  if (shape.length === rank) {
    if (shape[0] !== 1) return `shape [${shape.join(',')}] holds ${String(shape[0])} items; one tensor per source is expected (batch dimension 1)`;
    return shape.slice(1);
  }
  if (shape.length === rank - 1) return shape;
  return `shape [${shape.join(',')}] has rank ${shape.length}; the model input has rank ${rank}`;
}

/** Why a tensor does not fit a model, or undefined when it does. */
export function tensorMismatch(message: Pick<TensorMessage, 'preprocessing' | 'tensor'>, manifest: ModelManifest): string | undefined {
  const pp = message.preprocessing;
  if (pp.profile !== manifest.preprocessing.profile) return `tensor profile ${pp.profile} but model ${manifest.name}@${manifest.version} expects ${manifest.preprocessing.profile}`;
  if (pp.signature !== manifest.preprocessing.signature) {
    return `preprocessing signature ${pp.signature} differs from the ${manifest.preprocessing.signature} model ${manifest.name}@${manifest.version} expects (profile ${pp.profile} was prepared differently)`;
  }
  const input = manifest.inputs[0];
  if (input === undefined) return 'model declares no input';
  if (message.tensor.dtype !== input.dtype) return `tensor dtype ${message.tensor.dtype}; the model input ${input.name} is ${input.dtype}`;
  const item = itemShapeOf(message.tensor.shape, input.shape.length);
  if (typeof item === 'string') return item;
  for (let i = 0; i < item.length; i++) {
    const want = input.shape[i + 1] ?? -1;
    if (want !== -1 && want !== item[i]) return `tensor shape [${message.tensor.shape.join(',')}] does not fit the model input [${input.shape.join(',')}] (dimension ${i + 1})`;
  }
  return undefined;
}

/** Why a session does not match its manifest (names, dtypes, ranks, fixed dimensions), or undefined. */
export function signatureMismatch(session: { readonly inputs: readonly TensorSignature[]; readonly outputs: readonly TensorSignature[] }, manifest: ModelManifest): string | undefined {
  const compare = (kind: string, actual: readonly TensorSignature[], declared: readonly TensorSignature[]): string | undefined => {
    if (actual.length !== declared.length) return `model has ${actual.length} ${kind}s, the manifest declares ${declared.length}`;
    for (let i = 0; i < declared.length; i++) {
      const a = actual[i]!;
      const d = declared[i]!;
      const describe = `${kind} ${a.name}: ${a.dtype}[${a.shape.join(',')}], manifest ${d.name}: ${d.dtype}[${d.shape.join(',')}]`;
      if (a.name !== d.name || a.dtype !== d.dtype || a.shape.length !== d.shape.length) return describe;
      for (let j = 0; j < d.shape.length; j++) {
        const x = a.shape[j]!;
        const y = d.shape[j]!;
        if (x !== -1 && y !== -1 && x !== y) return describe;
        if (x !== -1 && y === -1 && j > 0) return describe;
      }
    }
    return undefined;
  };
  return compare('input', session.inputs, manifest.inputs) ?? (manifest.outputs === undefined ? undefined : compare('output', session.outputs, manifest.outputs));
}
