import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

/** Words rendered into the demo images: the `ocr` chain reads them back. */
const PHRASES = [
  'Invoice 4711',
  'Pallet B-17',
  'Serial 0042-XK',
  'Lot 2026/11',
  'Gate 3 North',
  'Batch 9981',
  'Sensor OK',
  'Line 7 Stop',
  'Dock A12',
  'Order 55123',
  'Rack C-04',
  'Unit 318',
];

/** The text rendered into a sample image, from its name (`sample-07.png` → the 7th phrase), or undefined. */
export function sampleText(name: string): string | undefined {
  const m = /^sample-(\d+)/.exec(name.slice(name.lastIndexOf('/') + 1));
  return m === null ? undefined : PHRASES[(Number(m[1]) - 1) % PHRASES.length];
}

export interface SampleSet {
  readonly images: readonly { name: string; text: string; rotated180: boolean }[];
  readonly tables: readonly string[];
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

/** A white image with one line of black text, as SVG rendered by sharp (librsvg + the system's fonts). */
export async function renderTextImage(text: string, options: { width?: number; height?: number; rotate180?: boolean; format?: 'png' | 'jpeg' } = {}): Promise<Buffer> {
  const width = options.width ?? 360;
  const height = options.height ?? 80;
  const fontSize = Math.round(height * 0.55);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="#ffffff"/><text x="12" y="${Math.round(height * 0.7)}" font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" fill="#111111">${escapeXml(text)}</text></svg>`;
  let img = sharp(Buffer.from(svg)).flatten({ background: '#ffffff' });
  if (options.rotate180 === true) img = img.rotate(180);
  return options.format === 'jpeg' ? img.jpeg({ quality: 92 }).toBuffer() : img.png().toBuffer();
}

/**
 * The planted anomalies of {@link telemetryCsv}: every row whose index is 37 modulo 100 (rows 37,
 * 137, 237, … counted from 0 after the header) reads 24 °C hotter than its neighbours at 93 %
 * humidity, as a failing cooler would. Deterministic, so a test knows where they are.
 */
export function isPlantedAnomaly(row: number): boolean {
  return row % 100 === 37;
}

/**
 * A telemetry CSV: timestamps, ids, floats, booleans and a few missing values; temperature follows a
 * slow sine around 20 °C, humidity a cosine around 45 %, with planted anomalies ({@link isPlantedAnomaly}).
 */
export function telemetryCsv(rows: number): string {
  const lines = ['timestamp,device,temperature_c,humidity_pct,door_open,note'];
  const t0 = Date.UTC(2026, 10, 24, 8, 0, 0);
  for (let i = 0; i < rows; i++) {
    const ts = new Date(t0 + i * 60_000).toISOString();
    const anomaly = isPlantedAnomaly(i);
    const temp = (20 + 5 * Math.sin(i / 10) + (anomaly ? 24 : 0)).toFixed(2);
    const hum = i % 17 === 0 ? '' : anomaly ? '93.0' : (45 + 10 * Math.cos(i / 7)).toFixed(1);
    const door = i % 11 === 0 ? 'true' : 'false';
    const note = i % 23 === 0 ? '"check seal, door 2"' : '';
    lines.push(`${ts},sensor-${(i % 4) + 1},${temp},${hum},${door},${note}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Generates the demo data into `inbox`: rendered-text images (every third one rotated 180°) and a
 * telemetry CSV. Files are written beside the inbox and renamed in, so the watcher never sees a
 * partial file.
 */
export async function generateSamples(inbox: string, options: { images?: number; csvRows?: number } = {}): Promise<SampleSet> {
  const count = Math.min(options.images ?? 12, PHRASES.length * 10);
  const staging = path.join(path.dirname(inbox), '.samples-staging');
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await mkdir(inbox, { recursive: true });
  const images: { name: string; text: string; rotated180: boolean }[] = [];
  for (let i = 0; i < count; i++) {
    const text = PHRASES[i % PHRASES.length] ?? 'Sample';
    const rotated180 = i % 3 === 2;
    const format = i % 4 === 3 ? 'jpeg' : 'png';
    const name = `sample-${String(i + 1).padStart(2, '0')}${rotated180 ? '-rot180' : ''}.${format === 'jpeg' ? 'jpg' : 'png'}`;
    await writeFile(path.join(staging, name), await renderTextImage(text, { rotate180: rotated180, format }));
    images.push({ name, text, rotated180 });
  }
  const tables = ['telemetry.csv'];
  await writeFile(path.join(staging, 'telemetry.csv'), telemetryCsv(options.csvRows ?? 500));
  for (const name of await readdir(staging)) await rename(path.join(staging, name), path.join(inbox, name));
  await rm(staging, { recursive: true, force: true });
  return { images, tables };
}
