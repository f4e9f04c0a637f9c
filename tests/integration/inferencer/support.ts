/**
 * Test support for the inferencer: text rendered with sharp, preprocessed exactly as the `cls` and
 * `det` profiles describe (docs/ENGINEERING.md), written as `.npy` tensors with their messages, and
 * a harness that runs the real module definition through runModule with the in-memory edge client.
 * Deliberately independent of the transformer's code (built in parallel).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import {
  SCHEMAS,
  createMemoryEdgeClient,
  preprocessingSignature,
  runModule,
  type ConfigReport,
  type ImageGeometry,
  type MemoryEdgeClient,
  type PreprocessingSpec,
  type RunningModule,
  type TensorMessage,
  writeFileAtomic,
} from '@edgeml/shared';
import { CLS_PROFILE_SPEC, DET_PROFILE_SPEC, encodeNpy, inferencerModule } from '@edgeml/inferencer';

export interface RenderedText {
  readonly rgb: Buffer;
  readonly width: number;
  readonly height: number;
  /** Tight bounds of each word's dark pixels, in image pixels. */
  readonly boxes: { x: number; y: number; width: number; height: number }[];
}

const escapeXml = (s: string): string => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** Renders lines of text (black on white) at given positions; returns raw RGB and the ink bounds of each line. */
export async function renderText(
  width: number,
  height: number,
  lines: readonly { text: string; x: number; y: number; fontSize: number }[],
  options: { rotate180?: boolean; fontFamily?: string } = {},
): Promise<RenderedText> {
  const texts = lines
    .map((l) => `<text x="${l.x}" y="${l.y}" font-family="${options.fontFamily ?? 'DejaVu Sans'}" font-size="${l.fontSize}" fill="black">${escapeXml(l.text)}</text>`)
    .join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="white"/>${texts}</svg>`;
  let img = sharp(Buffer.from(svg)).flatten({ background: '#ffffff' });
  if (options.rotate180 === true) img = img.rotate(180);
  const { data, info } = await img.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  // Ink bounds per line: dark pixels within the band between the line's baseline and a font size above it.
  const boxes = lines.map((l) => {
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    const top = Math.max(0, Math.floor(l.y - l.fontSize * 1.1));
    const bottom = Math.min(info.height, Math.ceil(l.y + l.fontSize * 0.35));
    for (let y = top; y < bottom; y++) {
      for (let x = 0; x < info.width; x++) {
        const i = (y * info.width + x) * 3;
        if ((data[i] ?? 255) < 128) {
          x0 = Math.min(x0, x);
          y0 = Math.min(y0, y);
          x1 = Math.max(x1, x + 1);
          y1 = Math.max(y1, y + 1);
        }
      }
    }
    return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  });
  return { rgb: data, width: info.width, height: info.height, boxes };
}

/** RGB raw → normalised BGR NCHW float32 of `width`×`height` (all channels per the spec). */
function normalise(rgb: Buffer, w: number, h: number, spec: PreprocessingSpec, outW: number, outH: number, offX: number, offY: number): Float32Array {
  const out = new Float32Array(3 * outW * outH);
  const order = spec.colorOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  for (let c = 0; c < 3; c++) {
    const bg = ((spec.background[order[c]!] ?? 0) * spec.scale - spec.mean[c]!) / spec.std[c]!;
    out.fill(bg, c * outW * outH, (c + 1) * outW * outH);
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const src = (y * w + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = rgb[src + order[c]!]!;
        out[c * outW * outH + (y + offY) * outW + (x + offX)] = (v * spec.scale - spec.mean[c]!) / spec.std[c]!;
      }
    }
  }
  return out;
}

/**
 * The `cls` profile (PaddleOCR): scale to height 48 keeping the ratio, width = min(192, ceil(48·w/h)),
 * pad the right side with `background` (0 after normalisation), BGR, (x/255 − 0.5)/0.5, NCHW.
 */
export async function preprocessCls(img: RenderedText, spec: PreprocessingSpec = CLS_PROFILE_SPEC): Promise<{ data: Float32Array; shape: number[] }> {
  const rw = Math.min(spec.width, Math.ceil((spec.height * img.width) / img.height));
  const resized = await sharp(img.rgb, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(rw, spec.height, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  return { data: normalise(resized, rw, spec.height, spec, spec.width, spec.height, 0, 0), shape: [1, 3, spec.height, spec.width] };
}

/** The `det` profile: letterbox (`contain`) into 640×640, centred, black padding; geometry recorded. */
export async function preprocessDet(img: RenderedText, spec: PreprocessingSpec = DET_PROFILE_SPEC): Promise<{ data: Float32Array; shape: number[]; geometry: ImageGeometry }> {
  const scale = Math.min(spec.width / img.width, spec.height / img.height);
  const rw = Math.round(img.width * scale);
  const rh = Math.round(img.height * scale);
  const padLeft = Math.floor((spec.width - rw) / 2);
  const padTop = Math.floor((spec.height - rh) / 2);
  const resized = await sharp(img.rgb, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(rw, rh, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  const geometry: ImageGeometry = {
    sourceWidth: img.width,
    sourceHeight: img.height,
    scaleX: rw / img.width,
    scaleY: rh / img.height,
    padLeft,
    padTop,
    cropLeft: 0,
    cropTop: 0,
    exifOrientation: 1,
  };
  return { data: normalise(resized, rw, rh, spec, spec.width, spec.height, padLeft, padTop), shape: [1, 3, spec.height, spec.width], geometry };
}

export const sha256Hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/**
 * The bytes written for each tensor path, so a test can deliver a tensor again (the module removes a
 * tensor file once used). Files are written as the transformer writes them (`writeFileAtomic`, which
 * creates the per-source directory again when the inferencer's janitor sweeps it away meanwhile).
 */
const written = new Map<string, Buffer>();

/** Writes the tensor file of `msg` again (the module removed it after its result). */
export async function restoreTensor(dataRoot: string, msg: TensorMessage): Promise<void> {
  const bytes = written.get(msg.tensor.path);
  if (bytes === undefined) throw new Error(`no tensor was written at ${msg.tensor.path}`);
  await writeFileAtomic(path.join(dataRoot, msg.tensor.path), bytes);
}

/** `msg` under another content id, with its own copy of the tensor file, as a new source would have. */
export async function tensorCopy(dataRoot: string, msg: TensorMessage, id: string): Promise<TensorMessage> {
  const bytes = written.get(msg.tensor.path);
  if (bytes === undefined) throw new Error(`no tensor was written at ${msg.tensor.path}`);
  const rel = `staging/${id}/${path.posix.basename(msg.tensor.path)}`;
  await writeFileAtomic(path.join(dataRoot, rel), bytes);
  written.set(rel, bytes);
  return { ...msg, id, messageId: id.slice(0, 32), source: { ...msg.source, sha256: id }, tensor: { ...msg.tensor, path: rel } };
}

/** Writes `staging/<id>/<profile>.npy` and returns the tensor message that names it. */
export async function writeTensor(
  dataRoot: string,
  options: {
    profile: 'cls' | 'det' | string;
    data: Float32Array;
    shape: readonly number[];
    spec?: PreprocessingSpec;
    geometry?: ImageGeometry;
    seed?: string;
    signature?: string;
    fileBytes?: (bytes: Buffer) => Buffer;
  },
): Promise<TensorMessage> {
  const spec = options.spec ?? (options.profile === 'det' ? DET_PROFILE_SPEC : CLS_PROFILE_SPEC);
  const npy = encodeNpy({ dtype: 'float32', shape: options.shape, data: options.data });
  const id = sha256Hex(`${options.seed ?? ''}|${sha256Hex(npy)}`);
  const rel = `staging/${id}/${options.profile}.npy`;
  const bytes = options.fileBytes === undefined ? npy : options.fileBytes(npy);
  await writeFileAtomic(path.join(dataRoot, rel), bytes);
  written.set(rel, bytes);
  const part = `result:${options.profile}`;
  return {
    schema: SCHEMAS.tensor,
    id,
    messageId: sha256Hex(`${id}|tensor|${options.profile}`).slice(0, 32),
    source: { path: `inbox/${id.slice(0, 8)}.png`, sha256: id, sizeBytes: 1234, detectedAt: '2026-11-24T12:00:00.000Z' },
    part,
    expectedParts: ['artifact', part],
    tensor: { path: rel, sha256: sha256Hex(npy), dtype: 'float32', shape: [...options.shape], layout: 'NCHW' },
    preprocessing: {
      profile: options.profile,
      signature: options.signature ?? preprocessingSignature(spec),
      spec,
      ...(options.geometry === undefined ? {} : { geometry: options.geometry }),
    },
    createdAt: '2026-11-24T12:00:01.000Z',
  };
}

export interface Harness {
  readonly root: string;
  readonly client: MemoryEdgeClient;
  readonly running: RunningModule;
  /** Applies a twin patch through the real binder and returns its report. */
  patch(properties: Record<string, unknown>): Promise<ConfigReport>;
  results(): Record<string, unknown>[];
  completions(): Record<string, unknown>[];
  alerts(): Record<string, unknown>[];
  close(): Promise<void>;
}

let version = 100;

/** Runs the real inferencer module (runModule + in-memory edge client) on a fresh data root. */
export async function startInferencer(initialDesired: Record<string, unknown> = {}, root?: string, env: Readonly<Record<string, string>> = {}): Promise<Harness> {
  const dataRoot = root ?? (await mkdtemp(path.join(tmpdir(), 'edgeml-inferencer-')));
  const client = createMemoryEdgeClient({ moduleId: 'inferencer', initialDesired });
  const running = await runModule(inferencerModule, {
    env: { EDGEML_DATA_ROOT: dataRoot, EDGEML_METRICS_PORT: '0', EDGEML_LOG_LEVEL: process.env['EDGEML_TEST_LOG_LEVEL'] ?? 'silent', ...env },
    argv: [],
    connect: () => Promise.resolve(client),
    twinWaitMs: 60_000,
  });
  const json = (name: string): Record<string, unknown>[] => client.sentTo(name).map((m) => m.json as Record<string, unknown>);
  return {
    root: dataRoot,
    client,
    running,
    patch: (properties) => running.binder.handle({ kind: 'patch', properties: { ...properties, $version: ++version } }),
    results: () => json('results'),
    completions: () => json('completed'),
    alerts: () => json('alerts'),
    async close() {
      await running.stop('test done');
      if (root === undefined) await rm(dataRoot, { recursive: true, force: true });
    },
  };
}

/** Words for rendered lines: mixed case, digits, punctuation. */
export const SAMPLE_LINES = [
  'Invoice 2024-118',
  'Total due: 1,250.00',
  'The quick brown fox',
  'jumps over the lazy dog',
  'Edge inference test',
  'Serial No. A7-55213',
  'Ship to: Building 4',
  'Temperature 21.5 C',
  'PaddleOCR orientation',
  'Hello, world!',
  'Batch 17 of 32',
  'Quality check passed',
  'Pallet ID 000123',
  'Expiry 2027/03/01',
  'Lot number 88-B',
  'Gate 12 departures',
  'Meeting at 10:30',
  'Warehouse Zone C',
  'Order #55102 shipped',
  'Keep refrigerated',
];

// Tiny ONNX models built in code come from the module (the CUDA probe uses the same builder).
export { identityModel } from '@edgeml/inferencer';
