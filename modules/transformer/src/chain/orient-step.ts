/**
 * A chain's orientation step: the crop's orientation result arrives, and the crop's reader tensor
 * (written at crop time, named in `chain.next`) is sent on, turned 180° first when the classifier
 * says the crop is upside down (label `180` with at least `rotateThreshold`, PaddleOCR's
 * `cls_thresh`). Turning works on the tensor file itself (image/tensor-turn.ts): no pixels again.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import {
  EdgeMLError,
  MODULE_ENDPOINTS,
  SCHEMAS,
  errorCode,
  resolveInside,
  sha256,
  writeFileAtomic,
  type ChainLink,
  type InferenceResultMessage,
  type OrientationDecision,
  type PendingTensor,
  type TensorMessage,
} from '@edgeml/shared';
import { DEFAULT_CHAINS, type TransformerConfig } from '../config.js';
import { turnTensorFile180 } from '../image/tensor-turn.js';
import { timeStage } from '../metrics.js';
import type { ItemDeps } from '../items/types.js';
import { readBounded } from '../source.js';
import { cropTensorProperties } from './crop-step.js';
import { chainIds } from './plan.js';

const OUT = MODULE_ENDPOINTS.transformer.outputs;

/** What the orientation result decides for its crop. */
export function orientationOf(outputs: Readonly<Record<string, unknown>>, rotateThreshold: number): OrientationDecision {
  const label = typeof outputs['label'] === 'string' ? outputs['label'] : String(outputs['label'] ?? '');
  const score = typeof outputs['score'] === 'number' && Number.isFinite(outputs['score']) ? outputs['score'] : 0;
  if (label === '') throw new EdgeMLError('INPUT_MALFORMED', "the orientation result has no label (outputs.label): the orientation step's model must be a classifier");
  return { label, score, rotated: label === '180' && score >= rotateThreshold };
}

/** The staging path of a turned tensor: beside the upright one, `-r180` before `.npy`. */
export function turnedPath(rel: string): string {
  return rel.endsWith('.npy') ? `${rel.slice(0, -4)}-r180.npy` : `${rel}-r180`;
}

/** Runs the orientation step for one crop; throws to dead-letter (FILE_NOT_FOUND: the caller defers). */
export type OrientStep = (msg: InferenceResultMessage & { readonly chain: ChainLink & { readonly next: PendingTensor } }, c: TransformerConfig) => Promise<void>;

export function createOrientStep(deps: ItemDeps): OrientStep {
  const { paths, metrics, outputs } = deps;
  const timed = <T>(stage: string, fn: () => Promise<T> | T): Promise<T> => timeStage(metrics, stage, fn);

  /** The turned tensor: written from the upright file, or found written by an earlier copy of this message. */
  const turned = async (next: PendingTensor, maxBytes: number): Promise<{ tensor: PendingTensor['tensor']; upright: string | undefined }> => {
    const rel = turnedPath(next.tensor.path);
    let uprightFile: string;
    try {
      uprightFile = await resolveInside(paths.root, next.tensor.path, { mustBeFile: true });
    } catch (err: unknown) {
      if (errorCode(err) !== 'FILE_NOT_FOUND') throw err;
      // A duplicate of an orientation already handled: the turned file may still wait for the inferencer.
      const turnedFile = await resolveInside(paths.root, rel, { mustBeFile: true });
      const again = await readBounded(turnedFile, maxBytes, 'image.maxFileSizeBytes');
      return { tensor: { ...next.tensor, path: rel, sha256: sha256(again) }, upright: undefined };
    }
    const bytes = await timed('read', () => readBounded(uprightFile, maxBytes, 'image.maxFileSizeBytes'));
    const t = await timed('turn', () => turnTensorFile180(bytes, next.contentWidth));
    await timed('write', () => writeFileAtomic(path.join(path.dirname(uprightFile), path.basename(rel)), t.bytes));
    metrics.outputBytes.inc({ output: 'tensor' }, t.bytes.length);
    return { tensor: { ...next.tensor, path: rel, sha256: t.sha256 }, upright: uprightFile };
  };

  return async (msg, c) => {
    const link = msg.chain;
    const next = link.next;
    const threshold = c.chains[link.name]?.rotateThreshold ?? DEFAULT_CHAINS.ocr.rotateThreshold;
    const orientation: OrientationDecision = { ...orientationOf(msg.outputs, threshold), model: msg.model };
    let tensor = next.tensor;
    let upright: string | undefined;
    if (orientation.rotated) ({ tensor, upright } = await turned(next, c.image.maxFileSizeBytes));
    const readLink: ChainLink = { name: link.name, run: link.run, step: 'read', index: link.index, count: link.count, orientation };
    const body: TensorMessage = {
      schema: SCHEMAS.tensor,
      id: msg.id,
      messageId: chainIds.tensor(msg.id, link.name, link.run, link.index, 'read', orientation.rotated),
      source: msg.source,
      part: msg.part,
      expectedParts: [...msg.expectedParts],
      tensor,
      preprocessing: next.preprocessing,
      chain: readLink,
      createdAt: deps.now().toISOString(),
    };
    await timed('send', () => outputs.send({ output: OUT.tensors, body, properties: cropTensorProperties(body, readLink) }));
    // The upright tensor is nobody's any more once the turned one is on its way.
    if (upright !== undefined) await rm(upright, { force: true });
  };
}
