import {
  MODULE_ENDPOINTS,
  SCHEMAS,
  configHash,
  deterministicMessageId,
  encodeNpy,
  preprocessingSignature,
  sha256,
  writeFileAtomic,
  type ArtifactMessage,
  type TensorMessage,
} from '@edgeml/shared';
import { profileSpec } from '../config.js';
import { contentChanged } from '../errors.js';
import { fitInside, geometryOf, orientedSize, planResize } from '../image/geometry.js';
import { probeImage, renderArtifactImage, resizeToRgb } from '../image/sharp.js';
import { toTensor } from '../image/tensor.js';
import { timeStage } from '../metrics.js';
import type { Outgoing } from '../outputs.js';
import { readBounded, sourceRef, stagingFile } from '../source.js';
import type { ItemDeps, ItemHandler } from './types.js';

const OUT = MODULE_ENDPOINTS.transformer.outputs;

/** Images → one tensor per enabled profile (`result:<profile>`) and the resized image (`artifact`). */
export function createImageHandler(deps: ItemDeps): ItemHandler {
  const { paths, metrics, outputs, logger } = deps;
  return async (msg, file, _sizeBytes, c) => {
    const limit = c.image.limitInputPixels;
    const timed = <T>(stage: string, fn: () => Promise<T> | T): Promise<T> => timeStage(metrics, stage, fn);
    const bytes = await timed('read', () => readBounded(file, c.image.maxFileSizeBytes, 'image.maxFileSizeBytes'));
    const digest = await timed('hash', () => sha256(bytes));
    if (digest !== msg.id) throw contentChanged(`content changed: the file's SHA-256 is ${digest}, the message id is ${msg.id}`);
    const probe = await timed('probe', () => probeImage(bytes, limit));
    const oriented = orientedSize(probe.width, probe.height, probe.orientation);
    const enabled = Object.entries(c.image.profiles)
      .filter(([, p]) => p.enabled)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const expectedParts = [...(c.image.artifact.enabled ? ['artifact'] : []), ...enabled.map(([name]) => `result:${name}`)];
    // A re-emission names the parts already uploaded: only the missing ones are produced again.
    const done = new Set(msg.doneParts ?? []);
    const profiles = enabled.filter(([name]) => !done.has(`result:${name}`));
    if (done.size > 0) logger.debug({ id: msg.id, doneParts: [...done] }, 'parts already uploaded are not produced again');
    const createdAt = deps.now().toISOString();
    const outgoing: Outgoing[] = [];

    for (const [name, profile] of profiles) {
      const spec = profileSpec(profile);
      const signature = preprocessingSignature(spec);
      const plan = planResize(oriented.width, oriented.height, spec);
      const pixels = await timed('resize', () => resizeToRgb(bytes, limit, plan, spec.background));
      const tensor = await timed('normalize', () => toTensor(pixels, plan, spec));
      const npy = await timed('encode', () => encodeNpy({ dtype: tensor.data instanceof Float32Array ? 'float32' : 'uint8', shape: tensor.shape, data: tensor.data }));
      const target = stagingFile(paths, msg.id, `${name}-${signature}.npy`);
      await timed('write', () => writeFileAtomic(target.abs, npy));
      metrics.outputBytes.inc({ output: 'tensor' }, npy.length);
      const part = `result:${name}`;
      const body: TensorMessage = {
        schema: SCHEMAS.tensor,
        id: msg.id,
        messageId: deterministicMessageId(msg.id, 'tensor', name, signature),
        source: sourceRef(msg),
        part,
        expectedParts,
        tensor: { path: target.rel, sha256: sha256(npy), dtype: tensor.dtype, shape: tensor.shape, layout: tensor.layout },
        preprocessing: { profile: name, signature, spec, geometry: geometryOf(plan, oriented.width, oriented.height, probe.orientation) },
        createdAt,
      };
      outgoing.push({
        output: OUT.tensors,
        body,
        properties: { kind: 'image', id: msg.id, part, profile: name, signature, dtype: tensor.dtype, layout: tensor.layout, extension: msg.source.extension },
      });
    }

    if (c.image.artifact.enabled && !done.has('artifact')) {
      const a = c.image.artifact;
      const size = fitInside(oriented.width, oriented.height, a.maxWidth, a.maxHeight);
      const encoded = await timed('artifact', () => renderArtifactImage(bytes, limit, { format: a.format, width: size.width, height: size.height, jpegQuality: a.jpegQuality }));
      const settings = { format: a.format, width: encoded.width, height: encoded.height, ...(a.format === 'jpeg' ? { quality: a.jpegQuality } : {}) };
      const settingsHash = configHash(settings);
      const target = stagingFile(paths, msg.id, `image-${settingsHash}.${a.format === 'png' ? 'png' : 'jpg'}`);
      await timed('write', () => writeFileAtomic(target.abs, encoded.data));
      metrics.outputBytes.inc({ output: 'artifact' }, encoded.data.length);
      const contentType = a.format === 'png' ? 'image/png' : 'image/jpeg';
      const body: ArtifactMessage = {
        schema: SCHEMAS.artifact,
        id: msg.id,
        messageId: deterministicMessageId(msg.id, 'artifact', settingsHash),
        source: sourceRef(msg),
        part: 'artifact',
        expectedParts,
        artifact: {
          path: target.rel,
          sha256: sha256(encoded.data),
          sizeBytes: encoded.data.length,
          kind: 'image',
          format: a.format,
          contentType,
          metadata: {
            width: encoded.width,
            height: encoded.height,
            sourceFormat: probe.format,
            sourceWidth: oriented.width,
            sourceHeight: oriented.height,
            exifOrientation: probe.orientation,
            pages: probe.pages,
            sourceName: msg.source.name,
          },
        },
        createdAt,
      };
      outgoing.push({
        output: OUT.artifacts,
        body,
        properties: { kind: 'image', id: msg.id, part: 'artifact', format: a.format, contentType, sizeBytes: String(encoded.data.length), extension: msg.source.extension },
      });
    }
    // Every file is written before anything is sent: a failure above dead-letters the whole
    // source and no consumer ever sees half of it.
    await timed('send', () => outputs.sendAll(outgoing));
  };
}
