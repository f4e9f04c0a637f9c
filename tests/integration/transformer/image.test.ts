import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { sha256, type ArtifactMessage, type TensorMessage } from '@edgeml/shared';
import { decodeNpy, encodeRgb, normalizeValue, tensorToSource, DEFAULT_PROFILES, profileSpec } from '@edgeml/transformer';
import { dropFile, makeDataRoot, startApp, type Harness } from './harness.js';

/** Reads a tensor file back: header and float32 (or uint8) data. */
async function readTensor(h: Harness, msg: TensorMessage): Promise<{ shape: readonly number[]; data: Float32Array | Uint8Array; bytes: Buffer }> {
  const bytes = await readFile(path.join(h.paths.root, msg.tensor.path));
  const { shape, data } = decodeNpy(bytes);
  return { shape, data, bytes };
}

const tensorsOf = (h: Harness): TensorMessage[] => h.edge.sentTo('tensors').map((m) => m.json as TensorMessage);
const artifactsOf = (h: Harness): ArtifactMessage[] => h.edge.sentTo('artifacts').map((m) => m.json as ArtifactMessage);

// A 4×2 image with known pixels (R,G,B); PNG, so lossless.
const KNOWN = new Uint8Array([
  10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120,
  130, 140, 150, 160, 170, 180, 190, 200, 210, 220, 230, 240,
]);
const pixel = (x: number, y: number): [number, number, number] => {
  const i = (y * 4 + x) * 3;
  return [KNOWN[i]!, KNOWN[i + 1]!, KNOWN[i + 2]!];
};
const identity = (colorOrder: 'RGB' | 'BGR', layout: 'NCHW' | 'NHWC') => ({
  width: 4,
  height: 2,
  resize: 'fill',
  colorOrder,
  layout,
  dtype: 'float32',
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  background: [0, 0, 0],
});

/** These tests turn the detector off, so the bundled OCR chain it feeds is off too. */
const NO_CHAIN = { ocr: { enabled: false } };

describe('transformer/images (real sharp, real files)', function () {
  this.timeout(60_000);
  let root: Awaited<ReturnType<typeof makeDataRoot>>;
  beforeEach(async () => {
    root = await makeDataRoot();
  });
  afterEach(async () => {
    await root.cleanup();
  });

  it('golden: known pixels give exactly the expected normalised values for NCHW/NHWC × RGB/BGR', async () => {
    const h = await startApp(root.paths, {
      chains: NO_CHAIN,
      image: {
        artifact: { enabled: false },
        profiles: {
          cls: { enabled: false },
          det: { enabled: false },
          'nchw-rgb': identity('RGB', 'NCHW'),
          'nchw-bgr': identity('BGR', 'NCHW'),
          'nhwc-rgb': identity('RGB', 'NHWC'),
          'nhwc-bgr': identity('BGR', 'NHWC'),
        },
      },
    });
    const png = await encodeRgb({ data: KNOWN, width: 4, height: 2 }, 'png');
    await h.edge.deliver('files', await dropFile(root.paths, 'known.png', png));
    const byProfile = new Map(tensorsOf(h).map((t) => [t.preprocessing.profile, t]));
    assert.equal(byProfile.size, 4, JSON.stringify(h.logLines()));
    const spec = identity('RGB', 'NCHW') as never;
    const expected = (x: number, y: number, outC: number, order: 'RGB' | 'BGR'): number => {
      const p = pixel(x, y);
      const src = order === 'RGB' ? p[outC]! : p[2 - outC]!;
      return Math.fround(normalizeValue(src, outC, spec));
    };
    const points: [number, number, number][] = [[0, 0, 0], [3, 0, 1], [1, 1, 2], [2, 1, 0], [3, 1, 2]];
    for (const [name, order, layout] of [['nchw-rgb', 'RGB', 'NCHW'], ['nchw-bgr', 'BGR', 'NCHW'], ['nhwc-rgb', 'RGB', 'NHWC'], ['nhwc-bgr', 'BGR', 'NHWC']] as const) {
      const msg = byProfile.get(name)!;
      const t = await readTensor(h, msg);
      assert.deepEqual(t.shape, layout === 'NCHW' ? [1, 3, 2, 4] : [1, 2, 4, 3]);
      assert.deepEqual(msg.tensor.shape, t.shape);
      assert.equal(msg.tensor.sha256, sha256(t.bytes));
      for (const [x, y, c] of points) {
        const index = layout === 'NCHW' ? c * 8 + y * 4 + x : (y * 4 + x) * 3 + c;
        assert.equal(t.data[index], expected(x, y, c, order), `${name} (${x},${y}) channel ${c}`);
      }
    }
    // Spot-check one value by hand: NCHW BGR, channel 0 = blue of (0,0) = 30.
    const bgr = await readTensor(h, byProfile.get('nchw-bgr')!);
    assert.equal(bgr.data[0], Math.fround((30 / 255 - 0.485) / 0.229));
    await h.stop();
  });

  it('cover: centre-crops exactly the planned region (no resampling at scale 1) and records it', async () => {
    const h = await startApp(root.paths, {
      chains: NO_CHAIN,
      image: { artifact: { enabled: false }, profiles: { cls: { enabled: false }, det: { enabled: false }, crop: { ...identity('RGB', 'NHWC'), width: 2, height: 2, resize: 'cover', dtype: 'uint8', scale: 1, mean: [0, 0, 0], std: [1, 1, 1] } } },
    });
    await h.edge.deliver('files', await dropFile(root.paths, 'crop.png', await encodeRgb({ data: KNOWN, width: 4, height: 2 }, 'png')));
    const [msg] = tensorsOf(h);
    assert.ok(msg, JSON.stringify(h.logLines()));
    assert.deepEqual({ padLeft: msg.preprocessing.geometry?.padLeft, cropLeft: msg.preprocessing.geometry?.cropLeft }, { padLeft: -1, cropLeft: 1 });
    const t = await readTensor(h, msg);
    assert.deepEqual([...t.data], [...pixel(1, 0), ...pixel(2, 0), ...pixel(1, 1), ...pixel(2, 1)]);
    assert.deepEqual(tensorToSource(msg.preprocessing.geometry!, 0, 0), { x: 1, y: 0 });
    await h.stop();
  });

  it('grayscale, 16-bit and RGBA inputs become 3-channel 8-bit; transparency is flattened onto the background', async () => {
    const h = await startApp(root.paths, {
      chains: NO_CHAIN,
      image: { artifact: { enabled: false }, profiles: { cls: { enabled: false }, det: { enabled: false }, raw: { width: 2, height: 2, resize: 'fill', colorOrder: 'RGB', layout: 'NHWC', dtype: 'uint8', scale: 1, mean: [0, 0, 0], std: [1, 1, 1], background: [0, 255, 0] } } },
    });
    const gray = await sharp(Buffer.from([0, 50, 100, 200]), { raw: { width: 2, height: 2, channels: 1 } }).png().toBuffer();
    const deep = await sharp(Buffer.from([0, 50, 100, 200]), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace('rgb16').png().toBuffer();
    const rgba = await sharp(Buffer.from([255, 0, 0, 255, 255, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0, 0]), { raw: { width: 2, height: 2, channels: 4 } }).png().toBuffer();
    assert.equal((await sharp(deep).metadata()).depth, 'ushort');
    for (const [name, bytes] of [['gray.png', gray], ['deep.png', deep], ['rgba.png', rgba]] as const) await h.edge.deliver('files', await dropFile(root.paths, name, bytes));
    const tensors = tensorsOf(h);
    assert.equal(tensors.length, 3, JSON.stringify(h.logLines().map((l) => l['msg'])));
    const [g, d, a] = await Promise.all(tensors.map((t) => readTensor(h, t)));
    assert.deepEqual([...g!.data], [0, 0, 0, 50, 50, 50, 100, 100, 100, 200, 200, 200]);
    assert.deepEqual([...d!.data], [...g!.data], '16-bit is reduced to 8-bit');
    assert.deepEqual([...a!.data], [255, 0, 0, 0, 255, 0, 255, 0, 0, 0, 255, 0], 'transparent pixels take the background (green)');
    await h.stop();
  });

  it('EXIF orientation 6 is applied: a 16×8 landscape stored with orientation 6 becomes 8×16 portrait', async () => {
    // Left half red, right half blue; orientation 6 = rotate 90° clockwise to display:
    // red ends up on top, blue at the bottom.
    const w = 16;
    const hgt = 8;
    const data = new Uint8Array(w * hgt * 3);
    for (let y = 0; y < hgt; y++) for (let x = 0; x < w; x++) data.set(x < w / 2 ? [255, 0, 0] : [0, 0, 255], (y * w + x) * 3);
    const jpeg = await encodeRgb({ data, width: w, height: hgt }, 'jpeg', { orientation: 6 });
    assert.equal((await sharp(jpeg).metadata()).orientation, 6);
    const h = await startApp(root.paths, {
      chains: NO_CHAIN,
      image: {
        profiles: {
          cls: { enabled: false },
          det: { enabled: false },
          raw: { width: 8, height: 16, resize: 'fill', colorOrder: 'RGB', layout: 'NHWC', dtype: 'uint8', scale: 1, mean: [0, 0, 0], std: [1, 1, 1], background: [0, 0, 0] },
        },
      },
    });
    await h.edge.deliver('files', await dropFile(root.paths, 'rotated.jpg', jpeg));
    const [msg] = tensorsOf(h);
    assert.ok(msg, JSON.stringify(h.logLines()));
    assert.equal(msg.preprocessing.geometry?.exifOrientation, 6);
    assert.equal(msg.preprocessing.geometry?.sourceWidth, 8);
    assert.equal(msg.preprocessing.geometry?.sourceHeight, 16);
    const t = await readTensor(h, msg);
    const at = (x: number, y: number): number[] => [...t.data.subarray((y * 8 + x) * 3, (y * 8 + x) * 3 + 3)];
    const near = (a: number[], b: number[]): boolean => a.every((v, i) => Math.abs(v - b[i]!) <= 40);
    assert.ok(near(at(4, 2), [255, 0, 0]), `top is red: ${at(4, 2).join(',')}`);
    assert.ok(near(at(4, 13), [0, 0, 255]), `bottom is blue: ${at(4, 13).join(',')}`);
    const [artifact] = artifactsOf(h);
    assert.equal(artifact?.artifact.metadata['width'], 8);
    assert.equal(artifact?.artifact.metadata['height'], 16);
    await h.stop();
  });

  it('det letterbox: scale and padding map tensor corners back to the source corners; the pad is the normalised background', async () => {
    const data = new Uint8Array(200 * 100 * 3).fill(200);
    const png = await encodeRgb({ data, width: 200, height: 100 }, 'png');
    const h = await startApp(root.paths);
    await h.edge.deliver('files', await dropFile(root.paths, 'wide.png', png));
    const det = tensorsOf(h).find((t) => t.preprocessing.profile === 'det')!;
    const g = det.preprocessing.geometry!;
    assert.deepEqual({ scaleX: g.scaleX, scaleY: g.scaleY, padLeft: g.padLeft, padTop: g.padTop }, { scaleX: 3.2, scaleY: 3.2, padLeft: 0, padTop: 160 });
    assert.deepEqual(tensorToSource(g, 0, 160), { x: 0, y: 0 });
    assert.deepEqual(tensorToSource(g, 640, 480), { x: 200, y: 100 });
    const t = await readTensor(h, det);
    assert.deepEqual(t.shape, [1, 3, 640, 640]);
    const spec = profileSpec(DEFAULT_PROFILES.det);
    // Channel 0 is B (BGR): pad row 10 → background 0; image row 300 → 200.
    assert.equal(t.data[10 * 640 + 5], Math.fround(normalizeValue(0, 0, spec)));
    assert.equal(t.data[300 * 640 + 5], Math.fround(normalizeValue(200, 0, spec)));
    assert.equal(t.data[2 * 640 * 640 + 479 * 640 + 639], Math.fround(normalizeValue(200, 2, spec)));
    assert.equal(t.data[2 * 640 * 640 + 480 * 640 + 639], Math.fround(normalizeValue(0, 2, spec)));
    // cls: 200×100 → 96×48 then pad right with 0.
    const cls = tensorsOf(h).find((x) => x.preprocessing.profile === 'cls')!;
    const c = await readTensor(h, cls);
    assert.deepEqual(c.shape, [1, 3, 48, 192]);
    assert.equal(c.data[20 * 192 + 95], Math.fround((200 / 255 - 0.5) / 0.5));
    assert.equal(c.data[20 * 192 + 96], 0);
    await h.stop();
  });

  it('messages: parts, expectedParts, app properties, staging names; redoing rewrites the same bytes and ids', async () => {
    const data = new Uint8Array(300 * 200 * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251;
    const jpeg = await encodeRgb({ data, width: 300, height: 200 }, 'jpeg');
    const h = await startApp(root.paths, { image: { artifact: { format: 'jpeg', maxWidth: 150 } } });
    const msg = await dropFile(root.paths, 'cam1/photo.jpg', jpeg);
    await h.edge.deliver('files', msg);
    const first = h.edge.sent.map((s) => ({ out: s.outputName, id: s.messageId, props: s.properties, json: s.json as TensorMessage | ArtifactMessage }));
    assert.deepEqual(first.map((f) => f.out), ['tensors', 'tensors', 'artifacts']);
    for (const f of first) {
      assert.deepEqual(f.json.expectedParts, ['artifact', 'result:cls', 'result:det', 'chain:ocr']);
      assert.equal(f.props['schema'], f.json.schema);
      assert.equal(f.props['id'], msg.id);
      assert.equal(f.props['kind'], 'image');
      assert.equal(f.id, f.json.messageId);
    }
    const cls = first[0]!.json as TensorMessage;
    assert.equal(cls.part, 'result:cls');
    assert.equal(first[0]!.props['profile'], 'cls');
    assert.equal(first[0]!.props['signature'], cls.preprocessing.signature);
    assert.equal(cls.tensor.path, `staging/${msg.id}/cls-${cls.preprocessing.signature}.npy`);
    const art = first[2]!.json as ArtifactMessage;
    assert.equal(art.part, 'artifact');
    assert.equal(art.artifact.contentType, 'image/jpeg');
    assert.match(art.artifact.path, new RegExp(`^staging/${msg.id}/image-[0-9a-f]{16}\\.jpg$`));
    const artBytes = await readFile(path.join(root.paths.root, art.artifact.path));
    assert.equal(sha256(artBytes), art.artifact.sha256);
    assert.equal(first[2]!.props['sizeBytes'], String(artBytes.length));
    const meta = await sharp(artBytes).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 150, 100]);

    await h.edge.deliver('files', { ...msg, attempt: 2 });
    const second = h.edge.sent.slice(3);
    assert.deepEqual(second.map((s) => s.messageId), first.map((f) => f.id));
    assert.deepEqual(second.map((s) => (s.json as TensorMessage).tensor?.sha256 ?? (s.json as ArtifactMessage).artifact.sha256), [
      cls.tensor.sha256,
      (first[1]!.json as TensorMessage).tensor.sha256,
      art.artifact.sha256,
    ]);

    // Offered again with parts already uploaded: only the missing ones are produced, with the same ids.
    await h.edge.deliver('files', { ...msg, attempt: 3, doneParts: ['artifact', 'result:cls'] });
    const third = h.edge.sent.slice(6);
    assert.deepEqual(third.map((s) => s.messageId), [first[1]!.id], 'only result:det');
    assert.deepEqual((third[0]!.json as TensorMessage).expectedParts, ['artifact', 'result:cls', 'result:det', 'chain:ocr'], 'expectedParts still name every part');
    await h.edge.deliver('files', { ...msg, attempt: 3, doneParts: ['result:cls', 'result:det', 'chain:ocr'] });
    assert.deepEqual(h.edge.sent.slice(7).map((s) => s.messageId), [first[2]!.id], 'only the artifact');
    await h.stop();
  });
});
