/**
 * The pure part of a chain's crop step: which detected boxes become crops and in what order, the
 * size the source is decoded at for them, and the deterministic names and message ids of
 * everything a run produces (shared `chains.ts` says why they must be).
 */
import { EdgeMLError, configHash, deterministicMessageId, type PlannedCrop } from '@edgeml/shared';
import type { ChainConfig } from '../config.js';
import { orderQuad, quadSize, type Quad } from '../image/crop.js';

/** A box as a detector's result gives it (`outputs.boxes[]`): four corners, or only a bounding box. */
interface DetectorBox {
  readonly points?: unknown;
  readonly bbox?: unknown;
  readonly score?: unknown;
}

/** A crop to make: the plan entry plus the ordered quad in source pixels. */
export interface CropJob {
  readonly crop: PlannedCrop;
  readonly quad: Quad;
}

export interface CropSelection {
  readonly jobs: readonly CropJob[];
  /** Boxes not cropped: scored below minBoxScore, smaller than minBoxSizePx, or beyond maxCrops. */
  readonly dropped: number;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

/** The corners of a detector box: `points` when it has four, else the corners of `bbox`. */
function cornersOf(b: DetectorBox): number[][] | undefined {
  if (Array.isArray(b.points) && b.points.length === 4 && b.points.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === 'number' && Number.isFinite(v)))) {
    return b.points as number[][];
  }
  const bb = b.bbox as { x?: unknown; y?: unknown; width?: unknown; height?: unknown } | undefined;
  if (typeof bb?.x === 'number' && typeof bb.y === 'number' && typeof bb.width === 'number' && typeof bb.height === 'number' && bb.width > 0 && bb.height > 0) {
    return [
      [bb.x, bb.y],
      [bb.x + bb.width, bb.y],
      [bb.x + bb.width, bb.y + bb.height],
      [bb.x, bb.y + bb.height],
    ];
  }
  return undefined;
}

/**
 * Reading order, as PaddleOCR's `sorted_boxes` aims for: rows top to bottom (a box whose centre
 * lies within half a line height of the row's first box joins that row), each row left to right.
 * Returns the items in that order with their row number.
 */
export function readingOrder<T extends { readonly bbox: PlannedCrop['bbox'] }>(items: readonly T[]): { item: T; row: number }[] {
  const byY = [...items].sort((a, b) => a.bbox.y + a.bbox.height / 2 - (b.bbox.y + b.bbox.height / 2) || a.bbox.x - b.bbox.x);
  const rows: T[][] = [];
  for (const item of byY) {
    const row = rows[rows.length - 1];
    const first = row?.[0];
    const centre = item.bbox.y + item.bbox.height / 2;
    if (row !== undefined && first !== undefined && Math.abs(centre - (first.bbox.y + first.bbox.height / 2)) <= Math.min(item.bbox.height, first.bbox.height) / 2) row.push(item);
    else rows.push([item]);
  }
  return rows.flatMap((row, r) => row.sort((a, b) => a.bbox.x - b.bbox.x).map((item) => ({ item, row: r })));
}

/**
 * The crops of one detection: each box's corners ordered clockwise, its deskewed size, whether it is
 * turned 90° (vertical text), filtered by score and size, in reading order, at most `maxCrops`.
 * @throws EdgeMLError INPUT_MALFORMED when the detector's result has no `boxes` list
 */
export function selectCrops(outputs: Readonly<Record<string, unknown>>, chain: ChainConfig): CropSelection {
  const boxes = outputs['boxes'];
  if (!Array.isArray(boxes)) throw new EdgeMLError('INPUT_MALFORMED', "the detector's result has no boxes list (outputs.boxes), so nothing can be cropped");
  const candidates: CropJob[] = [];
  let dropped = 0;
  for (const raw of boxes as DetectorBox[]) {
    const corners = typeof raw === 'object' && raw !== null ? cornersOf(raw) : undefined;
    const score = typeof raw?.score === 'number' && Number.isFinite(raw.score) ? raw.score : 1;
    if (corners === undefined || score < chain.minBoxScore) {
      dropped++;
      continue;
    }
    let quad: Quad;
    try {
      quad = orderQuad(corners);
    } catch {
      dropped++; // not four usable corners: counted, not cropped
      continue;
    }
    const size = quadSize(quad);
    if (Math.min(size.width, size.height) < chain.minBoxSizePx) {
      dropped++;
      continue;
    }
    const xs = quad.map((p) => p[0]);
    const ys = quad.map((p) => p[1]);
    const x = Math.min(...xs);
    const y = Math.min(...ys);
    candidates.push({
      quad,
      crop: {
        index: 0,
        row: 0,
        points: quad.map((p) => [round1(p[0]), round1(p[1])] as const),
        bbox: { x: round1(x), y: round1(y), width: round1(Math.max(...xs) - x), height: round1(Math.max(...ys) - y) },
        score: Math.round(score * 1e4) / 1e4,
        width: size.width,
        height: size.height,
        rotated90: size.height / size.width >= chain.verticalRatio,
      },
    });
  }
  const ordered = readingOrder(candidates.map((c) => ({ ...c, bbox: c.crop.bbox })));
  const kept = ordered.slice(0, chain.maxCrops).map(({ item, row }, index) => ({ quad: item.quad, crop: { ...item.crop, index, row } }));
  return { jobs: kept, dropped: dropped + Math.max(0, ordered.length - chain.maxCrops) };
}

/**
 * The factor the source is decoded at so that every crop's text-line side (its height, or its width
 * when it is turned 90°) is at least `targetHeight` where the source allows: the largest factor any
 * crop needs, at most 1. A photo whose lines are 150 pixels tall is decoded at a third of its size.
 */
export function decodeFactor(crops: readonly PlannedCrop[], targetHeight: number): number {
  let factor = 0;
  for (const c of crops) factor = Math.max(factor, targetHeight / Math.max(1, c.rotated90 ? c.width : c.height));
  return crops.length === 0 ? 1 : Math.min(1, factor);
}

/** A short, file-name-safe tag of a run (its message id is already a hex digest). */
export function runTag(run: string): string {
  return /^[0-9a-f]{16,}$/.test(run) ? run.slice(0, 16) : deterministicMessageId(run).slice(0, 16);
}

/** Staging file name of a crop's tensor: chain, run, crop, profile, signature (and `-r180` once turned). */
export function cropTensorName(chain: string, run: string, index: number, profile: string, signature: string, turned = false): string {
  return `${chain}-${runTag(run)}-${String(index).padStart(3, '0')}-${profile}-${signature}${turned ? '-r180' : ''}.npy`;
}

export const chainIds = {
  /**
   * The run of a chain on one detection: the detection result's message id and the chain settings
   * that shape the crops (selection, step profiles and their signatures), so that a run redone with
   * the same settings has the same name, and one cut differently does not mix with it.
   */
  run: (detectionMessageId: string, settings: unknown): string => deterministicMessageId(detectionMessageId, 'chain-run', configHash(settings)),
  plan: (id: string, chain: string, run: string): string => deterministicMessageId(id, 'crops', chain, run),
  tensor: (id: string, chain: string, run: string, index: number, step: string, turned = false): string => deterministicMessageId(id, 'tensor', chain, run, index, step, turned ? 'r180' : ''),
} as const;
