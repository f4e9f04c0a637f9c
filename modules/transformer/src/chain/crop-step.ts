/**
 * A chain's first step after detection: the detector's boxes become crops. Stages (each a plain
 * function in image/ and plan.ts, the same ones whole images use):
 *
 * ```
 * select boxes (plan.ts) ─► read + hash the source ─► decode once, at the size the crops need ─►
 *   per crop: deskew (warpQuad) [+ turn 90° for vertical text] ─► per step profile: resize ─► normalise + .npy (tensor worker) ─► write
 * every file written ─► the plan (`crops`, for the aggregator) ─► the crops' first tensors (`tensors`)
 * ```
 *
 * With an orientation step, each crop's reader tensor is written now and travels with its
 * orientation tensor (`chain.next`): the orientation result says whether to send it as it is or
 * turned 180° (orient-step.ts). Without one, the reader tensors are sent at once.
 */
import {
  MODULE_ENDPOINTS,
  SCHEMAS,
  chainPart,
  preprocessingSignature,
  resolveInside,
  sha256,
  writeFileAtomic,
  type ChainLink,
  type CropsMessage,
  type InferenceResultMessage,
  type PendingTensor,
  type PreprocessingSpec,
  type TensorMessage,
} from '@edgeml/shared';
import { profileSpec, type ChainConfig, type TransformerConfig } from '../config.js';
import { contentChanged } from '../errors.js';
import { rotate90ccw, quadSize, scaleQuad, warpQuad } from '../image/crop.js';
import { geometryOf, orientedSize, planResize } from '../image/geometry.js';
import { decodeImage, probeImage, resizeRaster, type Raster } from '../image/sharp.js';
import type { TensorEncoder } from '../image/tensor-pool.js';
import { timeStage } from '../metrics.js';
import type { Outgoing } from '../outputs.js';
import { readBounded, stagingFile } from '../source.js';
import type { ItemDeps } from '../items/types.js';
import { chainIds, cropTensorName, decodeFactor, selectCrops, type CropJob } from './plan.js';

const OUT = MODULE_ENDPOINTS.transformer.outputs;

interface StepProfile {
  readonly name: string;
  readonly spec: PreprocessingSpec;
  readonly signature: string;
}

function stepProfile(name: string, c: TransformerConfig): StepProfile {
  const profile = c.image.profiles[name];
  // buildTransformerConfig refuses a chain naming a missing profile; reaching this is a bug.
  if (profile === undefined) throw new Error(`chain step profile ${name} is not configured`);
  const spec = profileSpec(profile);
  return { name, spec, signature: preprocessingSignature(spec) };
}

/** Application properties of a crop tensor (those of a whole-image tensor, plus the chain's). */
export function cropTensorProperties(body: TensorMessage, link: ChainLink): Record<string, string> {
  return {
    kind: 'image',
    id: body.id,
    part: body.part,
    profile: body.preprocessing.profile,
    signature: body.preprocessing.signature,
    dtype: body.tensor.dtype,
    layout: body.tensor.layout,
    chain: link.name,
    chainStep: link.step,
    chainIndex: String(link.index),
  };
}

/** Runs the crop step of chain `name` for one detection result: resolves to the crops made; throws to dead-letter the chain part. */
export type CropStep = (msg: InferenceResultMessage, name: string, c: TransformerConfig) => Promise<number>;

export function createCropStep(deps: ItemDeps & { readonly tensors: TensorEncoder }): CropStep {
  const { paths, metrics, outputs, tensors } = deps;
  const timed = <T>(stage: string, fn: () => Promise<T> | T): Promise<T> => timeStage(metrics, stage, fn);

  /** One crop through one step profile: resize, normalise, write. */
  const produce = async (msg: InferenceResultMessage, name: string, run: string, index: number, crop: Raster, step: StepProfile): Promise<PendingTensor> => {
    const plan = planResize(crop.width, crop.height, step.spec);
    const pixels = await timed('resize', () => resizeRaster(crop, plan, step.spec.background));
    const tensor = await timed('normalize', () => tensors.encode(pixels, plan, step.spec));
    const target = stagingFile(paths, msg.id, cropTensorName(name, run, index, step.name, step.signature));
    await timed('write', () => writeFileAtomic(target.abs, tensor.bytes));
    metrics.outputBytes.inc({ output: 'tensor' }, tensor.bytes.length);
    tensors.recycle(tensor);
    return {
      tensor: { path: target.rel, sha256: tensor.sha256, dtype: tensor.dtype, shape: tensor.shape, layout: tensor.layout },
      preprocessing: { profile: step.name, signature: step.signature, spec: step.spec, geometry: geometryOf(plan, crop.width, crop.height, 1) },
      contentWidth: plan.resizeWidth,
    };
  };

  /** The source decoded once, at the size the crops need, and the factor from source pixels to it. */
  const decodeSource = async (msg: InferenceResultMessage, jobs: readonly CropJob[], targetHeight: number, c: TransformerConfig) => {
    const file = await timed('resolve', () => resolveInside(paths.share, msg.source.path, { mustBeFile: true }));
    const bytes = await timed('read', () => readBounded(file, c.image.maxFileSizeBytes, 'image.maxFileSizeBytes'));
    const digest = await timed('hash', () => sha256(bytes));
    if (digest !== msg.id) throw contentChanged(`content changed: the file's SHA-256 is ${digest}, the detection was made for ${msg.id}`);
    const probe = await timed('probe', () => probeImage(bytes, c.image.limitInputPixels));
    const oriented = orientedSize(probe.width, probe.height, probe.orientation);
    const factor = decodeFactor(
      jobs.map((j) => j.crop),
      targetHeight,
    );
    const size = { width: Math.max(1, Math.round(oriented.width * factor)), height: Math.max(1, Math.round(oriented.height * factor)) };
    const resized = size.width !== oriented.width || size.height !== oriented.height;
    const raster = await timed('decode', () => decodeImage(bytes, c.image.limitInputPixels, { grey: probe.grey, ...(resized ? { size } : {}) }));
    return { raster, scaleX: raster.width / oriented.width, scaleY: raster.height / oriented.height };
  };

  return async (msg, name, c) => {
    const configured = c.chains[name];
    // Only an enabled chain is checked against the profiles (buildTransformerConfig).
    const chain: ChainConfig | undefined = configured?.enabled === true ? configured : undefined;
    const createdAt = deps.now().toISOString();
    const orientation = chain === undefined || chain.orientation === '' ? undefined : stepProfile(chain.orientation, c);
    const reader = chain === undefined ? undefined : stepProfile(chain.reader, c);
    const run = chainIds.run(msg.messageId, {
      selection: chain === undefined ? null : { minBoxScore: chain.minBoxScore, minBoxSizePx: chain.minBoxSizePx, maxCrops: chain.maxCrops, verticalRatio: chain.verticalRatio },
      orientation: orientation === undefined ? null : [orientation.name, orientation.signature],
      reader: reader === undefined ? null : [reader.name, reader.signature],
    });
    const base = {
      schema: SCHEMAS.crops,
      id: msg.id,
      messageId: chainIds.plan(msg.id, name, run),
      source: msg.source,
      part: chainPart(name),
      expectedParts: [...msg.expectedParts],
      detection: { part: msg.part, messageId: msg.messageId, model: msg.model },
      createdAt,
    } as const;
    if (chain === undefined || reader === undefined) {
      // The source was planned with this chain (its part is expected) but the chain is no longer
      // configured: an empty result closes the part rather than leaving the source to time out.
      const skipped: CropsMessage = {
        ...base,
        chain: { name, run, orientation: null, reader: configured?.reader ?? 'none' },
        crops: [],
        droppedBoxes: 0,
        skipped: `chain ${name} is ${configured === undefined ? 'not configured' : 'disabled'} on the transformer`,
      };
      await outputs.send({ output: OUT.crops, body: skipped, properties: { id: msg.id, part: skipped.part, chain: name, crops: '0' } });
      return 0;
    }
    const selection = selectCrops(msg.outputs, chain);
    const count = selection.jobs.length;
    const tensorsOut: Outgoing[] = [];
    if (count > 0) {
      const targetHeight = Math.max(reader.spec.height, orientation?.spec.height ?? 0);
      const source = await decodeSource(msg, selection.jobs, targetHeight, c);
      for (const job of selection.jobs) {
        const index = job.crop.index;
        const quad = scaleQuad(job.quad, source.scaleX, source.scaleY);
        let crop = await timed('crop', () => warpQuad(source.raster, quad, quadSize(quad)));
        if (job.crop.rotated90) crop = rotate90ccw(crop);
        const read = await produce(msg, name, run, index, crop, reader);
        const first = orientation === undefined ? read : await produce(msg, name, run, index, crop, orientation);
        const link: ChainLink =
          orientation === undefined ? { name, run, step: 'read', index, count } : { name, run, step: 'orient', index, count, next: read };
        const body: TensorMessage = {
          schema: SCHEMAS.tensor,
          id: msg.id,
          messageId: chainIds.tensor(msg.id, name, run, index, link.step),
          source: msg.source,
          part: chainPart(name),
          expectedParts: [...msg.expectedParts],
          tensor: first.tensor,
          preprocessing: first.preprocessing,
          chain: link,
          createdAt,
        };
        tensorsOut.push({ output: OUT.tensors, body, properties: cropTensorProperties(body, link) });
      }
    }
    const plan: CropsMessage = {
      ...base,
      chain: { name, run, orientation: orientation?.name ?? null, reader: reader.name },
      crops: selection.jobs.map((j) => j.crop),
      droppedBoxes: selection.dropped,
    };
    // The plan first: the aggregator learns how many readings to wait for before the first can arrive.
    await timed('send', () => outputs.sendAll([{ output: OUT.crops, body: plan, properties: { id: msg.id, part: plan.part, chain: name, crops: String(count) } }, ...tensorsOut]));
    return count;
  };
}
