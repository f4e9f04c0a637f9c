import {
  MODULE_ENDPOINTS,
  SCHEMAS,
  chainPart,
  configHash,
  deterministicMessageId,
  preprocessingSignature,
  sha256,
  writeFileAtomic,
  type FileMessage,
  type PreprocessingSpec,
  type TensorMessage,
} from '@edgeml/shared';
import { profileSpec, type TransformerConfig } from '../config.js';
import { contentChanged } from '../errors.js';
import { fitInside, geometryOf, orientedSize, planResize, workingSize, type ResizePlan } from '../image/geometry.js';
import { decodeImage, encodeRaster, probeImage, resizeRaster, type ImageProbe, type Raster } from '../image/sharp.js';
import type { TensorEncoder } from '../image/tensor-pool.js';
import { timeStage } from '../metrics.js';
import type { Outgoing } from '../outputs.js';
import { readBounded, sourceRef, stagingFile } from '../source.js';
import { artifactOutput } from './artifact.js';
import type { ItemDeps, ItemHandler } from './types.js';

const OUT = MODULE_ENDPOINTS.transformer.outputs;

/** The enabled chains whose detector is an enabled profile, by name. */
function chainsOf(c: TransformerConfig, enabledProfiles: readonly string[]): { name: string; detector: string }[] {
  return Object.entries(c.chains)
    .filter(([, ch]) => ch.enabled && enabledProfiles.includes(ch.detector))
    .map(([name, ch]) => ({ name, detector: ch.detector }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** One tensor profile to produce for a source. */
interface ProfileJob {
  readonly name: string;
  readonly spec: PreprocessingSpec;
  readonly signature: string;
  readonly plan: ResizePlan;
}

/** What every output of one source shares. */
interface SourceImage {
  readonly msg: FileMessage;
  readonly probe: ImageProbe;
  /** Size after EXIF orientation: the geometry's source size. */
  readonly oriented: { readonly width: number; readonly height: number };
  /** The one decode every output is made from. */
  readonly raster: Raster;
  readonly expectedParts: readonly string[];
  readonly createdAt: string;
}

/**
 * Images → one tensor per enabled profile (`result:<profile>`) and the resized image (`artifact`).
 * Stages: read + hash → probe (header only, pixel limit) → decode once, at the largest size an
 * output needs → per profile: resize (sharp) → normalise + `.npy` + hash (tensor worker thread) →
 * write; the artifact: encode → write. Outputs are built concurrently; every file is written before
 * any message is sent.
 */
export function createImageHandler(deps: ItemDeps & { readonly tensors: TensorEncoder }): ItemHandler {
  const { paths, metrics, outputs, logger, tensors } = deps;
  const timed = <T>(stage: string, fn: () => Promise<T> | T): Promise<T> => timeStage(metrics, stage, fn);

  const produceTensor = async (source: SourceImage, job: ProfileJob): Promise<Outgoing> => {
    const { msg } = source;
    const pixels = await timed('resize', () => resizeRaster(source.raster, job.plan, job.spec.background));
    const tensor = await timed('normalize', () => tensors.encode(pixels, job.plan, job.spec));
    const target = stagingFile(paths, msg.id, `${job.name}-${job.signature}.npy`);
    await timed('write', () => writeFileAtomic(target.abs, tensor.bytes));
    metrics.outputBytes.inc({ output: 'tensor' }, tensor.bytes.length);
    tensors.recycle(tensor);
    const part = `result:${job.name}`;
    const body: TensorMessage = {
      schema: SCHEMAS.tensor,
      id: msg.id,
      messageId: deterministicMessageId(msg.id, 'tensor', job.name, job.signature),
      source: sourceRef(msg),
      part,
      expectedParts: [...source.expectedParts],
      tensor: { path: target.rel, sha256: tensor.sha256, dtype: tensor.dtype, shape: tensor.shape, layout: tensor.layout },
      preprocessing: { profile: job.name, signature: job.signature, spec: job.spec, geometry: geometryOf(job.plan, source.oriented.width, source.oriented.height, source.probe.orientation) },
      createdAt: source.createdAt,
    };
    const properties = { kind: 'image', id: msg.id, part, profile: job.name, signature: job.signature, dtype: tensor.dtype, layout: tensor.layout, extension: msg.source.extension };
    return { output: OUT.tensors, body, properties };
  };

  const produceArtifact = async (source: SourceImage, a: TransformerConfig['image']['artifact'], size: { width: number; height: number }): Promise<Outgoing> => {
    const { msg, probe, oriented } = source;
    const encoded = await timed('artifact', () => encodeRaster(source.raster, { format: a.format, width: size.width, height: size.height, jpegQuality: a.jpegQuality }));
    const settingsHash = configHash({ format: a.format, width: encoded.width, height: encoded.height, ...(a.format === 'jpeg' ? { quality: a.jpegQuality } : {}) });
    const target = stagingFile(paths, msg.id, `image-${settingsHash}.${a.format === 'png' ? 'png' : 'jpg'}`);
    await timed('write', () => writeFileAtomic(target.abs, encoded.data));
    metrics.outputBytes.inc({ output: 'artifact' }, encoded.data.length);
    const contentType = a.format === 'png' ? 'image/png' : 'image/jpeg';
    const metadata = {
      width: encoded.width,
      height: encoded.height,
      sourceFormat: probe.format,
      sourceWidth: oriented.width,
      sourceHeight: oriented.height,
      exifOrientation: probe.orientation,
      pages: probe.pages,
      sourceName: msg.source.name,
    };
    return artifactOutput(msg, {
      settingsKey: settingsHash,
      expectedParts: source.expectedParts,
      artifact: { path: target.rel, sha256: sha256(encoded.data), sizeBytes: encoded.data.length, kind: 'image', format: a.format, contentType, metadata },
      createdAt: source.createdAt,
    });
  };

  return async (msg, file, _sizeBytes, c) => {
    const limit = c.image.limitInputPixels;
    const bytes = await timed('read', () => readBounded(file, c.image.maxFileSizeBytes, 'image.maxFileSizeBytes'));
    const digest = await timed('hash', () => sha256(bytes));
    if (digest !== msg.id) throw contentChanged(`content changed: the file's SHA-256 is ${digest}, the message id is ${msg.id}`);
    const probe = await timed('probe', () => probeImage(bytes, limit));
    const oriented = orientedSize(probe.width, probe.height, probe.orientation);
    const enabled = Object.entries(c.image.profiles)
      .filter(([, p]) => p.enabled)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    // A chain is one more part of the source, known now, before any part is acknowledged, so the
    // watcher cannot close the source before the chain's result is uploaded (shared chains.ts).
    const chains = chainsOf(c, enabled.map(([name]) => name));
    const expectedParts = [...(c.image.artifact.enabled ? ['artifact'] : []), ...enabled.map(([name]) => `result:${name}`), ...chains.map((ch) => chainPart(ch.name))];
    // A re-emission names the parts already uploaded: only the missing ones are produced again. A
    // detector's tensor is produced again while a chain it feeds is missing, even if its own result is in.
    const done = new Set(msg.doneParts ?? []);
    if (done.size > 0) logger.debug({ id: msg.id, doneParts: [...done] }, 'parts already uploaded are not produced again');
    const needed = (profile: string): boolean => !done.has(`result:${profile}`) || chains.some((ch) => ch.detector === profile && !done.has(chainPart(ch.name)));
    const jobs: ProfileJob[] = enabled
      .filter(([name]) => needed(name))
      .map(([name, profile]) => {
        const spec = profileSpec(profile);
        return { name, spec, signature: preprocessingSignature(spec), plan: planResize(oriented.width, oriented.height, spec) };
      });
    const a = c.image.artifact;
    const artifactSize = a.enabled && !done.has('artifact') ? fitInside(oriented.width, oriented.height, a.maxWidth, a.maxHeight) : undefined;
    if (jobs.length === 0 && artifactSize === undefined) return;

    const size = workingSize(oriented.width, oriented.height, [...jobs.map((j) => ({ width: j.plan.resizeWidth, height: j.plan.resizeHeight })), ...(artifactSize === undefined ? [] : [artifactSize])]);
    const resized = size.width !== oriented.width || size.height !== oriented.height;
    const raster = await timed('decode', () => decodeImage(bytes, limit, { grey: probe.grey, ...(resized ? { size } : {}) }));
    const source: SourceImage = { msg, probe, oriented, raster, expectedParts, createdAt: deps.now().toISOString() };
    // Wait for every output, even after one fails, so no stage still runs when the item has ended.
    const settled = await Promise.allSettled([...jobs.map((j) => produceTensor(source, j)), ...(artifactSize === undefined ? [] : [produceArtifact(source, a, artifactSize)])]);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const outgoing = settled.map((s) => (s as PromiseFulfilledResult<Outgoing>).value);
    // Every file is written before anything is sent: a failure above dead-letters the whole
    // source and no consumer ever sees half of it.
    await timed('send', () => outputs.sendAll(outgoing));
  };
}
